//! Property tests: thousands of mutated and random specs through the whole
//! validation pipeline. None may panic, and every diagnostic must name the
//! file it is about and a line inside that file.

use std::path::PathBuf;

use modelctl_spec::{Report, Source, check_sources};
use proptest::prelude::*;

const CONFIG: &str = include_str!("../fixtures/valid/modelctl.toml");

/// Real specs to mutate: the example repository and the valid fixtures.
const SEEDS: [&str; 8] = [
    include_str!("../../models/image-tagging.toml"),
    include_str!("../../models/translation.toml"),
    include_str!("../../models/ads-bidding.toml"),
    include_str!("../../models/digits.toml"),
    include_str!("../fixtures/valid/every-key.toml"),
    include_str!("../fixtures/valid/serve-minimal.toml"),
    include_str!("../fixtures/valid/train-minimal.toml"),
    include_str!("../fixtures/valid/shared-host-other-path.toml"),
];

/// Fragments that tend to break specs in interesting ways.
const TOKENS: [&str; 24] = [
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'''",
    "=",
    ",",
    ".",
    "\n",
    "#",
    "-1",
    "0",
    "99999999999",
    "1e400",
    "\"\"",
    "true",
    "[serve]",
    "[train.sweep]",
    "[env.staging]",
    "serve.replicas = ",
    "{ min = 3, max = 1 }",
    "\u{0}",
    "é",
];

/// One edit of a spec's text.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 1usize..80).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// The nearest character boundary at or before `i % (len + 1)`.
fn at(text: &str, i: usize) -> usize {
    let mut i = i % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &mut String, e: &Edit) {
    match *e {
        Edit::Delete(a, n) => {
            let s = at(text, a);
            let end = at(text, s + n.min(text.len() - s));
            text.replace_range(s..end.max(s), "");
        }
        Edit::Insert(a, t) => {
            let s = at(text, a);
            text.insert_str(s, TOKENS[t]);
        }
        Edit::Duplicate(a, n) => {
            let s = at(text, a);
            let end = at(text, s + n.min(text.len() - s)).max(s);
            let piece = text[s..end].to_owned();
            text.insert_str(end, &piece);
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
                *text = lines.join("\n");
            }
        }
    }
}

/// Every diagnostic names one of the files and a line inside it.
fn assert_well_located(report: &Report, sources: &[&Source]) {
    for d in report.diagnostics() {
        let src = sources
            .iter()
            .find(|s| s.path == d.file)
            .unwrap_or_else(|| panic!("diagnostic names an unknown file: {d:?}"));
        let pos = report
            .start_of(d)
            .unwrap_or_else(|| panic!("diagnostic without a position: {d:?}"));
        let lines = src.text.lines().count().max(1);
        assert!(
            pos.line >= 1 && pos.line <= lines + 1,
            "line {} outside {} ({lines} lines): {d:?}",
            pos.line,
            d.file.display()
        );
        assert!(!d.message.is_empty());
        // Rendering must not panic either.
        let _ = modelctl_spec::diag::json::render(report);
    }
    let _ = report.to_string();
}

fn check(model_text: String) {
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: CONFIG.to_owned(),
    };
    let model = Source {
        path: PathBuf::from("models/fuzzed.toml"),
        text: model_text,
    };
    let (_, report) = check_sources(Some(&config), std::slice::from_ref(&model));
    assert_well_located(&report, &[&config, &model]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_specs_never_panic(seed in 0..SEEDS.len(), edits in prop::collection::vec(edit(), 1..6)) {
        let mut text = SEEDS[seed].to_owned();
        for e in &edits {
            apply(&mut text, e);
        }
        check(text);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        check(text);
    }

    #[test]
    fn random_toml_shaped_text_never_panics(
        lines in prop::collection::vec("[a-z.\\[\\]{}=\" ,0-9-]{0,40}", 0..20)
    ) {
        check(lines.join("\n"));
    }

    #[test]
    fn mutated_configs_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        let mut text = CONFIG.to_owned();
        for e in &edits {
            apply(&mut text, e);
        }
        let config = Source { path: PathBuf::from("modelctl.toml"), text };
        let model = Source {
            path: PathBuf::from("models/serve-minimal.toml"),
            text: SEEDS[5].to_owned(),
        };
        let (_, report) = check_sources(Some(&config), std::slice::from_ref(&model));
        assert_well_located(&report, &[&config, &model]);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    check(format!(
        "[serve]\nmodel = {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    check(format!("x = {}\n", "{ a = ".repeat(50_000)));
}

#[test]
fn huge_specs_do_not_crash() {
    let mut text = String::from("[serve]\nmodel = \"s3://b/m.onnx\"\n[env.staging]\n");
    for i in 0..20_000 {
        text.push_str(&format!("k{i} = {i}\n"));
    }
    check(text);
}
