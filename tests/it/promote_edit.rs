//! `promote`'s edit of a spec: only the value of `serve.model` (or the
//! canary's model and weight) changes, byte for byte everything else stays,
//! whatever form the keys take: tables, inline tables, dotted keys and
//! `[env.*]` overrides.

use modelctl::spec_edit::{EditError, Edited, Slot, promote};

const URI: &str = "s3://ml-models/image-tagging/image-tagging-train-df06cae3-0/model.onnx";

/// The lines that differ between `before` and `after` (same line count:
/// nothing was added or removed), as `(before, after)`.
fn changed_lines<'a>(before: &'a str, after: &'a str) -> Vec<(&'a str, &'a str)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(a.len(), b.len(), "lines were added or removed:\n{after}");
    assert_eq!(before.ends_with('\n'), after.ends_with('\n'));
    a.into_iter().zip(b).filter(|(x, y)| x != y).collect()
}

/// The value tokens of a line (quoted strings and whole numbers) by byte range.
fn value_tokens(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => {
                let end = line[i + 1..]
                    .find(q as char)
                    .map_or(bytes.len(), |j| i + 1 + j + 1);
                out.push((i, end));
                i = end;
            }
            b'0'..=b'9' if i == 0 || !bytes[i - 1].is_ascii_alphanumeric() => {
                let end = line[i..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(bytes.len(), |j| i + j);
                out.push((i, end));
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// Asserts exactly `expected` lines changed, each only in one value: the
/// old line with one of its value tokens replaced by the new model URI (or
/// weight) is the new line, so keys, spacing and comments are kept.
fn only_values_changed(before: &str, edited: &Edited, weight: Option<u32>, expected: usize) {
    let changed = changed_lines(before, &edited.text);
    assert_eq!(changed.len(), expected, "{changed:#?}");
    let mut news = vec![format!("\"{URI}\"")];
    news.extend(weight.map(|w| w.to_string()));
    for (old, new) in changed {
        let tokens = value_tokens(old);
        assert!(
            replaces_values(old, &tokens, 0, String::new(), new, &news),
            "{old:?} -> {new:?}"
        );
    }
}

/// Whether `new` is `old` with some of its value tokens (from `tokens[i..]`
/// on, `built` being the new text so far) replaced by one of `news`.
fn replaces_values(
    old: &str,
    tokens: &[(usize, usize)],
    i: usize,
    built: String,
    new: &str,
    news: &[String],
) -> bool {
    let from = if i == 0 { 0 } else { tokens[i - 1].1 };
    let Some(&(start, end)) = tokens.get(i) else {
        return built + &old[from..] == new;
    };
    let before = built + &old[from..start];
    if !new.starts_with(&before) {
        return false;
    }
    std::iter::once(&old[start..end])
        .chain(news.iter().map(String::as_str))
        .any(|value| replaces_values(old, tokens, i + 1, before.clone() + value, new, news))
}

const TABLES: &str = r#"#:schema ../schemas/model.schema.json
description = "Tags hotel photos"   # shown by status
owner = "team-images"

# Autoscaled, batched for throughput.
[serve]
model   =   "s3://ml-models/image-tagging/2026-11-20/model.onnx"  # the current model
replicas = { min = 2, max = 20, target-cpu = 70 }
route = { host = "image-tagging.ml.example.com", path = "/" }

# Ten percent try the next model.
[serve.canary]
model = 's3://ml-models/image-tagging/2026-11-24/model.onnx'
weight = 10 # percent

[env.staging]
serve.replicas = 1
"#;

#[test]
fn a_table_keeps_its_comments_and_spacing() {
    let edited = promote(TABLES, Slot::Serve, URI, None).unwrap();
    assert_eq!(edited.key, "serve.model");
    assert_eq!(
        edited.previous.as_deref(),
        Some("s3://ml-models/image-tagging/2026-11-20/model.onnx")
    );
    assert!(edited.shadowed_by.is_empty());
    only_values_changed(TABLES, &edited, None, 1);
    insta::assert_snapshot!("promote_tables", edited.text);
}

#[test]
fn a_canary_gets_its_model_and_weight() {
    let edited = promote(TABLES, Slot::Canary(25), URI, None).unwrap();
    assert_eq!(edited.key, "serve.canary.model");
    only_values_changed(TABLES, &edited, Some(25), 2);
    insta::assert_snapshot!("promote_canary_table", edited.text);
}

const INLINE: &str = r#"# Everything inline.
serve = { model = "https://models.example.com/digits/2026-11-25/digits-mlp.onnx", replicas = 2, route = { host = "digits.ml.example.com" }, canary = { model = "https://models.example.com/digits/next.onnx", weight = 5 } }
"#;

#[test]
fn inline_tables_stay_inline() {
    let edited = promote(INLINE, Slot::Serve, URI, None).unwrap();
    only_values_changed(INLINE, &edited, None, 1);
    insta::assert_snapshot!("promote_inline", edited.text);
    let canary = promote(INLINE, Slot::Canary(20), URI, None).unwrap();
    only_values_changed(INLINE, &canary, Some(20), 1);
    insta::assert_snapshot!("promote_inline_canary", canary.text);
}

const DOTTED: &str = r#"description = "Dotted keys"
serve.model = "gs://ml-models/translation/v7/model.onnx"  # promoted 2026-11-02
serve.replicas = 3
serve.route.host = "translate.ml.example.com"
serve.canary.model = "gs://ml-models/translation/v8/model.onnx"
serve.canary.weight = 5
"#;

#[test]
fn dotted_keys_stay_dotted() {
    let edited = promote(DOTTED, Slot::Serve, URI, None).unwrap();
    only_values_changed(DOTTED, &edited, None, 1);
    insta::assert_snapshot!("promote_dotted", edited.text);
    let canary = promote(DOTTED, Slot::Canary(50), URI, None).unwrap();
    only_values_changed(DOTTED, &canary, Some(50), 2);
}

const OVERRIDES: &str = r#"[serve]
model = "s3://ml-models/ads/2026-11-23/model.onnx"
replicas = 24
route = { host = "ads.ml.example.com" }

# Staging tries models first.
[env.staging]
serve.model = "s3://ml-models/ads/2026-11-30/model.onnx" # under test
serve.replicas = 2

[env.production.serve]
replicas = 30
"#;

#[test]
fn an_environment_override_is_edited_with_its_env() {
    let edited = promote(OVERRIDES, Slot::Serve, URI, Some("staging")).unwrap();
    assert_eq!(edited.key, "env.staging.serve.model");
    assert!(edited.shadowed_by.is_empty());
    only_values_changed(OVERRIDES, &edited, None, 1);
    insta::assert_snapshot!("promote_env_override", edited.text);
}

#[test]
fn the_base_is_edited_otherwise_and_the_override_reported() {
    for env in [None, Some("production")] {
        let edited = promote(OVERRIDES, Slot::Serve, URI, env).unwrap();
        assert_eq!(edited.key, "serve.model");
        assert_eq!(edited.shadowed_by, ["staging"]);
        only_values_changed(OVERRIDES, &edited, None, 1);
        assert!(
            edited.text.contains(
                "serve.model = \"s3://ml-models/ads/2026-11-30/model.onnx\" # under test"
            )
        );
    }
}

#[test]
fn a_missing_canary_is_added_after_serve() {
    let edited = promote(OVERRIDES, Slot::Canary(10), URI, None).unwrap();
    assert_eq!(edited.key, "serve.canary.model");
    // Everything before stays as it was, and the new table follows [serve].
    insta::assert_snapshot!("promote_canary_added", edited.text);
    let (before, after) = OVERRIDES.split_at(OVERRIDES.find("\n# Staging").unwrap());
    assert!(edited.text.starts_with(before));
    assert!(edited.text.ends_with(after));
}

#[test]
fn a_spec_without_serve_is_refused() {
    let err = promote(
        "[train]\nimage = \"python\"\ncommand = [\"x\"]\n",
        Slot::Serve,
        URI,
        None,
    )
    .unwrap_err();
    assert_eq!(err, EditError::NoServe);
    let err = promote("serve = \"x\"\n", Slot::Serve, URI, None).unwrap_err();
    assert_eq!(err, EditError::NotATable("serve".to_owned()));
}
