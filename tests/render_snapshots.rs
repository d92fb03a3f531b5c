//! Snapshots of the rendered YAML of every fixture repository under
//! `tests/fixtures/render/`: any change to a generated object shows up here.

mod render_support;

use render_support::{fixtures, load, rendered_text};

#[test]
fn every_fixture_renders_to_its_snapshot() {
    for (name, dir) in fixtures() {
        let text = rendered_text(&load(&dir));
        insta::assert_snapshot!(format!("render_{name}"), text);
    }
}
