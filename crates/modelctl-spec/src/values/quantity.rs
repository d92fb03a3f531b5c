//! Kubernetes resource quantities (`500m`, `2`, `32Gi`, `1e3`): the grammar of
//! `k8s.io/apimachinery/pkg/api/resource`, without a sign (requests are never
//! negative).

use super::{ValueError, quoted, regex, string_value};

/// Number, then an optional binary suffix, decimal suffix or exponent.
const QUANTITY: &str =
    r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$";

string_value!(
    /// A Kubernetes quantity: a number with an optional suffix — binary
    /// (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), decimal (`n`, `u`, `m`, `k`, `M`,
    /// `G`, `T`, `P`, `E`) or an exponent (`1e3`). CPU `"500m"` is half a core;
    /// memory `"512Mi"` is 512 mebibytes.
    Quantity,
    check = check_quantity,
    pattern = Some(QUANTITY),
    max = 64,
    desc = "A Kubernetes quantity such as `500m`, `2`, `512Mi` or `32Gi`."
);

/// The kind of suffix a quantity carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantitySuffix {
    /// No suffix: a plain number.
    None,
    /// `Ki`, `Mi`, … (powers of 1024).
    Binary,
    /// `m`, `k`, `M`, … (powers of 1000), or an exponent.
    Decimal,
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

impl Quantity {
    /// The suffix kind, used to tell CPU-like from memory-like values.
    pub fn suffix(&self) -> QuantitySuffix {
        let s = self.as_str();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        match &s[split..] {
            "" => QuantitySuffix::None,
            x if x.ends_with('i') => QuantitySuffix::Binary,
            _ => QuantitySuffix::Decimal,
        }
    }

    /// The value in base units (cores, bytes), as a float.
    pub fn as_f64(&self) -> f64 {
        let s = self.as_str();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(split);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kubernetes_quantities() {
        for ok in [
            "1", "500m", "0.5", ".5", "2Gi", "512Mi", "1e3", "1E-3", "100k", "3E",
        ] {
            assert!(ok.parse::<Quantity>().is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_quantities() {
        for bad in ["", "-1", "1.2.3", "Gi", "2 Gi", "2GB", "2gi", "1e", "m"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_at_case_mistakes() {
        let err = "32GB".parse::<Quantity>().unwrap_err();
        assert_eq!(err.help, "suffixes are case-sensitive: did you mean `32G`?");
        let err = "2gi".parse::<Quantity>().unwrap_err();
        assert_eq!(err.help, "suffixes are case-sensitive: did you mean `2Gi`?");
    }

    #[test]
    fn values_in_base_units() {
        let q = |s: &str| s.parse::<Quantity>().unwrap();
        assert_eq!(q("500m").as_f64(), 0.5);
        assert_eq!(q("2Ki").as_f64(), 2048.0);
        assert_eq!(q("1e3").as_f64(), 1000.0);
        assert_eq!(q("2Gi").suffix(), QuantitySuffix::Binary);
        assert_eq!(q("500m").suffix(), QuantitySuffix::Decimal);
        assert_eq!(q("4").suffix(), QuantitySuffix::None);
    }
}
