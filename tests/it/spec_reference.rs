//! The spec reference in `docs/spec.md` is the one generated from the spec
//! types' doc comments (`modelctl schema --reference`), so the two cannot
//! drift apart.

use std::path::Path;

const START: &str = "<!-- spec-reference:start -->\n";
const END: &str = "<!-- spec-reference:end -->";

#[test]
fn docs_spec_reference_matches_the_doc_comments() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/spec.md");
    let doc = std::fs::read_to_string(&path).expect("docs/spec.md is readable");
    let start = doc
        .find(START)
        .expect("docs/spec.md has the spec-reference start marker")
        + START.len();
    let end = doc
        .find(END)
        .expect("docs/spec.md has the spec-reference end marker");
    let generated = modelctl_spec::reference::markdown();
    assert!(
        doc[start..end] == generated,
        "the spec reference in docs/spec.md is stale: replace the text between \
         the spec-reference markers with the output of `modelctl schema --reference`"
    );
}
