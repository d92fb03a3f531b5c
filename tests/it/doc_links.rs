//! The repository's Markdown documents link only to files and folders that
//! exist inside the repository, and mention no document kept outside it.

use std::path::{Component, Path, PathBuf};

/// Text that points at documents outside the repository. The folder is
/// spelled in two parts so that this list is not itself a path into it.
const OUTSIDE_MENTIONS: [&str; 2] = [concat!("..", "/shared"), "DESIGN.md"];

#[test]
fn markdown_links_point_at_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = markdown_files(root);
    for expected in [
        "README.md",
        "docs/spec.md",
        "benches/README.md",
        "crates/model-server/README.md",
    ] {
        assert!(
            files.iter().any(|f| f == &root.join(expected)),
            "{expected} is among the Markdown files checked"
        );
    }
    let problems = check(root, &files);
    assert!(
        problems.is_empty(),
        "Markdown problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_reports_broken_links_and_outside_mentions() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/here.md"), "# Here\n").unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Title\n\
         [ok](docs/here.md#here) and [folder](docs/) and [web](https://example.com/x.md)\n\
         [anchor](#title) and `[in code](missing-in-code.md)`\n\
         [broken](docs/missing.md)\n\
         ```\n\
         [in a fence](missing-in-fence.md)\n\
         ```\n\
         see the contract in DESIGN.md\n\
         [up](../outside.md) and [abs](/README.md)\n\
         [ref]: docs/also-missing.md \"title\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/other.md"),
        "[back](../README.md) [sibling](here.md) [gone](./nope/)\n",
    )
    .unwrap();
    let files = markdown_files(root);
    assert_eq!(files.len(), 3, "{files:?}");
    let problems = check(root, &files);
    assert_eq!(
        problems,
        [
            "README.md:4: link `docs/missing.md`: no such file or folder",
            "README.md:8: mentions `DESIGN.md`, which is not in the repository",
            "README.md:9: link `../outside.md`: points outside the repository",
            "README.md:9: link `/README.md`: use a path relative to the document",
            "README.md:10: link `docs/also-missing.md`: no such file or folder",
            "docs/other.md:1: link `./nope/`: no such file or folder",
        ]
    );
}

/// Every `*.md` file under `root`, sorted, leaving out build outputs, Git's
/// own folder and virtual environments.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry
                .file_type()
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            if kind.is_dir() {
                let skipped = name == ".git"
                    || name.starts_with(".venv")
                    || name == "target"
                    || name.starts_with("target-");
                if !skipped {
                    dirs.push(path);
                }
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// One line per problem: `<file>:<line>: <what>`, in file and line order.
fn check(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let dir = file.parent().expect("a file has a parent folder");
        let mut in_fence = false;
        for (index, line) in text.lines().enumerate() {
            let at = format!("{shown}:{}", index + 1);
            for mention in OUTSIDE_MENTIONS {
                if line.contains(mention) {
                    problems.push(format!(
                        "{at}: mentions `{mention}`, which is not in the repository"
                    ));
                }
            }
            let trimmed = line.trim_start();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence {
                continue;
            }
            for target in link_targets(&without_code_spans(line)) {
                if let Some(problem) = target_problem(root, dir, &target) {
                    problems.push(format!("{at}: link `{target}`: {problem}"));
                }
            }
        }
    }
    problems
}

/// The line with its inline code spans (`` `…` ``) removed.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let ticks = rest[open..].chars().take_while(|&c| c == '`').count();
        let fence = &rest[open..open + ticks];
        let after = &rest[open + ticks..];
        match after.find(fence) {
            Some(close) => rest = &after[close + ticks..],
            None => {
                out.push_str(fence);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of inline links and images (`[text](target "title")`) and of
/// reference definitions (`[label]: target`) on one line.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(end) = trimmed.find(']')
        && trimmed[end + 1..].starts_with(':')
    {
        if let Some(target) = trimmed[end + 2..].split_whitespace().next() {
            targets.push(unbracketed(target).to_owned());
        }
        return targets;
    }
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let end = after.find(')').unwrap_or(after.len());
        if let Some(target) = after[..end].split_whitespace().next() {
            targets.push(unbracketed(target).to_owned());
        }
        rest = &after[end..];
    }
    targets
}

fn unbracketed(target: &str) -> &str {
    target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(target)
}

/// Why a link target from a document in `dir` is wrong, if it is.
fn target_problem(root: &Path, dir: &Path, target: &str) -> Option<&'static str> {
    if target.starts_with('#') || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let path = target.split('#').next().unwrap_or(target);
    if path.starts_with('/') {
        return Some("use a path relative to the document");
    }
    let mut resolved = PathBuf::new();
    for component in dir.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => resolved.push(other),
        }
    }
    if !resolved.starts_with(root) {
        return Some("points outside the repository");
    }
    if !resolved.exists() {
        return Some("no such file or folder");
    }
    None
}
