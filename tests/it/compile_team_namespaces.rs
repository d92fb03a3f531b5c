//! Team namespaces in the render: with `owner-namespace` in an environment,
//! every object of a model with an `owner` goes to its team's namespace
//! (the route, the autoscaler, the training Job and its ConfigMap alike),
//! a spec's own `namespace` wins, and other environments are unchanged.

use crate::render_support;

use modelctl::compile::render_env;
use modelctl_spec::{Source, load_sources};
use render_support::example_root;

fn example_with(production: &str) -> modelctl_spec::Repo {
    let root = example_root();
    let config = std::fs::read_to_string(root.join("modelctl.toml")).unwrap();
    let config = Source {
        path: "modelctl.toml".into(),
        text: config.replace(
            "[environments.production]\n",
            &format!("[environments.production]\n{production}"),
        ),
    };
    let mut models = Vec::new();
    for entry in std::fs::read_dir(root.join("models")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.ends_with("digits.toml") {
            // One model pins a namespace of its own.
            text = text.replacen("owner = ", "namespace = \"shared-tools\"\nowner = ", 1);
        }
        models.push(Source {
            path: std::path::PathBuf::from("models").join(path.file_name().unwrap()),
            text,
        });
    }
    load_sources(&config, &models).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_object_goes_to_its_models_team_namespace() {
    let repo = example_with("owner-namespace = \"ml-{{ owner }}\"\n");
    let owners = [
        ("ads-bidding", "ml-team-ads"),
        ("digits", "shared-tools"),
        ("image-tagging", "ml-team-images"),
        ("translation", "ml-team-content"),
    ];
    let production = render_env(&repo.environment("production").unwrap());
    assert!(production.len() > 20);
    for m in &production {
        let expected = owners
            .iter()
            .find(|(model, _)| *model == m.model)
            .unwrap()
            .1;
        assert_eq!(
            m.object["metadata"]["namespace"],
            expected,
            "{}",
            m.file.display()
        );
        // A route's backends stay inside it.
        if m.object["kind"] == "HTTPRoute" {
            for rule in m.object["spec"]["rules"].as_array().unwrap() {
                for backend in rule["backendRefs"].as_array().unwrap() {
                    assert!(
                        backend.get("namespace").is_none_or(|ns| ns == expected),
                        "{backend}"
                    );
                }
            }
        }
    }
    // Staging has no template: everything stays in its namespace, except
    // the model that names its own.
    for m in render_env(&repo.environment("staging").unwrap()) {
        let expected = if m.model == "digits" {
            "shared-tools"
        } else {
            "ml-staging"
        };
        assert_eq!(
            m.object["metadata"]["namespace"],
            expected,
            "{}",
            m.file.display()
        );
    }
}

#[test]
fn without_a_template_nothing_moves() {
    let plain = example_with("");
    for m in render_env(&plain.environment("production").unwrap()) {
        let expected = if m.model == "digits" {
            "shared-tools"
        } else {
            "ml"
        };
        assert_eq!(
            m.object["metadata"]["namespace"],
            expected,
            "{}",
            m.file.display()
        );
    }
}
