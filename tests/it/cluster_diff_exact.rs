//! The fast diff against the kube test double: for changes to the live
//! objects (by other field managers, by `kubectl edit`-style updates) and to
//! the rendered ones, it reports exactly what dry-running every object
//! reports, dry-runs nothing it calls unchanged, and tells the truth about
//! the apply (see `diff_exactness`). First every op on every spot alone,
//! then random cases. The same property runs against a real API server in
//! `real_cluster`, which is the oracle that counts: the double shares no
//! code with what it checks, but imitates the server only so far.

use crate::diff_exactness::{self, Outcome, Server};
use crate::kube_double;

use kube_double::KubeDouble;

/// Runs a case on a fresh double (one with every case's objects in it
/// would make each LIST slower than the last).
fn run(runtime: &tokio::runtime::Runtime, case: &diff_exactness::Case) -> Result<Outcome, String> {
    runtime.block_on(async {
        let double = KubeDouble::start().await;
        let cluster = double.cluster().await;
        diff_exactness::check(&cluster, "ml", "production", "", case, Server::Double).await
    })
}

#[test]
fn every_edit_on_every_spot_is_reported_as_dry_running_every_object_reports() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cases = diff_exactness::every_edit();
    let mut total = Outcome::default();
    let mut changed = 0;
    for case in &cases {
        let outcome = run(&runtime, case).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        changed += usize::from(outcome.changes > 0);
        total += outcome;
    }
    // Most single edits show; some cannot (a field only others own, a
    // value set to what it is).
    assert!(
        changed > cases.len() / 2 && changed < cases.len(),
        "{changed} of {} cases changed",
        cases.len()
    );
    // Dropping a field another manager shares changes its ownership only.
    assert!(total.ownership_only > 0, "{total:?}");
    assert!(total.fast_dry_runs < total.exact_dry_runs, "{total:?}");
}

#[test]
fn fast_diff_reports_what_dry_running_every_object_reports() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut runner = diff_exactness::runner(256);
    let changed = std::cell::Cell::new(0usize);
    let cases = std::cell::Cell::new(0usize);
    let total = std::cell::Cell::new(Outcome::default());
    let result = runner.run(&diff_exactness::cases(), |case| {
        let outcome = run(&runtime, &case).map_err(proptest::test_runner::TestCaseError::fail)?;
        cases.set(cases.get() + 1);
        changed.set(changed.get() + usize::from(outcome.changes > 0));
        let mut sum = total.get();
        sum += outcome;
        total.set(sum);
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
    let total = total.get();
    assert!(total.fast_dry_runs < total.exact_dry_runs, "{total:?}");
}
