//! Percentages (autoscaling targets, canary weights): whole numbers 1 to 100.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::ValueError;

/// A percentage: a whole number from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Percent(u32);

impl Percent {
    /// The value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Percent {
    type Error = ValueError;
    fn try_from(v: i64) -> Result<Self, ValueError> {
        match u32::try_from(v) {
            Ok(p) if (1..=100).contains(&p) => Ok(Self(p)),
            _ => Err(ValueError::new(
                format!("{v} is not a percentage from 1 to 100"),
                "write a whole number from 1 to 100 (without `%`)",
            )),
        }
    }
}

impl TryFrom<u32> for Percent {
    type Error = ValueError;
    fn try_from(v: u32) -> Result<Self, ValueError> {
        Self::try_from(i64::from(v))
    }
}

impl From<Percent> for u32 {
    fn from(p: Percent) -> u32 {
        p.0
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "description": "A percentage: a whole number from 1 to 100.",
            "minimum": 1,
            "maximum": 100,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(Percent::try_from(1i64).unwrap().get(), 1);
        assert_eq!(Percent::try_from(100u32).unwrap().get(), 100);
        assert!(Percent::try_from(0i64).is_err());
        assert!(Percent::try_from(101i64).is_err());
        assert!(Percent::try_from(-5i64).is_err());
    }
}
