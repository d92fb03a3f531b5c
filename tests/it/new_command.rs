//! `modelctl new`: for every combination of `--serve`, `--train` and
//! `--route`, the written spec carries the `#:schema` line, validates and
//! renders as it stands to the objects the flags ask for; an existing spec
//! is never overwritten.

use crate::render_support;

use std::fs;

use render_support::{code, copy_repo, example_root, modelctl};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_flag_combination_writes_a_spec_that_validates_and_renders() {
    let cases: [(&[&str], bool, bool, bool); 6] = [
        (&[], true, false, false),
        (&["--serve"], true, false, false),
        (&["--train"], false, true, false),
        (&["--serve", "--train"], true, true, false),
        (&["--route", "fraud.ml.example.com"], true, false, true),
        (
            &["--train", "--route", "fraud.ml.example.com"],
            true,
            true,
            true,
        ),
    ];
    for (flags, serves, trains, routes) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_repo(&example_root(), dir.path());
        let mut args = vec!["new", "fraud-score"];
        args.extend_from_slice(flags);
        let out = modelctl(dir.path(), &args);
        assert_eq!(code(&out), 0, "{flags:?}: {}", stderr(&out));
        let text = fs::read_to_string(dir.path().join("models/fraud-score.toml")).unwrap();
        assert!(text.starts_with("#:schema ../schemas/model.schema.json\n"));
        assert_eq!(text.contains("\n[serve]\n"), serves, "{flags:?}");
        assert_eq!(text.contains("\n[train]\n"), trains, "{flags:?}");

        let validate = modelctl(dir.path(), &["validate"]);
        assert_eq!(code(&validate), 0, "{flags:?}: {}", stderr(&validate));
        let render = modelctl(dir.path(), &["render"]);
        assert_eq!(code(&render), 0, "{flags:?}: {}", stderr(&render));
        for env in ["staging", "production"] {
            let model_dir = dir.path().join("generated").join(env).join("fraud-score");
            let files: Vec<String> = fs::read_dir(&model_dir)
                .unwrap_or_else(|e| panic!("{flags:?}: {}: {e}", model_dir.display()))
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let has = |prefix: &str| files.iter().any(|f| f.starts_with(prefix));
            assert_eq!(has("deployment-fraud-score"), serves, "{flags:?} {files:?}");
            assert_eq!(has("job-fraud-score-train-"), trains, "{flags:?} {files:?}");
            assert_eq!(has("httproute-fraud-score"), routes, "{flags:?} {files:?}");
        }
    }
}

#[test]
fn an_existing_spec_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), dir.path());
    let path = dir.path().join("models/digits.toml");
    let before = fs::read(&path).unwrap();
    let out = modelctl(dir.path(), &["new", "digits", "--train"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("models/digits.toml already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_spec_that_would_not_validate_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), dir.path());
    for (args, message) in [
        (&["new", "Fraud_Score"][..], "is not a model name"),
        (
            &["new", "fraud", "--route", "digits.ml.example.com"][..],
            "is already the route of model `digits`",
        ),
        (
            &["new", "fraud", "--route", "not a host"][..],
            "is not a host name",
        ),
    ] {
        let out = modelctl(dir.path(), args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert!(!dir.path().join("models/fraud.toml").exists());
}

#[test]
fn a_profile_gives_its_keys_and_the_spec_leaves_them_out() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), dir.path());
    let out = modelctl(dir.path(), &["new", "reranker", "--profile", "gpu-serving"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = fs::read_to_string(dir.path().join("models/reranker.toml")).unwrap();
    assert!(text.contains("\nprofile = \"gpu-serving\"\n"), "{text}");
    assert!(
        !text.contains("batching =") && !text.contains("warmup ="),
        "{text}"
    );
    assert!(
        text.contains("\n[serve]\n") && !text.contains("\n[train]\n"),
        "{text}"
    );
    let render = modelctl(dir.path(), &["render"]);
    assert_eq!(code(&render), 0, "{}", stderr(&render));
    // The profile's batching and warm-up reach the Deployment's server flags.
    let deployment = fs::read_to_string(
        dir.path()
            .join("generated/production/reranker/deployment-reranker.yaml"),
    )
    .unwrap();
    for flag in ["--max-batch=16", "--max-delay=10ms", "--warmup=8"] {
        assert!(deployment.contains(flag), "{flag}:\n{deployment}");
    }

    // An unknown profile: nothing is written, and the error says which.
    let out = modelctl(dir.path(), &["new", "ranker", "--profile", "gpu-servng"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no profile `gpu-servng`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("did you mean `gpu-serving`?"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("models/ranker.toml").exists());
}
