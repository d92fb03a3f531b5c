//! The JSON Schemas in `schemas/` against the code: they are current, they
//! accept every valid spec, and they reject exactly the invalid fixtures
//! marked `# schema: rejects` (the type and single-value errors a schema can
//! express), which the code rejects too.

use std::path::{Path, PathBuf};

use modelctl_spec::schema::{SchemaKind, check_toml, schema_text};
use modelctl_spec::{Source, check_sources};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn kind_of(path: &Path) -> SchemaKind {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name == "modelctl.toml" || name.starts_with("config-") {
        SchemaKind::Config
    } else {
        SchemaKind::Model
    }
}

#[test]
fn committed_schemas_are_current() {
    for kind in SchemaKind::all() {
        let path = root().join("schemas").join(kind.file_name());
        let committed = std::fs::read_to_string(&path).expect("schema file");
        assert!(
            committed == schema_text(kind),
            "{} is stale; run `modelctl schema`",
            path.display()
        );
    }
}

#[test]
fn schema_accepts_every_valid_spec() {
    let mut files = toml_files(&root().join("models"));
    files.push(root().join("modelctl.toml"));
    files.extend(toml_files(&root().join("tests/fixtures/valid")));
    for file in files {
        let text = std::fs::read_to_string(&file).expect("spec");
        let errors = check_toml(kind_of(&file), &text).expect("TOML");
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn schema_and_code_reject_the_same_fixtures() {
    let mut mismatches = Vec::new();
    for file in toml_files(&root().join("tests/fixtures/invalid")) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // not UTF-8: neither a schema nor TOML applies
        };
        let marked = text.lines().any(|l| l == "# schema: rejects");
        let Some(errors) = check_toml(kind_of(&file), &text) else {
            continue; // a syntax error: no document to hold against a schema
        };
        let schema_rejects = !errors.is_empty();
        if marked != schema_rejects {
            mismatches.push(format!(
                "{}: marked {marked}, schema rejects {schema_rejects}",
                file.display()
            ));
        }
        if marked {
            let src = Source {
                path: file.clone(),
                text,
            };
            let (config, models) = match kind_of(&file) {
                SchemaKind::Config => (Some(src), Vec::new()),
                SchemaKind::Model => (None, vec![src]),
            };
            let (_, report) = check_sources(config.as_ref(), &models);
            assert!(!report.is_empty(), "code accepts {}", file.display());
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
