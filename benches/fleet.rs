//! A fleet: 1,000 models over three environments, as a platform team has
//! them. Mixed: serve-only models, trained and served models, 2 × 2 sweeps,
//! two-node training runs, specs that take profiles, and two teams whose
//! models live in their own namespaces in `production` (`owner-namespace`).
//! Each figure runs the `modelctl` binary on a repository of real files, as
//! a user would:
//!
//! - `validate`: every spec and `modelctl.toml`;
//! - `render (fresh)`: into an empty `generated/`;
//! - `render (unchanged)`: again, with nothing to write;
//! - `write floor`: the same files (same paths, same bytes) written by a
//!   plain loop of `create_dir_all` and `fs::write`, the least a render can
//!   cost. The target is a fresh render within 1.5× of it.
//!
//! Each figure is the median of 5 runs. Run with `cargo bench --bench
//! fleet`; `MODELCTL_FLEET_MODELS=N` changes the count, and
//! `MODELCTL_FLEET_WRITE=DIR` only writes the repository into DIR, its
//! namespaces named from `MODELCTL_FLEET_NAMESPACE` (what
//! `benches/fleet-cluster.sh` applies to a real API server).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn main() {
    let n: usize = std::env::var("MODELCTL_FLEET_MODELS")
        .ok()
        .map(|v| v.parse().expect("MODELCTL_FLEET_MODELS is a count"))
        .unwrap_or(1_000);
    if let Some(dir) = std::env::var_os("MODELCTL_FLEET_WRITE") {
        let dir = PathBuf::from(dir);
        let namespace = std::env::var("MODELCTL_FLEET_NAMESPACE").unwrap_or_else(|_| "ml".into());
        write_repo(&dir, n, &namespace);
        println!("wrote a fleet of {n} models into {}", dir.display());
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path().join("repo");
    let mix = write_repo(&root, n, "ml");
    println!("fleet: {n} models ({mix}), environments staging, production, lab");

    let validate = median(|| {
        let t = Instant::now();
        modelctl(&root, &["validate"]);
        t.elapsed().as_secs_f64()
    });
    let fresh = median(|| {
        let _ = std::fs::remove_dir_all(root.join("generated"));
        let t = Instant::now();
        modelctl(&root, &["render"]);
        t.elapsed().as_secs_f64()
    });
    let unchanged = median(|| {
        let t = Instant::now();
        modelctl(&root, &["render"]);
        t.elapsed().as_secs_f64()
    });
    let files = read_tree(&root.join("generated"));
    let bytes: usize = files.values().map(Vec::len).sum();
    let floor_dir = dir.path().join("floor");
    let floor = median(|| {
        let _ = std::fs::remove_dir_all(&floor_dir);
        let t = Instant::now();
        for (path, body) in &files {
            let full = floor_dir.join(path);
            std::fs::create_dir_all(full.parent().expect("a parent")).expect("a directory");
            std::fs::write(&full, body).expect("a file");
        }
        t.elapsed().as_secs_f64()
    });
    let objects = files
        .iter()
        .filter(|(p, _)| !p.ends_with("kustomization.yaml"))
        .count();
    println!(
        "{} files ({objects} objects), {:.1} MB",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("{:<26} {:>9}", "step (median of 5)", "seconds");
    println!("{:<26} {validate:>9.3}", "modelctl validate");
    println!("{:<26} {fresh:>9.3}", "modelctl render (fresh)");
    println!("{:<26} {unchanged:>9.3}", "modelctl render (unchanged)");
    println!("{:<26} {floor:>9.3}", "write floor (same files)");
    println!(
        "fresh render / write floor: {:.2}x (target <= 1.5x)",
        fresh / floor
    );
}

fn median(mut f: impl FnMut() -> f64) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS).map(|_| f()).collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

/// Runs the release `modelctl` on `root`; it must succeed.
fn modelctl(root: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .expect("modelctl runs");
    assert!(
        out.status.success(),
        "modelctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir`, by relative path.
fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let body = std::fs::read(&path).expect("a file");
                out.insert(
                    path.strip_prefix(dir).expect("under dir").to_path_buf(),
                    body,
                );
            }
        }
    }
    out
}

/// The example's specs this fleet is made of.
const EXAMPLES: [&str; 4] = ["ads-bidding", "digits", "image-tagging", "translation"];

/// Writes `modelctl.toml` and `n` specs into `root` (environments in
/// namespaces named from `namespace`); returns what the mix is.
pub fn write_repo(root: &Path, n: usize, namespace: &str) -> String {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(example.join("modelctl.toml")).expect("modelctl.toml");
    let config = config
        .replace(
            "namespace = \"ml\"\nserver-image",
            &format!("namespace = \"{namespace}\"\nserver-image"),
        )
        .replace(
            "[environments.staging]\nnamespace = \"ml-staging\"",
            &format!("[environments.staging]\nnamespace = \"{namespace}-staging\""),
        )
        .replace(
            "[environments.production]\nnamespace = \"ml\"",
            &format!(
                "[environments.production]\nnamespace = \"{namespace}\"\nowner-namespace = \"{namespace}-{{{{ owner }}}}\""
            ),
        )
        .replace(
            "# Profiles:",
            &format!(
                "[environments.lab]\nnamespace = \"{namespace}-lab\"\n\n\
                 [profiles.gpu-train.train]\n\
                 image = \"pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\"\n\
                 resources = {{ cpu = \"16\", memory = \"64Gi\", gpu = 2 }}\n\
                 timeout = \"2d\"\n\n# Profiles:"
            ),
        );
    assert!(
        config.contains("owner-namespace") && config.contains("[environments.lab]"),
        "the example's modelctl.toml changed shape:\n{config}"
    );
    std::fs::create_dir_all(root.join("models")).expect("models/");
    std::fs::write(root.join("modelctl.toml"), config).expect("modelctl.toml");
    let specs: Vec<String> = EXAMPLES
        .iter()
        .map(|m| std::fs::read_to_string(example.join(format!("models/{m}.toml"))).expect("a spec"))
        .collect();
    let mut counts = [0usize; 5];
    for i in 0..n {
        let kind = i % 5;
        counts[kind] += 1;
        let team = if i % 2 == 0 { "team-a" } else { "team-b" };
        let (name, text) = match kind {
            // Two-node training of the translation model's shape, from a profile.
            4 => {
                let name = format!("multi-{i}");
                let text = specs[3]
                    .replace(
                        "image = \"pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\"\n",
                        "nodes = 2\n",
                    )
                    .replace(
                        "resources = { cpu = \"16\", memory = \"64Gi\", gpu = 2 }\n",
                        "",
                    )
                    .replace("timeout = \"2d\"\n", "")
                    .replace(
                        "profile = \"gpu-serving\"",
                        "profile = [\"gpu-serving\", \"gpu-train\"]",
                    )
                    .replace("translation", &name);
                (name, text)
            }
            k => {
                let base = EXAMPLES[k];
                let name = format!("{base}-{i}");
                (name.clone(), specs[k].replace(base, &name))
            }
        };
        let text = owner(&text, team).replace("host = \"", &format!("host = \"{name}-"));
        std::fs::write(root.join(format!("models/{name}.toml")), text).expect("a spec");
    }
    format!(
        "{} serve-only, {} trained and served, {} 2x2 sweeps, {} with a profile, {} two-node runs with two profiles; owners team-a and team-b",
        counts[0], counts[1], counts[2], counts[3], counts[4]
    )
}

/// `text` with its `owner` set to `team`.
fn owner(text: &str, team: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("owner = ") {
                format!("owner = \"{team}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
