//! Validated single values: each newtype's `Deserialize` rejects a bad value,
//! so the TOML parser reports the error at the value's position.
//!
//! Owns the single-value rules (names, quantities, durations, images, URIs,
//! percentages, templates). Must not look at other fields.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares a string newtype validated by `$check` (which returns the error message).
macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
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
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $check(&s)?;
                Ok(Self(s))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_value!(
    /// A DNS-1123 label: lower-case letters, digits and `-`, at most 63 characters.
    ModelName,
    check_dns_label
);
string_value!(
    /// A Kubernetes namespace name (DNS-1123 label).
    Namespace,
    check_dns_label
);
string_value!(
    /// An environment name (DNS-1123 label).
    EnvName,
    check_dns_label
);
string_value!(
    /// A Kubernetes object name (DNS-1123 subdomain).
    ResourceName,
    check_dns_label
);
string_value!(
    /// A Kubernetes quantity (`500m`, `2`, `32Gi`).
    Quantity,
    check_nonempty
);
string_value!(
    /// An OCI image reference (`registry/repo:tag` or `repo@sha256:…`).
    ImageRef,
    check_nonempty
);
string_value!(
    /// The URI of a model file.
    ModelUri,
    check_nonempty
);
string_value!(
    /// The URI of a data source.
    DataUri,
    check_nonempty
);
string_value!(
    /// A Git repository URL.
    GitUrl,
    check_nonempty
);
string_value!(
    /// An absolute path in a container.
    MountPath,
    check_nonempty
);
string_value!(
    /// A host name.
    Hostname,
    check_nonempty
);
string_value!(
    /// A URL path starting with `/`.
    UrlPath,
    check_nonempty
);
string_value!(
    /// An environment variable name.
    EnvVarName,
    check_nonempty
);
string_value!(
    /// A minijinja template.
    Template,
    check_nonempty
);
string_value!(
    /// A duration: a number and a unit (`ms`, `s`, `m`, `h`, `d`), e.g. `12h`, `2ms`.
    Duration,
    check_nonempty
);

impl Duration {
    /// The duration as a `std::time::Duration`.
    pub fn as_std(&self) -> std::time::Duration {
        let s = self.0.as_str();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let n: u64 = s[..split].parse().unwrap_or(0);
        match &s[split..] {
            "ms" => std::time::Duration::from_millis(n),
            "m" => std::time::Duration::from_secs(n * 60),
            "h" => std::time::Duration::from_secs(n * 3600),
            "d" => std::time::Duration::from_secs(n * 86400),
            _ => std::time::Duration::from_secs(n),
        }
    }
}

/// A percentage from 1 to 100.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct Percent(u32);

impl Percent {
    /// The value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Percent {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        if (1..=100).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!("{v} is not a percentage from 1 to 100"))
        }
    }
}

impl From<Percent> for u32 {
    fn from(p: Percent) -> u32 {
        p.0
    }
}

fn check_nonempty(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(())
    }
}

fn check_dns_label(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a DNS-1123 label (lower-case letters, digits and `-`, at most 63)"
        ))
    }
}
