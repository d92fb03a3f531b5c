//! The YAML writer reads back as the value it wrote: for every object the
//! repositories render, and for arbitrary JSON values with awkward strings
//! (numbers, booleans, indicators, quotes, line breaks, Unicode).

use crate::render_support;

use modelctl::compile::to_yaml;
use proptest::prelude::*;
use render_support::{all_repos, manifests};
use serde_json::Value;

fn read_back(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

#[test]
fn every_rendered_object_reads_back_unchanged() {
    for (name, repo) in all_repos() {
        for (env, m) in manifests(&repo) {
            let yaml = to_yaml(&m.object);
            assert_eq!(
                read_back(&yaml),
                m.object,
                "{name}: {env}/{}",
                m.file.display()
            );
        }
    }
}

/// Strings built from the pieces that trip YAML writers up.
fn awkward_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("yes".to_owned()),
        Just("No".to_owned()),
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("0x1F".to_owned()),
        Just("1e3".to_owned()),
        Just("2026-11-20".to_owned()),
        Just("-.inf".to_owned()),
        Just("<<".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just(" #".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        Just(" ".to_owned()),
        Just("---".to_owned()),
        Just("é€😀".to_owned()),
        Just("\u{2028}\u{85}\u{feff}".to_owned()),
        "[a-z0-9./=@%-]{0,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        awkward_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(awkward_string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_json_value_reads_back_unchanged(value in json_value()) {
        let yaml = to_yaml(&value);
        prop_assert_eq!(read_back(&yaml), value, "{}", yaml);
    }

    #[test]
    fn any_string_reads_back_unchanged(s in awkward_string()) {
        let value = serde_json::json!({ "key": s.clone(), s: ["x"] });
        let yaml = to_yaml(&value);
        prop_assert_eq!(read_back(&yaml), value, "{}", yaml);
    }
}
