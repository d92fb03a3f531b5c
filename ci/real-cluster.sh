#!/usr/bin/env bash
# The real-cluster tests (tests/it/real_cluster.rs) against a real cluster: a throw-away kube-bed
# (the real etcd, kube-apiserver and kube-controller-manager on 127.0.0.1, no kubelet), else the
# cluster KUBECONFIG names (kind in CI).
#
#   ci/real-cluster.sh            uses $KUBE_BED, else ../shared/kube-bed beside the checkout,
#                                 else the cluster $KUBECONFIG names when it answers
#   REAL_CLUSTER_FILTER=NAME ci/real-cluster.sh   only the tests named real_cluster::NAME…
#                                               (e.g. cli:: or library::fast_diff)
#
# With a bed: builds the test first, starts the bed with a state directory of its own under a
# temporary directory and free ports (ci/lib/kube-bed.sh; KUBE_BED_API_PORT and the other
# KUBE_BED_*_PORT variables override them), runs every real-cluster test with the bed's
# KUBECONFIG, and stops the bed, also on failure or interruption. On failure the bed's logs are
# kept and their folder is named. A KUBE_BED that names a folder without start.sh is an error.
#
# Without a bed, a KUBECONFIG that is set and whose cluster answers `kubectl version` is used as
# it is (its current context, or MODELCTL_TEST_CONTEXT): the tests make and delete namespaces
# modelctl-test-* there. Every CRD the tests need (tests/fixtures/crds/ and
# tests/fixtures/cluster-crds/; ci/cluster-crds.sh installs them) must be served, else it fails
# naming the missing ones.
#
# With no cluster at all it prints one line saying so and exits 0, except when CI is set and
# MODELCTL_REQUIRE_CLUSTER=1 (the workflow sets both): then finding none is a failure (exit 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=ci/lib/kube-bed.sh
. "$ROOT/ci/lib/kube-bed.sh"
# shellcheck source=ci/lib/cluster-crds.sh
. "$ROOT/ci/lib/cluster-crds.sh"

if ! bed_find; then
  # No bed: the cluster KUBECONFIG names, when it answers.
  why="no kube-bed (set KUBE_BED to its folder, or place it at ../shared/kube-bed) and KUBECONFIG is not set"
  if [ -n "${KUBECONFIG:-}" ]; then
    ctx=()
    if [ -n "${MODELCTL_TEST_CONTEXT:-}" ]; then ctx=(--context "$MODELCTL_TEST_CONTEXT"); fi
    if kubectl "${ctx[@]}" version --request-timeout=20s >/dev/null 2>&1; then
      echo "real-cluster tests on the cluster KUBECONFIG names (context $(kubectl "${ctx[@]}" config current-context 2>/dev/null || echo "${MODELCTL_TEST_CONTEXT:-?}"))"
      crds_served "${ctx[@]}" || exit 1
      cargo test --locked --workspace --test it "real_cluster::${REAL_CLUSTER_FILTER:-}" -- --ignored --test-threads 1
      exit 0
    fi
    why="no kube-bed, and the cluster KUBECONFIG=$KUBECONFIG names does not answer \`kubectl version\`"
  fi
  if [ -n "${CI:-}" ] && [ "${MODELCTL_REQUIRE_CLUSTER:-}" = 1 ]; then
    echo "real-cluster tests failed: $why (CI with MODELCTL_REQUIRE_CLUSTER=1 needs a cluster)" >&2
    exit 1
  fi
  echo "real-cluster tests skipped: $why"
  exit 0
fi

# Build before the bed starts, so it does not idle through the compile.
# --workspace: the features ci/test.sh's `cargo test --workspace` built with, so
# nothing compiles again (model-server's `it` runs too and has no such test).
cargo test --locked --workspace --test it --no-run

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelctl-real-cluster.XXXXXX")"
export KUBE_BED_STATE="$WORK/bed"

ok=0
finish() {
  bed_stop || echo "real-cluster tests: stopping the kube-bed failed (state in $WORK/bed)" >&2
  if [ "$ok" = 1 ]; then
    rm -rf "$WORK"
  else
    echo "real-cluster tests failed; the kube-bed logs are in $WORK/bed/logs" >&2
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bed_start "$WORK/bed"
unset MODELCTL_TEST_CONTEXT

cargo test --locked --workspace --test it "real_cluster::${REAL_CLUSTER_FILTER:-}" -- --ignored --test-threads 1
ok=1
