//! `ci/pr-comment.sh`, the body of the pull request's manifest-diff comment:
//! a fixed marker first, "no changes" instead of a diff when nothing
//! changed, and a long diff cut under GitHub's 65,536-character limit with
//! its code block (with the fence it opened) and `<details>` closed and the
//! full diff linked.

use std::path::Path;
use std::process::Command;

fn comment(diff: &str, changed: bool, url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diff.md");
    std::fs::write(&file, diff).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/pr-comment.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(&file)
        .arg(if changed { "true" } else { "false" })
        .arg(url)
        .env_remove("COMMENT_LIMIT")
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const MARKER: &str = "<!-- modelctl-manifest-diff -->\n";

#[test]
fn no_changes_says_so_without_a_diff() {
    let body = comment("### modelctl diff\n\nNo manifest changes.\n", false, "");
    assert!(body.starts_with(MARKER));
    assert!(body.contains("No changes to generated manifests."));
    assert!(!body.contains("```"));
}

#[test]
fn a_short_diff_is_posted_whole() {
    let diff = "### d\n\n<details><summary>x</summary>\n\n```diff\n-a\n+b\n```\n\n</details>\n";
    assert_eq!(
        comment(diff, true, "https://example.com/a"),
        format!("{MARKER}{diff}")
    );
}

#[test]
fn a_long_diff_is_cut_with_blocks_closed_and_the_artifact_linked() {
    let mut diff = String::from("### d\n\n<details><summary>x</summary>\n\n```diff\n");
    for i in 0..3000 {
        diff.push_str(&format!("+ line {i} {}\n", "y".repeat(60)));
    }
    diff.push_str("```\n\n</details>\n");
    assert!(diff.len() > 65_536);
    let body = comment(&diff, true, "https://example.com/artifacts/7");
    assert!(
        body.chars().count() < 65_536,
        "{} characters",
        body.chars().count()
    );
    assert!(body.starts_with(MARKER));
    assert_eq!(body.matches("```").count() % 2, 0, "code blocks are closed");
    assert_eq!(
        body.matches("<details>").count(),
        body.matches("</details>").count()
    );
    assert!(body.contains("(https://example.com/artifacts/7)"));
    let kept: Vec<&str> = body.lines().filter(|l| l.starts_with("+ line")).collect();
    assert!(
        kept.iter().all(|l| l.ends_with(&"y".repeat(60))),
        "whole lines only"
    );
}

/// `modelctl diff` opens a longer fence when the diff holds backticks
/// (`fenced_diff`); three backticks would not close it, and the rest of the
/// page would render as code.
#[test]
fn a_cut_diff_holding_a_fence_is_closed_with_the_fence_it_opened() {
    let mut diff = String::from("### d\n\n<details><summary>x</summary>\n\n````diff\n");
    diff.push_str("+  README.md: |\n+    ```sh\n+    modelctl apply\n+    ```\n");
    for i in 0..3000 {
        diff.push_str(&format!("+ line {i} {}\n", "y".repeat(60)));
    }
    diff.push_str("````\n\n</details>\n");
    let body = comment(&diff, true, "");
    let lines: Vec<&str> = body.lines().collect();
    let last_kept = lines.iter().rposition(|l| l.starts_with("+ line")).unwrap();
    assert_eq!(
        lines[last_kept + 1],
        "````",
        "closed with the opening fence"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with('`')).count(),
        2,
        "one block, opened and closed: {:?}",
        &lines[last_kept + 1..]
    );
}
