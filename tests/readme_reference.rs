//! The README's spec reference is the one generated from the spec types' doc
//! comments (`modelctl schema --reference`), so the two cannot drift apart.

use std::path::Path;

const START: &str = "<!-- spec-reference:start -->\n";
const END: &str = "<!-- spec-reference:end -->";

#[test]
fn readme_spec_reference_matches_the_doc_comments() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let start = readme
        .find(START)
        .expect("README.md has the spec-reference start marker")
        + START.len();
    let end = readme
        .find(END)
        .expect("README.md has the spec-reference end marker");
    let generated = modelctl_spec::reference::markdown();
    assert!(
        readme[start..end] == generated,
        "the README's spec reference is stale: replace the text between the \
         spec-reference markers with the output of `modelctl schema --reference`"
    );
}
