//! Rules across files: one model per name, one model per host and path.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Report, Stage};
use crate::repo::{Model, RouteClaim};

/// Checks the rules that relate several models.
pub(crate) fn check(models: &[Model], claims: &[RouteClaim], report: &mut Report) {
    let mut names: BTreeMap<&str, &Model> = BTreeMap::new();
    for m in models {
        if let Some(first) = names.insert(m.name.as_str(), m) {
            report.push(
                Diagnostic::new(
                    &m.source,
                    Some(0..0),
                    Stage::Rule,
                    format!(
                        "model `{}` is also defined by `{}`",
                        m.name,
                        first.source.display()
                    ),
                )
                .with_help("model names come from file names and must be unique; rename one file"),
            );
        }
    }
    let mut seen: BTreeMap<(&str, &str, &str), &RouteClaim> = BTreeMap::new();
    for c in claims {
        let key = (c.env.as_str(), c.host.as_str(), c.path.as_str());
        match seen.get(&key) {
            Some(first) if first.model != c.model => {
                let path = if c.path.is_empty() {
                    "/"
                } else {
                    c.path.as_str()
                };
                let env = if c.env.is_empty() {
                    String::new()
                } else {
                    format!(" in `{}`", c.env)
                };
                report.push(
                    Diagnostic::new(
                        &c.file,
                        Some(c.span.clone()),
                        Stage::Rule,
                        format!(
                            "`{}{path}` is already the route of model `{}`{env}",
                            c.host, first.model
                        ),
                    )
                    .with_label("claimed again here")
                    .with_related(&first.file, first.span.clone(), "first claimed here")
                    .with_help("give each model its own host, or its own path on a shared host"),
                );
            }
            Some(_) => {}
            None => {
                seen.insert(key, c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{Source, check_sources};

    fn src(path: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from(path),
            text: text.to_owned(),
        }
    }

    #[test]
    fn one_model_per_name() {
        let spec = "[serve]\nmodel = \"s3://b/m.onnx\"\n";
        let (_, report) = check_sources(None, &[src("a/m.toml", spec), src("b/m.toml", spec)]);
        assert_eq!(report.len(), 1);
        assert_eq!(
            report.diagnostics()[0].message,
            "model `m` is also defined by `a/m.toml`"
        );
    }

    #[test]
    fn one_model_per_host_and_path() {
        let spec = |p: &str| {
            format!(
                "[serve]\nmodel = \"s3://b/m.onnx\"\nroute = {{ host = \"x.example.com\", path = \"{p}\" }}\n"
            )
        };
        let (_, report) = check_sources(
            None,
            &[
                src("a.toml", &spec("/")),
                src("b.toml", &spec("/v2")),
                src("c.toml", &spec("/")),
            ],
        );
        assert_eq!(report.len(), 1);
        let d = &report.diagnostics()[0];
        assert_eq!(d.file, PathBuf::from("c.toml"));
        assert_eq!(d.related[0].file, PathBuf::from("a.toml"));
    }
}
