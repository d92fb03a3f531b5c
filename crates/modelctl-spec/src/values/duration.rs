//! Durations written as a whole number and a unit: `2ms`, `30s`, `15m`,
//! `12h`, `2d`. [`parse_duration`] is the grammar, for the spec's values
//! and for the command-line flags of every binary in the workspace.

use super::{ValueError, quoted, regex, string_value};

const DURATION: &str = r"^[0-9]+(ms|s|m|h|d)$";

string_value!(
    /// A duration: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`),
    /// e.g. `12h`, `2ms`. Must be greater than zero.
    Duration,
    check = check_duration,
    pattern = Some(r"^[0-9]*[1-9][0-9]*(ms|s|m|h|d)$"),
    max = 32,
    desc = "A duration: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`), e.g. `12h`, `2ms`."
);

/// Splits `12h` into (12, "h"); `None` when the number does not fit or the
/// text is not a duration.
fn split(s: &str) -> Option<(u64, &str)> {
    if !regex!(DURATION).is_match(s) {
        return None;
    }
    let at = s.find(|c: char| !c.is_ascii_digit())?;
    let n = s[..at].parse().ok()?;
    Some((n, &s[at..]))
}

fn millis(n: u64, unit: &str) -> Option<u64> {
    let factor: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => 86_400_000,
    };
    n.checked_mul(factor)
}

/// Parses a duration in the spec's grammar, a whole number and a unit
/// (`ms`, `s`, `m`, `h`, `d`), with the spec's messages. Zero is allowed
/// here (`--drain 0s` turns a wait off); the spec's [`Duration`] refuses it.
///
/// This is the one duration grammar of the workspace: the spec's values,
/// model-server's flags and modelctl's own flags all read durations with it.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, ValueError> {
    let Some((n, unit)) = split(s) else {
        return Err(ValueError::new(
            format!("{} is not a duration", quoted(s)),
            duration_hint(s),
        ));
    };
    millis(n, unit)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| {
            ValueError::new(
                format!("{} is too long", quoted(s)),
                "use a duration below 500 million years",
            )
        })
}

fn check_duration(s: &str) -> Result<(), ValueError> {
    if parse_duration(s)?.is_zero() {
        return Err(ValueError::new(
            format!("{} is zero", quoted(s)),
            "a duration must be greater than zero",
        ));
    }
    Ok(())
}

fn duration_hint(s: &str) -> String {
    let t = s.trim().replace(' ', "");
    let at = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(at);
    let unit = match unit {
        "sec" | "secs" | "second" | "seconds" => Some("s"),
        "min" | "mins" | "minute" | "minutes" => Some("m"),
        "hr" | "hrs" | "hour" | "hours" => Some("h"),
        "day" | "days" => Some("d"),
        "msec" | "millis" | "milliseconds" => Some("ms"),
        "" if !num.is_empty() => None,
        _ => None,
    };
    match unit {
        Some(u) if !num.is_empty() => format!("write `{num}{u}`"),
        _ if at == t.len() && !num.is_empty() => {
            format!("add a unit: `{num}s`, `{num}m`, `{num}h`")
        }
        _ => "write a whole number and one of the units `ms`, `s`, `m`, `h`, `d`: `30s`, `12h`"
            .to_owned(),
    }
}

impl Duration {
    /// The duration as a `std::time::Duration`.
    pub fn as_std(&self) -> std::time::Duration {
        // The text passed `check_duration`, so it parses.
        parse_duration(self.as_str()).unwrap_or_default()
    }
}

/// Longest `serve.batching.max-delay`, in milliseconds.
pub const MAX_BATCH_DELAY_MS: u64 = 10_000;

/// How long a request waits for others to join its batch: a [`Duration`] of
/// at most 10s.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BatchDelay(Duration);

impl BatchDelay {
    /// The delay as a `std::time::Duration`.
    pub fn as_std(&self) -> std::time::Duration {
        self.0.as_std()
    }
}

impl TryFrom<String> for BatchDelay {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        let d = Duration::try_from(s)?;
        if d.as_std().as_millis() > u128::from(MAX_BATCH_DELAY_MS) {
            return Err(ValueError::new(
                format!("`max-delay` {d} is longer than 10s"),
                "a request waits this long for others; use milliseconds (`2ms`)",
            ));
        }
        Ok(Self(d))
    }
}

impl std::str::FromStr for BatchDelay {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::try_from(s.to_owned())
    }
}

impl From<BatchDelay> for String {
    fn from(d: BatchDelay) -> String {
        d.0.into()
    }
}

impl std::fmt::Display for BatchDelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl schemars::JsonSchema for BatchDelay {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchDelay".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = Duration::json_schema(generator);
        schema.insert(
            "description".to_owned(),
            "A duration of at most `10s`, e.g. `2ms`.".into(),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let d = |s: &str| s.parse::<Duration>().unwrap().as_std().as_millis();
        assert_eq!(d("2ms"), 2);
        assert_eq!(d("30s"), 30_000);
        assert_eq!(d("15m"), 900_000);
        assert_eq!(d("12h"), 43_200_000);
        assert_eq!(d("2d"), 172_800_000);
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [
            "",
            "12",
            "h",
            "1.5h",
            "12 h",
            "12H",
            "0s",
            "-1s",
            "1w",
            "99999999999999999d",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_parse_with_the_same_grammar_and_may_be_zero() {
        assert_eq!(parse_duration("0s"), Ok(std::time::Duration::ZERO));
        assert_eq!(
            parse_duration("2ms"),
            Ok(std::time::Duration::from_millis(2))
        );
        assert_eq!(
            parse_duration("15m"),
            Ok(std::time::Duration::from_secs(900))
        );
        let e = parse_duration("30").unwrap_err();
        assert_eq!(e.message, "`30` is not a duration");
        assert_eq!(e.help, "add a unit: `30s`, `30m`, `30h`");
        let e = parse_duration("99999999999999999d").unwrap_err();
        assert_eq!(e.message, "`99999999999999999d` is too long");
        assert_eq!(
            "0s".parse::<Duration>().unwrap_err().message,
            "`0s` is zero"
        );
    }

    #[test]
    fn batch_delays_are_at_most_ten_seconds() {
        assert_eq!(
            "10s".parse::<BatchDelay>().unwrap().as_std().as_millis(),
            10_000
        );
        let e = "11s".parse::<BatchDelay>().unwrap_err();
        assert_eq!(e.message, "`max-delay` 11s is longer than 10s");
        assert!("2x".parse::<BatchDelay>().is_err());
    }

    #[test]
    fn hints_at_the_fix() {
        assert_eq!(
            "30".parse::<Duration>().unwrap_err().help,
            "add a unit: `30s`, `30m`, `30h`"
        );
        assert_eq!(
            "2 hours".parse::<Duration>().unwrap_err().help,
            "write `2h`"
        );
        assert_eq!(
            "0ms".parse::<Duration>().unwrap_err().help,
            "a duration must be greater than zero"
        );
    }
}
