//! Kubernetes resource quantities (`500m`, `2`, `32Gi`, `1e3`): the grammar of
//! `k8s.io/apimachinery/pkg/api/resource`, without a sign (requests are never
//! negative), narrowed to what makes sense for CPU ([`Cpu`]) and for memory
//! ([`Memory`]).

use super::{ValueError, quoted, regex, string_value};

/// Number, then an optional binary suffix, decimal suffix or exponent.
const QUANTITY: &str =
    r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$";
/// A quantity without a binary (memory) suffix.
const CPU: &str = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|n|u|m|k|M|G|T|P|E)?$";
/// A quantity without a fractional (`m`, `u`, `n`) suffix: bytes come whole.
const MEMORY: &str =
    r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

/// Bytes in a mebibyte: the least memory a pod may request.
const MEBIBYTE: f64 = 1024.0 * 1024.0;

string_value!(
    /// CPU as a Kubernetes quantity: cores (`2`, `0.5`) or millicores
    /// (`500m`), at least one millicore. A memory suffix (`Gi`) is refused.
    Cpu,
    check = check_cpu,
    pattern = Some(CPU),
    max = 64,
    desc = "CPU in cores or millicores, such as `2`, `0.5` or `500m` (at least `1m`)."
);
string_value!(
    /// Memory as a Kubernetes quantity: bytes with a binary (`512Mi`, `32Gi`)
    /// or decimal (`500M`) suffix, at least 1Mi. The fractional suffixes `m`,
    /// `u` and `n` are refused: `512m` would be half a byte.
    Memory,
    check = check_memory,
    pattern = Some(MEMORY),
    max = 64,
    desc = "Memory in bytes with a suffix, such as `512Mi` or `32Gi` (at least `1Mi`)."
);

/// The kind of suffix a quantity carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    /// No suffix: a plain number.
    None,
    /// `Ki`, `Mi`, … (powers of 1024).
    Binary,
    /// `m`, `k`, `M`, … (powers of 1000), or an exponent.
    Decimal,
}

/// Splits a quantity into its number and its suffix.
fn split(s: &str) -> (&str, &str) {
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(at)
}

fn suffix(s: &str) -> Suffix {
    match split(s).1 {
        "" => Suffix::None,
        x if x.ends_with('i') => Suffix::Binary,
        _ => Suffix::Decimal,
    }
}

/// The value of a well-formed quantity in base units (cores, bytes).
fn base_units(s: &str) -> f64 {
    let (num, suffix) = split(s);
    let n: f64 = num.parse().unwrap_or(0.0);
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp => exp[1..].parse::<i32>().map_or(1.0, |e| 10f64.powi(e)),
    };
    n * scale
}

fn check_cpu(s: &str) -> Result<(), ValueError> {
    check_quantity(s)?;
    if suffix(s) == Suffix::Binary {
        return Err(ValueError::new(
            format!("CPU {} has a memory suffix", quoted(s)),
            "write CPU in cores (`2`) or millicores (`500m`)",
        ));
    }
    if base_units(s) < 0.001 {
        return Err(ValueError::new(
            format!("CPU {} is less than one millicore", quoted(s)),
            "request at least `1m`; leave `cpu` out for the cluster's default",
        ));
    }
    Ok(())
}

fn check_memory(s: &str) -> Result<(), ValueError> {
    check_quantity(s)?;
    let (num, unit) = split(s);
    let fraction = match unit {
        "m" => Some("milli"),
        "u" => Some("micro"),
        "n" => Some("nano"),
        _ => None,
    };
    if let Some(name) = fraction {
        return Err(ValueError::new(
            format!("memory {} means {} bytes", quoted(s), base_units(s)),
            format!("`{unit}` is {name}; did you mean `{num}Mi`?"),
        ));
    }
    if base_units(s) < MEBIBYTE {
        return Err(ValueError::new(
            format!("memory {} is less than 1Mi", quoted(s)),
            "write memory with a suffix: `512Mi`, `2Gi`",
        ));
    }
    Ok(())
}

fn check_quantity(s: &str) -> Result<(), ValueError> {
    if regex!(QUANTITY).is_match(s) {
        return Ok(());
    }
    let t = s.trim();
    let help = if t.starts_with('-') {
        "resource quantities cannot be negative".to_owned()
    } else if t != s || s.contains(' ') {
        format!("remove the spaces: `{}`", s.replace(' ', ""))
    } else if let Some(fixed) = fix_case(s) {
        format!("suffixes are case-sensitive: did you mean `{fixed}`?")
    } else {
        "write a number with an optional suffix: `500m`, `2`, `512Mi`, `32Gi`".to_owned()
    };
    Err(ValueError::new(
        format!("{} is not a Kubernetes quantity", quoted(s)),
        help,
    ))
}

/// `512MB` → `512M`, `2gi` → `2Gi`, `1GiB` → `1Gi`.
fn fix_case(s: &str) -> Option<String> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, suffix) = s.split_at(split);
    let suffix = suffix.strip_suffix(['B', 'b']).unwrap_or(suffix);
    let fixed = match suffix.to_ascii_lowercase().as_str() {
        "ki" => "Ki",
        "mi" => "Mi",
        "gi" => "Gi",
        "ti" => "Ti",
        "k" => "k",
        "mb" | "m" if suffix != "m" => "M",
        "g" => "G",
        "t" => "T",
        _ => return None,
    };
    let out = format!("{num}{fixed}");
    regex!(QUANTITY).is_match(&out).then_some(out)
}

/// The value of any quantity in base units (cores, bytes), or `None` when
/// `text` is not a quantity. Two spellings of one amount (`0.5` and `500m`,
/// `1Gi` and `1073741824`) give the same value.
pub fn quantity_value(text: &str) -> Option<f64> {
    regex!(QUANTITY).is_match(text).then(|| base_units(text))
}

impl Cpu {
    /// The value in cores.
    pub fn cores(&self) -> f64 {
        base_units(self.as_str())
    }
}

impl Memory {
    /// The value in bytes.
    pub fn bytes(&self) -> f64 {
        base_units(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_of_kubernetes_quantities() {
        for ok in [
            "1", "500m", "0.5", ".5", "2Gi", "512Mi", "1e3", "1E-3", "100k", "3E",
        ] {
            assert!(check_quantity(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-1", "1.2.3", "Gi", "2 Gi", "2GB", "2gi", "1e", "m"] {
            assert!(check_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_at_case_mistakes() {
        let err = "32GB".parse::<Memory>().unwrap_err();
        assert_eq!(err.help, "suffixes are case-sensitive: did you mean `32G`?");
        let err = "2gi".parse::<Memory>().unwrap_err();
        assert_eq!(err.help, "suffixes are case-sensitive: did you mean `2Gi`?");
        let err = "eight".parse::<Cpu>().unwrap_err();
        assert_eq!(err.message, "`eight` is not a Kubernetes quantity");
    }

    #[test]
    fn cpu_in_cores_and_millicores() {
        for ok in ["1", "500m", "0.5", ".5", "1e3", "100k", "1m", "1000u"] {
            assert!(ok.parse::<Cpu>().is_ok(), "{ok}");
        }
        assert_eq!("500m".parse::<Cpu>().unwrap().cores(), 0.5);
        assert_eq!("1e3".parse::<Cpu>().unwrap().cores(), 1000.0);
        let err = "2Gi".parse::<Cpu>().unwrap_err();
        assert_eq!(err.message, "CPU `2Gi` has a memory suffix");
        assert_eq!(err.help, "write CPU in cores (`2`) or millicores (`500m`)");
        for small in ["0", "0.0001", "999u", "5n"] {
            let err = small.parse::<Cpu>().unwrap_err();
            assert_eq!(
                err.message,
                format!("CPU `{small}` is less than one millicore")
            );
        }
    }

    #[test]
    fn memory_in_bytes() {
        for ok in ["512Mi", "2Gi", "1Mi", "1048576", "500M", "1e9", "1Ti"] {
            assert!(ok.parse::<Memory>().is_ok(), "{ok}");
        }
        assert_eq!(
            "2Ki".parse::<Memory>().unwrap_err().message,
            "memory `2Ki` is less than 1Mi"
        );
        assert_eq!(
            "2Gi".parse::<Memory>().unwrap().bytes(),
            2.0 * 1024f64.powi(3)
        );
        let err = "256m".parse::<Memory>().unwrap_err();
        assert_eq!(err.message, "memory `256m` means 0.256 bytes");
        assert_eq!(err.help, "`m` is milli; did you mean `256Mi`?");
        let err = "5u".parse::<Memory>().unwrap_err();
        assert_eq!(err.help, "`u` is micro; did you mean `5Mi`?");
        let err = "1000".parse::<Memory>().unwrap_err();
        assert_eq!(err.message, "memory `1000` is less than 1Mi");
        assert_eq!(err.help, "write memory with a suffix: `512Mi`, `2Gi`");
    }

    #[test]
    fn schemas_carry_the_suffixes_each_accepts() {
        let cpu = crate::values::tests::schema_of::<Cpu>();
        let cpu = jsonschema::validator_for(&cpu).unwrap();
        assert!(cpu.is_valid(&serde_json::json!("500m")));
        assert!(!cpu.is_valid(&serde_json::json!("2Gi")));
        let memory = crate::values::tests::schema_of::<Memory>();
        let memory = jsonschema::validator_for(&memory).unwrap();
        assert!(memory.is_valid(&serde_json::json!("512Mi")));
        assert!(!memory.is_valid(&serde_json::json!("512m")));
    }
}
