//! Commands: the program and arguments of `train.command` and
//! `train.evaluate`, written as an array so no shell splits them.

use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::ValueError;

/// A command as an array of strings whose first element names the program
/// (`["python", "train.py"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Command(Vec<String>);

impl Command {
    /// The program and its arguments.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for Command {
    type Error = ValueError;
    fn try_from(argv: Vec<String>) -> Result<Self, Self::Error> {
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(ValueError::new(
                "the command has no program to run",
                "write the command as an array: `[\"python\", \"train.py\"]`",
            ));
        }
        Ok(Self(argv))
    }
}

impl From<Command> for Vec<String> {
    fn from(c: Command) -> Self {
        c.0
    }
}

impl Deref for Command {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl JsonSchema for Command {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Command".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "description": "A program and its arguments, such as `[\"python\", \"train.py\"]`; the first element names the program.",
            "minItems": 1,
            "prefixItems": [{ "type": "string", "pattern": "\\S" }],
            "items": { "type": "string" },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str]) -> Result<Command, ValueError> {
        Command::try_from(argv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn accepts_a_program_with_arguments() {
        let c = command(&["python", "train.py", ""]).unwrap();
        assert_eq!(c.as_slice(), ["python", "train.py", ""]);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn rejects_a_command_without_program() {
        for bad in [&[][..], &[""], &["  ", "train.py"]] {
            let err = command(bad).unwrap_err();
            assert_eq!(err.message, "the command has no program to run", "{bad:?}");
            assert_eq!(
                err.help,
                "write the command as an array: `[\"python\", \"train.py\"]`"
            );
        }
    }

    #[test]
    fn deserializes_from_toml_and_reports_the_hint() {
        #[derive(Debug, Deserialize)]
        struct T {
            #[allow(dead_code)]
            command: Command,
        }
        let ok: Result<T, _> = toml::from_str("command = [\"python\"]");
        assert!(ok.is_ok());
        let err = toml::from_str::<T>("command = []").unwrap_err();
        assert!(
            err.message().contains("has no program to run"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn schema_requires_a_non_blank_program() {
        let schema =
            serde_json::to_value(Command::json_schema(&mut SchemaGenerator::default())).unwrap();
        assert_eq!(schema["minItems"], 1);
        assert_eq!(schema["prefixItems"][0]["pattern"], "\\S");
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&serde_json::json!(["python", "train.py"])));
        assert!(!validator.is_valid(&serde_json::json!([])));
        assert!(!validator.is_valid(&serde_json::json!(["  ", "train.py"])));
    }
}
