//! The hyperparameter grid of `train.sweep`: parameter names, the values
//! each parameter takes, and the grid that holds them.
//!
//! How many combinations a grid makes is a product over its parameters, so
//! its bound is a rule ([`crate::rules`]), not a value's.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::{ValueError, quoted, regex, string_value};

/// A letter, then letters, digits, `-` and `_`.
const PARAM_NAME: &str = r"^[A-Za-z][A-Za-z0-9_-]*$";

string_value!(
    /// The name of a sweep parameter (`learning-rate`): a letter, then
    /// letters, digits, `-` and `_`. It reaches the code as an environment
    /// variable in upper snake case (`LEARNING_RATE`).
    ParamName,
    check = check_param_name,
    pattern = Some(PARAM_NAME),
    max = 63,
    desc = "A sweep parameter name such as `learning-rate`: a letter, then letters, digits, `-` and `_`."
);

impl ParamName {
    /// The environment variable the parameter reaches the code as
    /// (`learning-rate` is `LEARNING_RATE`; see [`super::env_var_name`]).
    pub fn env_var(&self) -> String {
        super::env_var_name(self.as_str())
    }
}

fn check_param_name(s: &str) -> Result<(), ValueError> {
    if regex!(PARAM_NAME).is_match(s) {
        return Ok(());
    }
    Err(ValueError::new(
        format!("{} is not a parameter name", quoted(s)),
        "use letters, digits, `-` and `_`, starting with a letter (`learning-rate`)",
    ))
}

/// The values one sweep parameter takes: at least one, each once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ParamValues(Vec<String>);

impl TryFrom<Vec<String>> for ParamValues {
    type Error = ValueError;
    fn try_from(values: Vec<String>) -> Result<Self, Self::Error> {
        if values.is_empty() {
            return Err(ValueError::new(
                "the sweep parameter has no values",
                "list at least one value, or remove the parameter",
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = values.iter().find(|v| !seen.insert(v.as_str())) {
            return Err(ValueError::new(
                format!("{} is listed twice", quoted(twice)),
                "remove the repeated value; each combination runs once",
            ));
        }
        Ok(Self(values))
    }
}

impl From<ParamValues> for Vec<String> {
    fn from(v: ParamValues) -> Self {
        v.0
    }
}

impl Deref for ParamValues {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl AsRef<[String]> for ParamValues {
    fn as_ref(&self) -> &[String] {
        &self.0
    }
}

impl JsonSchema for ParamValues {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ParamValues".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "description": "The values a sweep parameter takes: at least one, each once.",
            "items": { "type": "string" },
            "minItems": 1,
            "uniqueItems": true,
        })
    }
}

/// A sweep grid: at least one parameter, each with its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<ParamName, ParamValues>",
    into = "BTreeMap<ParamName, ParamValues>"
)]
pub struct Grid(BTreeMap<ParamName, ParamValues>);

impl Grid {
    /// The parameters and their values, in name order.
    pub fn as_map(&self) -> &BTreeMap<ParamName, ParamValues> {
        &self.0
    }
}

impl TryFrom<BTreeMap<ParamName, ParamValues>> for Grid {
    type Error = ValueError;
    fn try_from(grid: BTreeMap<ParamName, ParamValues>) -> Result<Self, Self::Error> {
        if grid.is_empty() {
            return Err(ValueError::new(
                "the sweep grid is empty",
                "add parameters: `grid = { learning-rate = [\"0.001\", \"0.01\"] }`",
            ));
        }
        Ok(Self(grid))
    }
}

impl From<Grid> for BTreeMap<ParamName, ParamValues> {
    fn from(g: Grid) -> Self {
        g.0
    }
}

impl Deref for Grid {
    type Target = BTreeMap<ParamName, ParamValues>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl JsonSchema for Grid {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Grid".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = <BTreeMap<ParamName, ParamValues>>::json_schema(generator);
        schema.insert("minProperties".to_owned(), 1.into());
        schema.insert(
            "description".to_owned(),
            "Sweep parameters by name, each with the values it takes.".into(),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Result<ParamValues, ValueError> {
        ParamValues::try_from(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn parameter_names() {
        for ok in ["lr", "learning-rate", "batch_size", "L2"] {
            assert!(ok.parse::<ParamName>().is_ok(), "{ok}");
        }
        for bad in ["", "1st", "-x", "learning rate", "lr.x", "ü"] {
            assert!(bad.parse::<ParamName>().is_err(), "{bad}");
        }
        let err = "learning rate".parse::<ParamName>().unwrap_err();
        assert_eq!(err.message, "`learning rate` is not a parameter name");
    }

    #[test]
    fn parameter_values() {
        assert_eq!(&*values(&["0.1", "0.01"]).unwrap(), ["0.1", "0.01"]);
        let err = values(&[]).unwrap_err();
        assert_eq!(err.message, "the sweep parameter has no values");
        let err = values(&["0.1", "0.01", "0.1"]).unwrap_err();
        assert_eq!(err.message, "`0.1` is listed twice");
        assert_eq!(
            err.help,
            "remove the repeated value; each combination runs once"
        );
    }

    #[test]
    fn grids_from_toml() {
        #[derive(Debug, Deserialize)]
        struct S {
            grid: Grid,
        }
        let s: S = toml::from_str("grid = { lr = [\"0.1\"], depth = [\"2\", \"4\"] }").unwrap();
        let names: Vec<&str> = s.grid.keys().map(ParamName::as_str).collect();
        assert_eq!(names, ["depth", "lr"]);
        let err = toml::from_str::<S>("grid = {}").unwrap_err();
        assert!(err.message().contains("the sweep grid is empty"), "{err}");
        let err = toml::from_str::<S>("grid = { \"1x\" = [\"a\"] }").unwrap_err();
        assert!(err.message().contains("is not a parameter name"), "{err}");
    }

    #[test]
    fn schema_carries_the_constraints() {
        let mut generator = SchemaSettingsForTest::generator();
        let schema = serde_json::to_value(Grid::json_schema(&mut generator)).unwrap();
        assert_eq!(schema["minProperties"], 1);
        let defs = serde_json::to_value(generator.definitions()).unwrap();
        let mut root = schema.clone();
        root["$defs"] = defs;
        let validator = jsonschema::validator_for(&root).unwrap();
        assert!(validator.is_valid(&serde_json::json!({ "lr": ["0.1", "0.01"] })));
        for bad in [
            serde_json::json!({}),
            serde_json::json!({ "lr": [] }),
            serde_json::json!({ "lr": ["0.1", "0.1"] }),
            serde_json::json!({ "1x": ["0.1"] }),
        ] {
            assert!(!validator.is_valid(&bad), "{bad}");
        }
    }

    /// A generator that puts referenced types under `$defs`.
    struct SchemaSettingsForTest;

    impl SchemaSettingsForTest {
        fn generator() -> SchemaGenerator {
            schemars::generate::SchemaSettings::draft2020_12().into_generator()
        }
    }
}
