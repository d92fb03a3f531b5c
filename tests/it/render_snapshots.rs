//! Snapshots of the rendered YAML of every fixture repository under
//! `tests/fixtures/render/`: any change to a generated object shows up here.

use crate::render_support;

use modelctl::compile::render_files;
use render_support::{fixtures, load, rendered_text, valid_fixtures};

#[test]
fn every_fixture_renders_to_its_snapshot() {
    for (name, dir) in fixtures() {
        let text = rendered_text(&load(&dir));
        insta::assert_snapshot!(format!("render_{name}"), text);
    }
}

#[test]
fn every_valid_validation_fixture_renders_to_its_snapshot() {
    let repo = valid_fixtures();
    for model in &repo.models {
        let mut text = String::new();
        for env in repo.config.env_names() {
            for (path, body) in render_files(&repo.environment(env).expect("environment exists")) {
                if path.starts_with(model.name.as_str()) {
                    text.push_str(&format!("=== {env}/{}\n", path.display()));
                    text.push_str(&body);
                }
            }
        }
        insta::assert_snapshot!(format!("render_valid_{}", model.name), text);
    }
}
