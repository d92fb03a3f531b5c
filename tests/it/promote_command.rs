//! `modelctl promote` end to end against the test double: the best run's
//! exported model lands in `serve.model` (one line of the spec changes),
//! `generated/` follows and the manifest diff is printed; runs that failed,
//! exported nothing or do not exist are refused with the file untouched;
//! nothing is sent to the cluster but reads.

use crate::kube_double;

use std::path::{Path, PathBuf};
use std::process::Output;

use kube_double::{KubeDouble, runs};

struct Repo {
    double: KubeDouble,
    dir: tempfile::TempDir,
}

impl Repo {
    /// A copy of the example repository (specs and generated/), and a
    /// double holding the image-tagging runs.
    async fn start() -> Repo {
        let double = KubeDouble::start().await;
        runs::seed(&double);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), double.kubeconfig_yaml()).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = dir.path().join("repo");
        for sub in ["models", "generated"] {
            copy_dir(&example.join(sub), &root.join(sub));
        }
        std::fs::copy(example.join("modelctl.toml"), root.join("modelctl.toml")).unwrap();
        Repo { double, dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn spec(&self) -> String {
        std::fs::read_to_string(self.root().join("models/image-tagging.toml")).unwrap()
    }

    /// Temporary files a promote left in `models/` (none, after any outcome).
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("models"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".promote.tmp"))
            .collect()
    }

    async fn run(&self, args: &[&str]) -> Output {
        let kubeconfig = self.dir.path().join("kubeconfig");
        let root = self.root();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
                .arg("-C")
                .arg(root)
                .args(&args)
                .args(["--env", "production", "--context", "admin"])
                .env("KUBECONFIG", kubeconfig)
                .env("NO_COLOR", "1")
                .output()
                .expect("running modelctl")
        })
        .await
        .unwrap()
    }

    /// Only reads reached the cluster.
    fn only_reads(&self) {
        for r in self.double.requests() {
            assert_eq!(r.method, "GET", "{} {}", r.method, r.path);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_best_run_is_promoted_and_generated_follows() {
    let repo = Repo::start().await;
    let before = repo.spec();
    let out = repo.run(&["promote", "image-tagging", "--best"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let after = repo.spec();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(
        changed,
        [(
            "model = \"s3://ml-models/image-tagging/2026-11-20/model.onnx\"",
            &*format!("model = \"{}\"", runs::BEST_MODEL)
        )]
    );
    assert!(stderr.contains("set `serve.model`"), "{stderr}");
    // The staging override of replicas does not shadow the model: no warning.
    assert!(!stderr.contains("warning"), "{stderr}");
    // The manifest diff names the new model in both environments' Deployments.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("+        - --model-uri={}", runs::BEST_MODEL)),
        "{stdout}"
    );
    assert!(stdout.contains("production"), "{stdout}");
    assert!(stdout.contains("staging"), "{stdout}");
    // generated/ is current.
    let deployment = std::fs::read_to_string(
        repo.root()
            .join("generated/production/image-tagging/deployment-image-tagging.yaml"),
    )
    .unwrap();
    assert!(deployment.contains(runs::BEST_MODEL));
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .arg("-C")
        .arg(repo.root())
        .args(["render", "--check"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    repo.only_reads();
    // The edit went through a temporary file, renamed over the spec.
    assert!(repo.leftovers().is_empty(), "{:?}", repo.leftovers());

    // Promoting it again changes nothing.
    let again = repo.run(&["promote", "image-tagging", "--best"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stderr).contains("nothing to change"));
    assert_eq!(repo.spec(), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_run_goes_to_the_canary_with_its_weight() {
    let repo = Repo::start().await;
    let run = format!("{}-3", runs::SWEEP_JOB);
    let out = repo
        .run(&["promote", "image-tagging", "--run", &run, "--canary", "10"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spec = repo.spec();
    assert!(
        spec.contains(&format!(
            "[serve.canary]\nmodel = \"{}\"\nweight = 10\n",
            runs::OTHER_MODEL
        )),
        "{spec}"
    );
    assert!(
        std::fs::read_dir(repo.root().join("generated/production/image-tagging"))
            .unwrap()
            .any(|e| e.unwrap().file_name() == "deployment-image-tagging-canary.yaml")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_cannot_be_served_are_refused_and_the_spec_untouched() {
    let repo = Repo::start().await;
    let before = repo.spec();
    let failed_trial = format!("{}-1", runs::SWEEP_JOB);
    let running_trial = format!("{}-2", runs::SWEEP_JOB);
    for (run, why) in [
        (
            failed_trial.as_str(),
            "has not succeeded (it is failed: container train exited 1",
        ),
        (running_trial.as_str(), "has not succeeded (it is running)"),
        (runs::FAILED_JOB, "access denied"),
        (runs::OLD_JOB, "has no exported model to serve"),
        (
            "image-tagging-train-00000000",
            "is not a run of `image-tagging`",
        ),
    ] {
        let out = repo.run(&["promote", "image-tagging", "--run", run]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{run}: {stderr}");
        assert!(stderr.contains("refused: "), "{stderr}");
        assert!(stderr.contains(why), "{run}: {stderr}");
        assert_eq!(repo.spec(), before, "{run}");
    }
    repo.only_reads();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_that_would_not_validate_is_refused() {
    let repo = Repo::start().await;
    let best = repo.run(&["promote", "image-tagging", "--best"]).await;
    assert_eq!(best.status.code(), Some(0), "{}", text(&best.stderr));
    let before = repo.spec();
    // A canary of the model already served is invalid.
    let out = repo
        .run(&["promote", "image-tagging", "--best", "--canary", "20"])
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the canary serves the same model"),
        "{stderr}"
    );
    assert!(
        stderr.contains("would leave models/image-tagging.toml invalid"),
        "{stderr}"
    );
    assert_eq!(repo.spec(), before);
    assert!(repo.leftovers().is_empty(), "{:?}", repo.leftovers());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let repo = Repo::start().await;
    for args in [
        &["promote", "image-tagging"][..],
        &["promote", "image-tagging", "--best", "--canary", "100"],
        &["promote", "no-such-model", "--best"],
    ] {
        let out = repo.run(args).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
