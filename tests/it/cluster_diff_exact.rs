//! The fast diff against the kube test double: for random changes to the
//! live objects (by other field managers, by `kubectl edit`-style updates)
//! and to the rendered ones, it reports exactly what dry-running every
//! object reports (see `diff_exactness`). The same property runs against a
//! real API server in `real_cluster`.

use crate::diff_exactness;
use crate::kube_double;

use kube_double::KubeDouble;

#[test]
fn fast_diff_reports_what_dry_running_every_object_reports() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut runner = diff_exactness::runner(256);
    let changed = std::cell::Cell::new(0usize);
    let cases = std::cell::Cell::new(0usize);
    let dry_runs = std::cell::Cell::new((0usize, 0usize));
    let result = runner.run(&diff_exactness::cases(), |case| {
        let outcome = runtime.block_on(async {
            let double = KubeDouble::start().await;
            let cluster = double.cluster().await;
            diff_exactness::check(&cluster, "ml", "production", "", &case, false).await
        });
        let outcome = outcome.map_err(proptest::test_runner::TestCaseError::fail)?;
        cases.set(cases.get() + 1);
        changed.set(changed.get() + usize::from(outcome.changes > 0));
        let (fast, exact) = dry_runs.get();
        dry_runs.set((fast + outcome.fast_dry_runs, exact + outcome.exact_dry_runs));
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    // The cases exercise both answers, not only "no change".
    let (changed, cases) = (changed.get(), cases.get());
    assert!(
        changed > cases / 4 && changed < cases,
        "{changed} of {cases} cases changed"
    );
    // The fast path earns its name: it dry-runs only what it flags, so over
    // the cases it sends fewer dry runs than dry-running every object.
    let (fast, exact) = dry_runs.get();
    assert!(
        fast < exact,
        "the fast diff sent {fast} dry runs, the exact one {exact}"
    );
}
