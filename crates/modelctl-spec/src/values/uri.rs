//! URIs: model files (`serve.model`), training data (`train.data`: object
//! stores and the web as `uri`, HDFS as `hdfs`), Git
//! repositories and revisions (`train.code.git`, `train.code.rev`) and code archives (`train.code.archive`). Each accepts only the schemes modelctl
//! and `model-server` know how to fetch.

use super::names::check_dns_subdomain;
use super::{ValueError, quoted, string_value};

string_value!(
    /// The URI of an ONNX model: a path, `file://`, `http(s)://`, `s3://`,
    /// `gs://`, `az://` or `pvc://<claim>/<path>` (the claim is mounted read-only).
    ModelUri,
    check = check_model_uri,
    pattern = Some(
        r"^((s3|gs|az|pvc)://[^/\s]+/\S+|https?://[^/\s:]+(:[0-9]+)?(/\S*)?|file://\S+|[^\s:]+)$"
    ),
    max = 2048,
    desc = "A model URI: a path, `file://`, `http(s)://`, `s3://`, `gs://`, `az://` or `pvc://<claim>/<path>`."
);
string_value!(
    /// The URI of object-store or web training data: `s3://`, `gs://` or
    /// `http(s)://` (HDFS sources are written as `hdfs`, a [`HdfsUri`]).
    DataUri,
    check = check_data_uri,
    pattern = Some(r"^((s3|gs)://[^/\s]+/\S+|https?://[^/\s:]+(:[0-9]+)?(/\S*)?)$"),
    max = 2048,
    desc = "A data URI: `s3://`, `gs://` or `http(s)://`."
);
string_value!(
    /// The URI of HDFS training data: `hdfs://<namenode>[:port]/<path>`.
    HdfsUri,
    check = check_hdfs_uri,
    pattern = Some(r"^hdfs://[^/\s:]+(:[0-9]+)?(/\S*)?$"),
    max = 2048,
    desc = "An HDFS URI: `hdfs://<namenode>[:port]/<path>`."
);
string_value!(
    /// A Git repository URL: `https://`, `ssh://`, `git://` or `user@host:path`.
    GitUrl,
    check = check_git_url,
    pattern = Some(r"^((https?|ssh|git)://\S+|[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:\S+)$"),
    max = 2048,
    desc = "A Git repository URL: `https://`, `ssh://`, `git://` or `user@host:path`."
);

string_value!(
    /// The URL of a gzip-compressed tar archive of training code: `http(s)://`.
    ArchiveUrl,
    check = check_archive_url,
    pattern = Some(r"^https?://[^/\s:]+(:[0-9]+)?/\S+$"),
    max = 2048,
    desc = "An `http(s)://` URL of a `.tar.gz` archive."
);

string_value!(
    /// A Git revision to check out: a commit hash, tag or branch name, without
    /// whitespace.
    GitRev,
    check = check_git_rev,
    pattern = Some(r"^\S+$"),
    max = 255,
    desc = "A Git commit hash, tag or branch name, such as `4f2a9c1` or `v1.2`."
);

/// The scheme of a model or data URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UriScheme {
    /// A path without a scheme (local to the server's file system).
    Path,
    /// `file://`.
    File,
    /// `http://`.
    Http,
    /// `https://`.
    Https,
    /// `s3://`.
    S3,
    /// `gs://`.
    Gs,
    /// `az://`.
    Az,
    /// `pvc://<claim>/<path>`.
    Pvc,
    /// `hdfs://`.
    Hdfs,
}

impl UriScheme {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "file" => Self::File,
            "http" => Self::Http,
            "https" => Self::Https,
            "s3" => Self::S3,
            "gs" => Self::Gs,
            "az" => Self::Az,
            "pvc" => Self::Pvc,
            "hdfs" => Self::Hdfs,
            _ => return None,
        })
    }
}

/// Splits `scheme://rest`; `None` when there is no `://`.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    Some((scheme, rest))
}

fn err(s: &str, what: &str, help: impl Into<String>) -> ValueError {
    ValueError::new(format!("{} is not {what}", quoted(s)), help)
}

fn check_common(s: &str, what: &str) -> Result<(), ValueError> {
    if s.chars().any(char::is_whitespace) {
        return Err(err(
            s,
            what,
            "remove the whitespace (percent-encode it as `%20`)",
        ));
    }
    Ok(())
}

/// `bucket/key` with a non-empty bucket and key.
fn check_bucket_key(s: &str, rest: &str, what: &str, scheme: &str) -> Result<(), ValueError> {
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(()),
        _ => Err(err(
            s,
            what,
            format!("write `{scheme}://<bucket>/<path>` with both parts"),
        )),
    }
}

/// `host[:port]/…` with a non-empty host.
fn check_host(s: &str, rest: &str, what: &str, scheme: &str) -> Result<(), ValueError> {
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if name.is_empty() {
        return Err(err(s, what, format!("`{scheme}://` needs a host name")));
    }
    if let Some((_, port)) = host.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(err(s, what, format!("`{port}` is not a port number")));
    }
    Ok(())
}

fn check_model_uri(s: &str) -> Result<(), ValueError> {
    const WHAT: &str = "a model URI";
    check_common(s, WHAT)?;
    let Some((scheme, rest)) = split_scheme(s) else {
        if s.contains(':') {
            return Err(err(
                s,
                WHAT,
                "use `scheme://…` with one of `file`, `http`, `https`, `s3`, `gs`, `az`, `pvc`, or a plain path",
            ));
        }
        return Ok(());
    };
    match UriScheme::parse(scheme) {
        Some(UriScheme::S3 | UriScheme::Gs | UriScheme::Az) => {
            check_bucket_key(s, rest, WHAT, scheme)
        }
        Some(UriScheme::Http | UriScheme::Https) => check_host(s, rest, WHAT, scheme),
        Some(UriScheme::File) if rest.is_empty() => Err(err(s, WHAT, "`file://` needs a path")),
        Some(UriScheme::File) => Ok(()),
        Some(UriScheme::Pvc) => match rest.split_once('/') {
            Some((claim, path)) if !path.is_empty() => check_dns_subdomain(claim)
                .map_err(|e| err(s, WHAT, format!("the claim name is invalid: {}", e.help))),
            _ => Err(err(
                s,
                WHAT,
                "write `pvc://<claim>/<path inside the claim>`",
            )),
        },
        Some(UriScheme::Hdfs | UriScheme::Path) | None => Err(ValueError::new(
            format!("unknown model URI scheme `{scheme}://`"),
            "use a path or one of `file://`, `http(s)://`, `s3://`, `gs://`, `az://`, `pvc://`",
        )),
    }
}

fn check_data_uri(s: &str) -> Result<(), ValueError> {
    const WHAT: &str = "a data URI";
    check_common(s, WHAT)?;
    let Some((scheme, rest)) = split_scheme(s) else {
        return Err(err(
            s,
            WHAT,
            "write a URI with a scheme: `s3://`, `gs://`, `http(s)://` (use `hdfs` for HDFS, `pvc` for a claim)",
        ));
    };
    match UriScheme::parse(scheme) {
        Some(UriScheme::S3 | UriScheme::Gs) => check_bucket_key(s, rest, WHAT, scheme),
        Some(UriScheme::Http | UriScheme::Https) => check_host(s, rest, WHAT, scheme),
        Some(UriScheme::Hdfs) => Err(ValueError::new(
            format!("{} is an HDFS URI", quoted(s)),
            "write HDFS sources as `hdfs = …`",
        )),
        _ => Err(ValueError::new(
            format!("unknown data URI scheme `{scheme}://`"),
            "use one of `s3://`, `gs://`, `http(s)://`; `hdfs = \"hdfs://…\"` for HDFS, or `pvc = \"<claim>\"` for a volume",
        )),
    }
}

fn check_hdfs_uri(s: &str) -> Result<(), ValueError> {
    const WHAT: &str = "an HDFS URI";
    check_common(s, WHAT)?;
    match split_scheme(s) {
        Some(("hdfs", rest)) => check_host(s, rest, WHAT, "hdfs"),
        other => Err(ValueError::new(
            format!("`hdfs` source {} is not an `hdfs://` URI", quoted(s)),
            if other.is_some() {
                "use `uri = …` for object-store and web sources"
            } else {
                "write `hdfs://<namenode>[:port]/<path>`"
            },
        )),
    }
}

fn check_git_url(s: &str) -> Result<(), ValueError> {
    const WHAT: &str = "a Git URL";
    check_common(s, WHAT)?;
    if let Some((scheme, rest)) = split_scheme(s) {
        return match scheme {
            "https" | "http" | "ssh" | "git" => {
                check_host(s, rest, WHAT, scheme)?;
                let path = rest.split_once('/').map(|(_, p)| p).unwrap_or_default();
                if path.is_empty() {
                    Err(err(s, WHAT, "add the repository path after the host"))
                } else {
                    Ok(())
                }
            }
            _ => Err(ValueError::new(
                format!("unknown Git URL scheme `{scheme}://`"),
                "use `https://`, `ssh://`, `git://` or `user@host:path`",
            )),
        };
    }
    // scp-like: user@host:path
    let ok = s.split_once('@').and_then(|(user, rest)| {
        let (host, path) = rest.split_once(':')?;
        let valid = |p: &str, extra: &[char]| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(&c))
        };
        (valid(user, &[]) && valid(host, &[]) && !path.is_empty()).then_some(())
    });
    ok.ok_or_else(|| {
        err(
            s,
            WHAT,
            "use `https://host/repo.git`, `ssh://git@host/repo.git` or `git@host:repo.git`",
        )
    })
}

fn check_git_rev(s: &str) -> Result<(), ValueError> {
    if s.chars().any(char::is_whitespace) {
        return Err(ValueError::new(
            format!("{} is not a Git revision", quoted(s)),
            "write a commit hash, tag or branch name",
        ));
    }
    Ok(())
}

fn check_archive_url(s: &str) -> Result<(), ValueError> {
    const WHAT: &str = "an archive URL";
    check_common(s, WHAT)?;
    let Some((scheme, rest)) = split_scheme(s) else {
        return Err(err(
            s,
            WHAT,
            "write an `http(s)://` URL of a `.tar.gz` archive",
        ));
    };
    match scheme {
        "https" | "http" => {
            check_host(s, rest, WHAT, scheme)?;
            let path = rest.split_once('/').map(|(_, p)| p).unwrap_or_default();
            if path.is_empty() {
                Err(err(s, WHAT, "add the archive's path after the host"))
            } else {
                Ok(())
            }
        }
        _ => Err(ValueError::new(
            format!("unknown archive URL scheme `{scheme}://`"),
            "the init container downloads archives over `https://` or `http://`",
        )),
    }
}

impl ModelUri {
    /// The URI's scheme.
    pub fn scheme(&self) -> UriScheme {
        split_scheme(self.as_str())
            .and_then(|(s, _)| UriScheme::parse(s))
            .unwrap_or(UriScheme::Path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris() {
        for ok in [
            "model.onnx",
            "/models/a.onnx",
            "file:///models/a.onnx",
            "https://models.example.com/a.onnx",
            "s3://bucket/a/model.onnx",
            "gs://b/m.onnx",
            "az://container/m.onnx",
            "pvc://models/digits/model.onnx",
        ] {
            assert!(ok.parse::<ModelUri>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/y",
            "s3://bucket",
            "s3:///key",
            "https:///x",
            "pvc://Bad_Claim/x",
            "a b",
            "c:x",
        ] {
            assert!(bad.parse::<ModelUri>().is_err(), "{bad}");
        }
        assert_eq!(
            "s3://b/k".parse::<ModelUri>().unwrap().scheme(),
            UriScheme::S3
        );
        assert_eq!(
            "m.onnx".parse::<ModelUri>().unwrap().scheme(),
            UriScheme::Path
        );
    }

    #[test]
    fn data_uris() {
        for ok in ["s3://b/k", "https://x.example.com/d.tsv"] {
            assert!(ok.parse::<DataUri>().is_ok(), "{ok}");
        }
        for bad in [
            "/data",
            "ftp://x/y",
            "hdfs://namenode:8020/corpora",
            "az://c/x",
        ] {
            assert!(bad.parse::<DataUri>().is_err(), "{bad}");
        }
        let err = "hdfs://nn/x".parse::<DataUri>().unwrap_err();
        assert_eq!(err.message, "`hdfs://nn/x` is an HDFS URI");
        assert_eq!(err.help, "write HDFS sources as `hdfs = …`");
        let schema = crate::values::tests::schema_of::<DataUri>();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&serde_json::json!("s3://b/k")));
        assert!(!validator.is_valid(&serde_json::json!("hdfs://nn/x")));
    }

    #[test]
    fn hdfs_uris() {
        for ok in ["hdfs://namenode:8020/corpora", "hdfs://nn", "hdfs://nn/a/b"] {
            assert!(ok.parse::<HdfsUri>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "s3://b/k",
            "/data",
            "hdfs://:8020/x",
            "hdfs://nn:port/x",
            "hdfs://nn/a b",
        ] {
            assert!(bad.parse::<HdfsUri>().is_err(), "{bad}");
        }
        let err = "s3://ml-data/corpus".parse::<HdfsUri>().unwrap_err();
        assert_eq!(
            err.message,
            "`hdfs` source `s3://ml-data/corpus` is not an `hdfs://` URI"
        );
        assert_eq!(err.help, "use `uri = …` for object-store and web sources");
        let schema = crate::values::tests::schema_of::<HdfsUri>();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&serde_json::json!("hdfs://nn:8020/x")));
        assert!(!validator.is_valid(&serde_json::json!("s3://b/k")));
    }

    #[test]
    fn git_urls() {
        for ok in [
            "https://git.example.com/ml/a.git",
            "ssh://git@git.example.com:2222/ml/a.git",
            "git@github.com:org/repo.git",
        ] {
            assert!(ok.parse::<GitUrl>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "git.example.com/ml/a",
            "ftp://x/y",
            "https://host",
            "@host:x",
        ] {
            assert!(bad.parse::<GitUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn git_revs() {
        for ok in ["4f2a9c1", "v1.2", "feature/x", "HEAD~1"] {
            assert!(ok.parse::<GitRev>().is_ok(), "{ok}");
        }
        for bad in ["", "v1 .2", " main", "main\n"] {
            assert!(bad.parse::<GitRev>().is_err(), "{bad:?}");
        }
        let err = "v1 .2".parse::<GitRev>().unwrap_err();
        assert_eq!(err.message, "`v1 .2` is not a Git revision");
        assert_eq!(err.help, "write a commit hash, tag or branch name");
        let schema = crate::values::tests::schema_of::<GitRev>();
        assert_eq!(schema["pattern"], "^\\S+$");
        assert_eq!(schema["minLength"], 1);
    }

    #[test]
    fn archive_urls() {
        for ok in [
            "https://code.example.com/ml/digits-1.2.tar.gz",
            "http://10.0.0.5:8080/a.tgz",
        ] {
            assert!(ok.parse::<ArchiveUrl>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "code.tar.gz",
            "ftp://host/code.tar.gz",
            "s3://bucket/code.tar.gz",
            "file:///tmp/code.tar.gz",
            "https://host",
            "https:///code.tar.gz",
            "https://host/a b.tar.gz",
        ] {
            assert!(bad.parse::<ArchiveUrl>().is_err(), "{bad}");
        }
    }
}
