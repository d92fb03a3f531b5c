//! Paths: where data is mounted in the training container (`MountPath`), the
//! directory of the fetched training code to run from (`CodeDir`) and the path
//! prefix a model is routed at (`UrlPath`).
//!
//! `UrlPath` also owns the route-path rule every layer applies (validation's
//! one-model-per-host-and-path check, the rendered server flag, and
//! `model-server --path-prefix`): a trailing `/` does not count, so `/` is
//! the root and `/bidding/` is `/bidding`. That a route without a path is
//! at `/` is [`crate::model::Route`]'s.

use super::{ValueError, quoted, regex, string_value};

/// Absolute, no empty, `.` or `..` segments, no trailing slash.
const MOUNT_PATH: &str = r"^(/[A-Za-z0-9_@+=,~-][A-Za-z0-9._@+=,~-]*)+$";
/// Relative, `/`-separated, no empty or `..` segments, an optional trailing
/// slash. A segment is anything but `..` (written without look-ahead, so
/// both the `regex` crate and JSON Schema validators read it).
const CODE_DIR: &str = r"^(\.?[^/.][^/]*|\.\.[^/]+|\.)(/(\.?[^/.][^/]*|\.\.[^/]+|\.))*/?$";
/// `/`, or `/`-separated segments of URL path characters.
const URL_PATH: &str = r"^/([A-Za-z0-9._~!$&'()*+,;=:@%-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?)?$";

/// Directories of the training container modelctl owns.
const RESERVED_MOUNTS: [&str; 3] = ["/workspace", "/etc/modelctl", "/tmp"];

string_value!(
    /// An absolute path in the training container (`/data`). Must not be `/`,
    /// contain `.` or `..` segments, or lie under `/workspace`, `/etc/modelctl`
    /// or `/tmp`, which modelctl uses.
    MountPath,
    check = check_mount_path,
    pattern = Some(MOUNT_PATH),
    max = 1024,
    desc = "An absolute path in the container, such as `/data`."
);
string_value!(
    /// A directory inside the fetched training code (the cloned repository or
    /// the extracted archive): a relative path without `..` (`training`).
    CodeDir,
    check = check_code_dir,
    pattern = Some(CODE_DIR),
    max = 1024,
    desc = "A relative directory inside the fetched code, such as `training`."
);
string_value!(
    /// A URL path prefix starting with `/` (`/`, `/bidding`).
    UrlPath,
    check = check_url_path,
    pattern = Some(URL_PATH),
    max = 1024,
    desc = "A URL path prefix starting with `/`, such as `/` or `/bidding`."
);

impl UrlPath {
    /// The prefix this path stands for: the path without its trailing `/`,
    /// so `/` is `""` (the root) and `/bidding/` is `/bidding`. The grammar
    /// allows one trailing `/` at most, so no other spelling remains.
    pub fn prefix(&self) -> &str {
        let path = self.as_str();
        path.strip_suffix('/').unwrap_or(path)
    }

    /// True for `/`: the root, no prefix at all.
    pub fn is_root(&self) -> bool {
        self.prefix().is_empty()
    }
}

fn check_mount_path(s: &str) -> Result<(), ValueError> {
    let what = || format!("{} is not a mount path", quoted(s));
    if !s.starts_with('/') {
        return Err(ValueError::new(
            what(),
            format!("use an absolute path: `/{s}`"),
        ));
    }
    let segments: Vec<&str> = s[1..].split('/').collect();
    if segments.iter().any(|seg| *seg == "." || *seg == "..") {
        return Err(ValueError::new(what(), "remove the `.` and `..` segments"));
    }
    if s == "/" {
        return Err(ValueError::new(
            what(),
            "mounting over `/` hides the image; use `/data`",
        ));
    }
    if !regex!(MOUNT_PATH).is_match(s) {
        return Err(ValueError::new(
            what(),
            "use `/`-separated names of letters, digits, `-`, `_` and `.` without a trailing `/`",
        ));
    }
    if let Some(dir) = RESERVED_MOUNTS.iter().find(|r| {
        s == **r
            || s.strip_prefix(**r)
                .is_some_and(|rest| rest.starts_with('/'))
    }) {
        return Err(ValueError::new(
            format!("{} is reserved", quoted(s)),
            format!(
                "modelctl uses `{dir}` in the training container; mount somewhere else, e.g. `/data`"
            ),
        ));
    }
    Ok(())
}

fn check_code_dir(s: &str) -> Result<(), ValueError> {
    if regex!(CODE_DIR).is_match(s) {
        return Ok(());
    }
    let help = if s.starts_with('/') {
        format!(
            "write the path relative to the code's root: `{}`",
            s.trim_start_matches('/')
        )
    } else if s.contains("//") {
        "remove the empty segment (`//`)".to_owned()
    } else {
        "write a relative path without `..`, e.g. `training`".to_owned()
    };
    Err(ValueError::new(
        format!("{} is not a directory inside the fetched code", quoted(s)),
        help,
    ))
}

fn check_url_path(s: &str) -> Result<(), ValueError> {
    if regex!(URL_PATH).is_match(s) && !s.split('/').any(|seg| seg == "." || seg == "..") {
        return Ok(());
    }
    let help = if !s.starts_with('/') {
        format!("start the path with `/`: `/{s}`")
    } else if s.contains(['?', '#']) {
        "a route path has no query or fragment".to_owned()
    } else if s.contains("//") {
        "remove the empty segment (`//`)".to_owned()
    } else {
        "use `/`-separated URL path segments, e.g. `/bidding`".to_owned()
    };
    Err(ValueError::new(
        format!("{} is not a URL path", quoted(s)),
        help,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths() {
        for ok in ["/data", "/mnt/photos-2026", "/data/a_b.c"] {
            assert!(ok.parse::<MountPath>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "data",
            "/",
            "/data/",
            "/a/../b",
            "/a//b",
            "/workspace",
            "/workspace/x",
            "/tmp",
        ] {
            assert!(bad.parse::<MountPath>().is_err(), "{bad}");
        }
        assert!("/workspaces".parse::<MountPath>().is_ok());
        assert_eq!(
            "data".parse::<MountPath>().unwrap_err().help,
            "use an absolute path: `/data`"
        );
    }

    #[test]
    fn code_dirs() {
        for ok in [
            "training",
            "src/train/",
            ".",
            "./x",
            "a..b",
            "...",
            ".hidden/x",
        ] {
            assert!(ok.parse::<CodeDir>().is_ok(), "{ok}");
        }
        for bad in ["", "/training", "..", "../x", "a/../b", "a/..", "a//b", "/"] {
            assert!(bad.parse::<CodeDir>().is_err(), "{bad}");
        }
        let err = "a/../b".parse::<CodeDir>().unwrap_err();
        assert_eq!(
            err.message,
            "`a/../b` is not a directory inside the fetched code"
        );
        assert_eq!(
            err.help,
            "write a relative path without `..`, e.g. `training`"
        );
        assert_eq!(
            "/training".parse::<CodeDir>().unwrap_err().help,
            "write the path relative to the code's root: `training`"
        );
        let schema = crate::values::tests::schema_of::<CodeDir>();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for ok in ["training", "src/train/", "a..b"] {
            assert!(validator.is_valid(&serde_json::json!(ok)), "{ok}");
        }
        for bad in ["", "/training", "..", "a/../b"] {
            assert!(!validator.is_valid(&serde_json::json!(bad)), "{bad}");
        }
    }

    #[test]
    fn url_paths() {
        for ok in ["/", "/bidding", "/v1/models/", "/a-b/c_d"] {
            assert!(ok.parse::<UrlPath>().is_ok(), "{ok}");
        }
        for bad in ["", "bidding", "/a?b", "//", "/a//b", "/a b", "/../x"] {
            assert!(bad.parse::<UrlPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_trailing_slash_does_not_count() {
        let prefix = |s: &str| s.parse::<UrlPath>().unwrap().prefix().to_owned();
        assert_eq!(prefix("/"), "");
        assert_eq!(prefix("/x"), "/x");
        assert_eq!(prefix("/x/"), "/x");
        assert_eq!(prefix("/x/y/"), "/x/y");
        assert!("/".parse::<UrlPath>().unwrap().is_root());
        assert!(!"/x/".parse::<UrlPath>().unwrap().is_root());
        // No spelling with more than one trailing `/` gets as far as a prefix.
        for bad in ["//", "/x//", "/x///"] {
            assert!(bad.parse::<UrlPath>().is_err(), "{bad}");
        }
    }
}
