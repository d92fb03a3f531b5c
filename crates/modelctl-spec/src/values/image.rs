//! OCI image references: `[registry[:port]/]repository[:tag][@digest]`, the
//! grammar of the `distribution/reference` package (IPv6 registries aside).

use super::{ValueError, quoted, regex, string_value};

/// `distribution/reference`'s `ReferenceRegexp`, anchored.
const IMAGE_REF: &str = concat!(
    // A registry is `localhost`, or has a `.` or a port (Docker's rule);
    // otherwise the first component belongs to the repository.
    r"^((localhost|([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+|([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*:[0-9]+|localhost:[0-9]+)/)?",
    r"[a-z0-9]+(([._]|__|[-]+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|[-]+)[a-z0-9]+)*)*",
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?",
    r"(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
);

string_value!(
    /// An OCI image reference: `[registry[:port]/]repository[:tag][@digest]`,
    /// e.g. `pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime` or
    /// `registry.example.com/ml/model-server@sha256:…`.
    ImageRef,
    check = check_image,
    pattern = Some(IMAGE_REF),
    max = 512,
    desc = "An OCI image reference: `[registry[:port]/]repository[:tag][@digest]`."
);

fn check_image(s: &str) -> Result<(), ValueError> {
    if regex!(IMAGE_REF).is_match(s) {
        return Ok(());
    }
    let help = if s.contains("://") {
        "an image reference has no scheme: write `registry.example.com/repo:tag`".to_owned()
    } else if s.chars().any(char::is_whitespace) {
        "remove the whitespace".to_owned()
    } else if has_upper_repository(s) {
        format!("repository names are lower-case: `{}`", lower_repository(s))
    } else if s.ends_with(':') || s.ends_with('@') {
        "the tag or digest after the separator is missing".to_owned()
    } else {
        "write `[registry/]repository[:tag][@sha256:digest]`, e.g. `python:3.11-slim`".to_owned()
    };
    Err(ValueError::new(
        format!("{} is not an image reference", quoted(s)),
        help,
    ))
}

/// The repository part: after the registry, before tag and digest.
fn repository_bounds(s: &str) -> (usize, usize) {
    let end = s.find('@').unwrap_or(s.len());
    let name_end = match s[..end].rfind(':') {
        Some(i) if !s[i..end].contains('/') => i,
        _ => end,
    };
    let start = match s.find('/') {
        Some(i) if i < name_end && (s[..i].contains(['.', ':']) || &s[..i] == "localhost") => i + 1,
        _ => 0,
    };
    (start.min(name_end), name_end)
}

fn has_upper_repository(s: &str) -> bool {
    let (a, b) = repository_bounds(s);
    s[a..b].chars().any(|c| c.is_ascii_uppercase())
}

fn lower_repository(s: &str) -> String {
    let (a, b) = repository_bounds(s);
    format!("{}{}{}", &s[..a], s[a..b].to_ascii_lowercase(), &s[b..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for ok in [
            "python",
            "python:3.11-slim",
            "tensorflow/tensorflow:2.16.1-gpu",
            "registry.example.com/ml/model-server:0.1.0",
            "localhost:5000/a/b",
            "ghcr.io/org/img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "quay.io/a/b:t@sha256:0123456789abcdef0123456789abcdef",
        ] {
            assert!(ok.parse::<ImageRef>().is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "https://ghcr.io/a",
            "a b",
            "python:",
            "python:3.11:slim",
            "Tensorflow/tensorflow",
            "a//b",
            "img@sha256:short",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_lower_case_repository() {
        let err = "registry.example.com/ML/Server:1"
            .parse::<ImageRef>()
            .unwrap_err();
        assert_eq!(
            err.help,
            "repository names are lower-case: `registry.example.com/ml/server:1`"
        );
    }
}
