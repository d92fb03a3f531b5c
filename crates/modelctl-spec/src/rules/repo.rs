//! Rules across files: one model per name, no model named like another
//! model's canary, one model per host and path.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::diag::{Diagnostic, Report, Stage};
use crate::repo::Model;

/// Where a model's route is claimed, for the one-model-per-host-and-path
/// check: the pipeline collects one per model and environment.
pub(crate) struct RouteClaim {
    /// The model (the file stem when the name is invalid).
    pub model: String,
    /// Its spec file.
    pub file: PathBuf,
    /// The environment (`""` when checked without a config).
    pub env: String,
    /// The route's host.
    pub host: String,
    /// The route's prefix ([`crate::model::Route::prefix`]): `""` for the root.
    pub prefix: String,
    /// The `host` value in the file.
    pub span: Range<usize>,
}

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
    for m in models {
        // The spec as written, and as resolved for each environment (an
        // `[env.X]` override may add the canary).
        let has_canary = std::iter::once(&m.spec)
            .chain(m.resolved.values())
            .any(|spec| spec.serve.as_ref().is_some_and(|s| s.canary.is_some()));
        let twin = format!("{}-canary", m.name);
        if let Some(other) = names.get(twin.as_str()).filter(|_| has_canary) {
            report.push(
                Diagnostic::new(
                    &other.source,
                    Some(0..0),
                    Stage::Rule,
                    format!("model `{twin}` has the name of model `{}`'s canary", m.name),
                )
                .with_help(format!(
                    "the canary of `{}` ({}) is rendered as Deployment and Service `{twin}`; rename one of the files",
                    m.name,
                    m.source.display()
                )),
            );
        }
    }
    let mut seen: BTreeMap<(&str, &str, &str), &RouteClaim> = BTreeMap::new();
    for c in claims {
        let key = (c.env.as_str(), c.host.as_str(), c.prefix.as_str());
        match seen.get(&key) {
            Some(first) if first.model != c.model => {
                let path = if c.prefix.is_empty() {
                    "/"
                } else {
                    c.prefix.as_str()
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
    fn no_model_named_like_a_canary() {
        let with_canary = "[serve]\nmodel = \"s3://b/m.onnx\"\nroute = { host = \"x.example.com\" }\n\n[serve.canary]\nmodel = \"s3://b/m2.onnx\"\nweight = 10\n";
        let plain = "[serve]\nmodel = \"s3://b/m.onnx\"\n";
        let (_, report) = check_sources(
            None,
            &[src("x.toml", with_canary), src("x-canary.toml", plain)],
        );
        assert_eq!(report.len(), 1, "{report}");
        let d = &report.diagnostics()[0];
        assert_eq!(d.file, PathBuf::from("x-canary.toml"));
        assert_eq!(
            d.message,
            "model `x-canary` has the name of model `x`'s canary"
        );

        let (_, report) = check_sources(None, &[src("x.toml", plain), src("x-canary.toml", plain)]);
        assert!(report.is_empty(), "{report}");
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
