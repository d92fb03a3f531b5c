//! The `fetch-code` init container: it installs the training code into the
//! pod's `code` emptyDir before the training container starts, by cloning a
//! Git repository or by downloading, verifying and extracting an archive.
//!
//! Owns the shell the init container runs. Every value from a spec reaches
//! it as a positional argument, never spliced into the script. The archive
//! script is also what `start.sh` runs when no init container placed the code.

use k8s_openapi::api::core::v1::Container;
use modelctl_spec::model::{CodeFetch, CodeSource};

/// Clones `$1` into `$3` and checks out `$2`.
const GIT_SCRIPT: &str =
    "set -eu; git clone --quiet -- \"$1\" \"$3\" && git -C \"$3\" checkout --quiet \"$2\"";

/// Downloads the `.tar.gz` at `$1` (with busybox `wget`, or `curl`), checks
/// its SHA-256 against `$2` unless that is empty, and extracts it into `$3`.
/// Every failure names the URL. Written for POSIX `sh` and busybox.
pub(crate) const ARCHIVE_SCRIPT: &str = r#"url=$1 sum=$2 dest=$3
tmp="${dest}.tar.gz"
echo "modelctl: downloading ${url}" >&2
if command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp" "$url"
else
  curl -fsSL -o "$tmp" "$url"
fi || { echo "modelctl: cannot download ${url}" >&2; exit 1; }
if [ -n "$sum" ]; then
  got=$(sha256sum "$tmp" | cut -d " " -f 1)
  if [ "$got" != "$sum" ]; then
    echo "modelctl: ${url} has SHA-256 ${got}, expected ${sum}; refusing to extract it" >&2
    exit 1
  fi
fi
mkdir -p "$dest"
tar -xzf "$tmp" -C "$dest" || { echo "modelctl: cannot extract ${url} (not a .tar.gz?)" >&2; exit 1; }
rm -f "$tmp"
"#;

/// The `sh -c` command line that fetches `code` into `dest`, or `None` for a
/// source the rules reject.
pub(crate) fn fetch_command(code: &CodeSource, dest: &str) -> Option<Vec<String>> {
    let (script, first, second) = match code.fetch()? {
        CodeFetch::Git { url, rev } => (GIT_SCRIPT.to_owned(), url.as_str(), rev),
        CodeFetch::Archive { url, sha256 } => (
            format!("set -eu\n{ARCHIVE_SCRIPT}"),
            url.as_str(),
            sha256.map_or("", |s| s.as_str()),
        ),
    };
    Some(vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script,
        "fetch-code".to_owned(),
        first.to_owned(),
        second.to_owned(),
        dest.to_owned(),
    ])
}

/// The termination message policy of containers that run user code: the
/// kubelet keeps the log's last lines (80 lines, 2 KiB at most) as the
/// message when the container fails, so a failed run says why without
/// its logs.
pub(crate) const LOGS_ON_ERROR: &str = "FallbackToLogsOnError";

/// The init container that fetches `code` into `dest` on the `code` volume.
pub(crate) fn fetch_container(
    code: &CodeSource,
    image: &str,
    dest: &str,
    mut base: Container,
) -> Option<Container> {
    base.name = "fetch-code".to_owned();
    base.image = Some(image.to_owned());
    base.command = Some(fetch_command(code, dest)?);
    // A failed clone or download leaves git's or the shell's last lines as
    // the termination message, which `modelctl runs` shows.
    base.termination_message_policy = Some(LOGS_ON_ERROR.to_owned());
    Some(base)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(json: serde_json::Value) -> CodeSource {
        serde_json::from_value(json).expect("a code source")
    }

    #[test]
    fn git_sources_clone_and_check_out() {
        let cmd = fetch_command(
            &code(json!({ "git": "https://git.example.com/a.git", "rev": "4f2c9e1" })),
            "/workspace/code",
        )
        .expect("valid");
        assert_eq!(cmd[2], GIT_SCRIPT);
        assert_eq!(
            cmd[3..],
            [
                "fetch-code",
                "https://git.example.com/a.git",
                "4f2c9e1",
                "/workspace/code"
            ]
        );
    }

    #[test]
    fn archive_sources_verify_the_checksum_before_extracting() {
        let sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let cmd = fetch_command(
            &code(json!({ "archive": "https://code.example.com/a.tar.gz", "sha256": sum })),
            "/workspace/code",
        )
        .expect("valid");
        assert_eq!(cmd[..2], ["sh", "-c"]);
        let script = &cmd[2];
        assert!(script.starts_with("set -eu\n"), "{script}");
        let check = script
            .find("sha256sum \"$tmp\"")
            .expect("checks the digest");
        let extract = script.find("tar -xzf").expect("extracts");
        assert!(check < extract, "{script}");
        assert_eq!(
            cmd[3..],
            [
                "fetch-code",
                "https://code.example.com/a.tar.gz",
                sum,
                "/workspace/code"
            ]
        );
    }

    #[test]
    fn an_archive_without_a_checksum_passes_an_empty_one() {
        let cmd = fetch_command(
            &code(json!({ "archive": "https://code.example.com/a.tar.gz" })),
            "/w",
        )
        .expect("valid");
        assert_eq!(cmd[5], "");
    }

    #[test]
    fn a_source_the_rules_reject_has_no_command() {
        assert!(fetch_command(&code(json!({ "dir": "x" })), "/w").is_none());
        assert!(fetch_command(&code(json!({ "git": "https://h/a.git" })), "/w").is_none());
    }
}
