//! Validated single values: each newtype's `Deserialize` rejects a bad value,
//! so the TOML parser reports the error at the value's position.
//!
//! Owns the single-value rules (commands, names, quantities, durations, images, URIs,
//! paths, percentages, bounded counts, free text, templates, digests,
//! sweep grids and ranges, objectives). Must not look at other fields: rules that
//! relate two values live in [`crate::rules`].
//!
//! Every string newtype has one check function used by `Deserialize`,
//! `FromStr` and `TryFrom<String>`, and a JSON Schema (with a `pattern` where
//! the rule is a regular language) so editors flag the same values; every
//! bounded number carries its `minimum` and `maximum` into the schema.

use std::fmt;

use schemars::{Schema, json_schema};

pub(crate) mod bounded;
mod command;
mod digest;
mod duration;
mod image;
pub(crate) mod names;
mod objective;
mod paths;
mod percent;
mod quantity;
mod sweep;
mod template;
mod text;
mod uri;

pub use bounded::{
    BatchSize, CanaryWeight, GpuCount, LoadTarget, MAX_BATCH, MAX_GPUS_PER_POD, MAX_LOAD_TARGET,
    MAX_NODES, MAX_QUEUE, MAX_REPLICAS, MAX_RETRIES, MaxFailedTrials, MaxReplicas, MinReplicas,
    NodeCount, Parallelism, QueueLimit, RandomTrials, ReplicaCount, Retries, Seed,
};
pub use command::Command;
pub use digest::Sha256;
pub use duration::{BatchDelay, Duration, MAX_BATCH_DELAY_MS, parse_duration};
pub use image::ImageRef;
pub use names::{
    EnvName, EnvVarName, Hostname, KueueName, MAX_MODEL_NAME, ModelName, Namespace, ProfileName,
    ResourceName, env_var_name,
};
pub use objective::{Goal, MetricName};
pub use paths::{CodeDir, MountPath, UrlPath};
pub use percent::Percent;
pub use quantity::{Cpu, Memory, quantity_value};
pub use sweep::{Grid, ParamName, ParamValues};
pub use template::{NAMESPACE_TEMPLATE_VARIABLES, NamespaceTemplate, TEMPLATE_VARIABLES, Template};
pub use text::{Description, MAX_DESCRIPTION, Owner};
pub use uri::{ArchiveUrl, DataUri, GitRev, GitUrl, HdfsUri, ModelUri, UriScheme};

/// Why a single value was rejected: the message, and a hint on how to fix it.
///
/// Serde carries only a string, so `Display` joins the two with
/// [`HELP_SEPARATOR`]; [`crate::diag`] splits them again into the frame's
/// message and its `help:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// What is wrong (`` `12x` is not a duration ``).
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// Separates a value error's message from its hint inside a serde message.
pub const HELP_SEPARATOR: &str = "\n  help: ";

impl ValueError {
    /// A new error.
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{HELP_SEPARATOR}{}", self.message, self.help)
    }
}

impl std::error::Error for ValueError {}

/// Builds the JSON Schema of a string newtype.
pub(crate) fn string_schema(description: &str, pattern: Option<&str>, max_len: usize) -> Schema {
    let mut schema = json_schema!({
        "type": "string",
        "description": description,
        "minLength": 1,
        "maxLength": max_len,
    });
    if let Some(p) = pattern {
        schema.insert("pattern".to_owned(), p.into());
    }
    schema
}

/// Declares a string newtype whose values pass `$validate` (a block that
/// sees the candidate as `$s` and returns early with a `ValueError`),
/// described in the schema by `$desc`, the optional regular expression
/// `$pattern` and the length limit `$max`.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, pattern = $pattern:expr, max = $max:expr, desc = $desc:expr, |$s:ident| $validate:block) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value known to be valid (constants in code).
            #[allow(dead_code)]
            pub(crate) fn new_unchecked(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::values::ValueError;
            fn try_from($s: String) -> Result<Self, Self::Error> {
                $validate
                Ok(Self($s))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::values::ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                $crate::values::string_schema($desc, $pattern, $max)
            }
        }
    };
}
pub(crate) use string_newtype;

/// Declares a string newtype validated by `$check`, described in the schema
/// by `$desc` and (optionally) the regular expression `$pattern`. Empty
/// values and values over `$max` bytes are refused with a generic message.
macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, check = $check:path, pattern = $pattern:expr, max = $max:expr, desc = $desc:expr) => {
        $crate::values::string_newtype!(
            $(#[$doc])* $name, pattern = $pattern, max = $max, desc = $desc,
            |s| {
                if s.is_empty() {
                    return Err($crate::values::ValueError::new(
                        "the value is empty",
                        $desc,
                    ));
                }
                // The type's own check first: it may explain a length limit
                // better than the generic message below.
                $check(&s)?;
                if s.len() > $max {
                    return Err($crate::values::ValueError::new(
                        format!("value is {} bytes long", s.len()),
                        format!("{} is at most {} bytes", stringify!($name), $max),
                    ));
                }
            }
        );
    };
}
pub(crate) use string_value;

/// Quotes a user value for a message, shortening long ones.
pub(crate) fn quoted(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("`{s}`")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("`{head}…`")
    }
}

/// Matches `s` against a regular expression compiled once.
macro_rules! regex {
    ($re:expr) => {{
        static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        RE.get_or_init(|| regex::Regex::new($re).expect("built-in pattern compiles"))
    }};
}
pub(crate) use regex;

#[cfg(test)]
pub(crate) mod tests {
    /// The JSON Schema of a value type, as JSON.
    pub(crate) fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
        serde_json::to_value(T::json_schema(&mut schemars::SchemaGenerator::default()))
            .expect("a schema is JSON")
    }
}
