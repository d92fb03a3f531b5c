//! Names: DNS-1123 labels and subdomains (models, namespaces, environments,
//! claims), host names and environment variable names.

use super::{ValueError, quoted, regex, string_value};

/// A DNS-1123 label: what Kubernetes accepts as a namespace or Service name.
pub(crate) const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain: labels joined by dots.
pub(crate) const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A host name for a route: a subdomain, optionally with a leading `*.` wildcard.
const HOSTNAME: &str = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$";
/// A DNS-1123 label that starts with a letter (an RFC 1035 label).
const MODEL_NAME: &str = r"^[a-z]([-a-z0-9]*[a-z0-9])?$";
/// A C identifier, the portable form of an environment variable name.
const ENV_VAR: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";

/// Longest model name. Objects are named after the model, and the longest
/// derived name, the training Job `<model>-train-<hash8>`, must fit in the
/// 63 characters of a DNS-1123 label (the Job controller puts it in a label
/// value): 63 - `-train-` (7) - the hash (8) = 48.
pub const MAX_MODEL_NAME: usize = 48;

string_value!(
    /// A model name, the stem of the spec's file name: a DNS-1123 label that
    /// starts with a letter (the model's Service is named after it, and
    /// Service names must), at most 48 characters so that every object named
    /// after it, up to the training Job `<model>-train-<hash8>`, fits in 63.
    ModelName,
    check = check_model_name,
    pattern = Some(MODEL_NAME),
    max = MAX_MODEL_NAME,
    desc = "A model name: lower-case letters, digits and `-`, starting with a letter, at most 48 characters."
);
string_value!(
    /// A Kubernetes namespace name (DNS-1123 label).
    Namespace,
    check = check_dns_label,
    pattern = Some(DNS_LABEL),
    max = 63,
    desc = "A Kubernetes namespace name (DNS-1123 label)."
);
string_value!(
    /// An environment name (DNS-1123 label).
    EnvName,
    check = check_dns_label,
    pattern = Some(DNS_LABEL),
    max = 63,
    desc = "An environment name (DNS-1123 label)."
);
string_value!(
    /// A profile name: a table `[profiles.<name>]` of `modelctl.toml` that
    /// specs take shared `[train]` and `[serve]` keys from (DNS-1123 label).
    ProfileName,
    check = check_dns_label,
    pattern = Some(DNS_LABEL),
    max = 63,
    desc = "A profile name from `[profiles]` of `modelctl.toml` (DNS-1123 label)."
);
string_value!(
    /// A Kubernetes object name such as a PersistentVolumeClaim (DNS-1123 subdomain).
    ResourceName,
    check = check_dns_subdomain,
    pattern = Some(DNS_SUBDOMAIN),
    max = 253,
    desc = "A Kubernetes object name (DNS-1123 subdomain)."
);
string_value!(
    /// The name of a Kueue object a training Job names in a label (a
    /// LocalQueue, a WorkloadPriorityClass): a DNS-1123 subdomain that fits
    /// in the 63 characters of a label value.
    KueueName,
    check = check_kueue_name,
    pattern = Some(DNS_SUBDOMAIN),
    max = 63,
    desc = "A Kueue LocalQueue or WorkloadPriorityClass name (DNS-1123 subdomain, at most 63 characters: it becomes a label value)."
);
string_value!(
    /// A host name (`image-tagging.ml.example.com`, `*.ml.example.com`): no
    /// scheme, no port, no path.
    Hostname,
    check = check_hostname,
    pattern = Some(HOSTNAME),
    max = 253,
    desc = "A host name such as `image-tagging.ml.example.com`: no scheme, port or path."
);
string_value!(
    /// An environment variable name: letters, digits and `_`, not starting with a digit.
    EnvVarName,
    check = check_env_var,
    pattern = Some(ENV_VAR),
    max = 253,
    desc = "An environment variable name: letters, digits and `_`, not starting with a digit."
);

/// Checks a DNS-1123 label.
pub(crate) fn check_dns_label(s: &str) -> Result<(), ValueError> {
    if s.len() <= 63 && regex!(DNS_LABEL).is_match(s) {
        return Ok(());
    }
    Err(ValueError::new(
        format!("{} is not a DNS-1123 label", quoted(s)),
        label_hint(s, 63),
    ))
}

/// Checks a model name: a DNS-1123 label of at most [`MAX_MODEL_NAME`]
/// characters that starts with a letter.
fn check_model_name(s: &str) -> Result<(), ValueError> {
    check_dns_label(s)?;
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(ValueError::new(
            format!("`{s}` starts with a digit"),
            format!(
                "the model's Service is named after it, and Service names must start with a letter; use e.g. `m-{s}`"
            ),
        ));
    }
    if s.len() > MAX_MODEL_NAME {
        return Err(ValueError::new(
            format!("`{s}` is longer than {MAX_MODEL_NAME} characters"),
            "object names such as `<model>-train-<hash8>` must fit in 63 characters; use a shorter name",
        ));
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain.
pub(crate) fn check_dns_subdomain(s: &str) -> Result<(), ValueError> {
    if s.len() <= 253 && regex!(DNS_SUBDOMAIN).is_match(s) {
        return Ok(());
    }
    Err(ValueError::new(
        format!("{} is not a DNS-1123 subdomain", quoted(s)),
        label_hint(s, 253),
    ))
}

/// Checks a Kueue object name: a subdomain short enough for a label value.
fn check_kueue_name(s: &str) -> Result<(), ValueError> {
    if s.len() <= 63 && regex!(DNS_SUBDOMAIN).is_match(s) {
        return Ok(());
    }
    Err(ValueError::new(
        format!("{} is not a Kueue object name", quoted(s)),
        if s.len() > 63 {
            "the name becomes the value of a `kueue.x-k8s.io/` label, which holds at most 63 characters".to_owned()
        } else {
            label_hint(s, 63)
        },
    ))
}

fn label_hint(s: &str, max: usize) -> String {
    let lower = s.to_ascii_lowercase().replace(['_', ' '], "-");
    if s.is_empty() {
        "the name must not be empty".to_owned()
    } else if s.len() > max {
        format!("use at most {max} characters")
    } else if lower != s && regex!(DNS_SUBDOMAIN).is_match(&lower) {
        format!("use lower-case letters, digits and `-`: `{lower}`")
    } else {
        "use lower-case letters, digits and `-`, starting and ending with a letter or digit"
            .to_owned()
    }
}

fn check_hostname(s: &str) -> Result<(), ValueError> {
    if regex!(HOSTNAME).is_match(s) && s.split('.').all(|l| l.len() <= 63) {
        return Ok(());
    }
    let help = if let Some((_, rest)) = s.split_once("://") {
        format!(
            "write the host only, without the scheme: `{}`",
            host_part(rest)
        )
    } else if s.contains(['/', ':']) {
        format!(
            "write the host only, without port or path: `{}`",
            host_part(s)
        )
    } else if !s.contains('.') {
        "use a fully qualified name such as `my-model.ml.example.com`".to_owned()
    } else {
        "use lower-case letters, digits, `-` and `.` (a leading `*.` is a wildcard)".to_owned()
    };
    Err(ValueError::new(
        format!("{} is not a host name", quoted(s)),
        help,
    ))
}

fn host_part(s: &str) -> &str {
    s.split(['/', ':']).next().unwrap_or(s)
}

/// The environment variable a name reaches the code as, and the spelling
/// suggested for a name that is not one: upper snake case (`learning-rate`
/// becomes `LEARNING_RATE`); any character other than an ASCII letter or
/// digit becomes `_`, and a leading digit (or nothing at all) gets a `_`
/// in front. The result always passes [`EnvVarName`]'s grammar.
pub fn env_var_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn check_env_var(s: &str) -> Result<(), ValueError> {
    if regex!(ENV_VAR).is_match(s) {
        return Ok(());
    }
    let fixed = env_var_name(s);
    Err(ValueError::new(
        format!("{} is not an environment variable name", quoted(s)),
        format!("use letters, digits and `_`, not starting with a digit, e.g. `{fixed}`"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "digits", "image-tagging", "a1", "1a", &"a".repeat(63)] {
            assert!(ok.parse::<Namespace>().is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(bad.parse::<Namespace>().is_err(), "{bad}");
        }
    }

    #[test]
    fn model_names_leave_room_for_derived_names() {
        assert!("a".repeat(MAX_MODEL_NAME).parse::<ModelName>().is_ok());
        let e = "a".repeat(49).parse::<ModelName>().unwrap_err();
        assert_eq!(
            e.message,
            format!("`{}` is longer than 48 characters", "a".repeat(49))
        );
        let e = "3d-scan".parse::<ModelName>().unwrap_err();
        assert_eq!(e.message, "`3d-scan` starts with a digit");
        // The longest derived object name still fits in a label.
        assert_eq!(
            format!("{}-train-{}", "a".repeat(MAX_MODEL_NAME), "0".repeat(8)).len(),
            63
        );
    }

    #[test]
    fn label_hint_suggests_lower_case() {
        let err = "Image_Tagging".parse::<ModelName>().unwrap_err();
        assert_eq!(
            err.help,
            "use lower-case letters, digits and `-`: `image-tagging`"
        );
    }

    #[test]
    fn subdomains() {
        assert!("hotel-photos.v2".parse::<ResourceName>().is_ok());
        assert!("hotel..photos".parse::<ResourceName>().is_err());
    }

    #[test]
    fn hostnames() {
        for ok in ["a.example.com", "*.ml.example.com", "x-1.y"] {
            assert!(ok.parse::<Hostname>().is_ok(), "{ok}");
        }
        let err = "https://a.example.com/x".parse::<Hostname>().unwrap_err();
        assert_eq!(
            err.help,
            "write the host only, without the scheme: `a.example.com`"
        );
        let err = "a.example.com:8080".parse::<Hostname>().unwrap_err();
        assert!(err.help.contains("`a.example.com`"));
        assert!("localhost".parse::<Hostname>().is_err());
        assert!("A.example.com".parse::<Hostname>().is_err());
    }

    #[test]
    fn env_var_names() {
        assert!("EPOCHS".parse::<EnvVarName>().is_ok());
        assert!("_x1".parse::<EnvVarName>().is_ok());
        let err = "learning-rate".parse::<EnvVarName>().unwrap_err();
        assert!(err.help.contains("`LEARNING_RATE`"));
        let err = "1X".parse::<EnvVarName>().unwrap_err();
        assert!(err.help.contains("`_1X`"), "{}", err.help);
    }

    #[test]
    fn names_become_upper_snake_case_variables() {
        assert_eq!(env_var_name("learning-rate"), "LEARNING_RATE");
        assert_eq!(env_var_name("batch.size"), "BATCH_SIZE");
        assert_eq!(env_var_name("2nd"), "_2ND");
        assert_eq!(env_var_name(""), "_");
        for name in ["learning-rate", "2nd", "a b", "é"] {
            assert!(env_var_name(name).parse::<EnvVarName>().is_ok(), "{name}");
        }
    }
}
