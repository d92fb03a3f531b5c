#!/usr/bin/env bash
# The real-cluster tests (tests/it/real_cluster.rs) against a throw-away kube-bed: the real etcd,
# kube-apiserver and kube-controller-manager on 127.0.0.1, no kubelet.
#
#   ci/real-cluster.sh            uses $KUBE_BED, else ../shared/kube-bed beside the checkout
#   REAL_CLUSTER_FILTER=NAME ci/real-cluster.sh   only the tests named real_cluster::NAME…
#                                               (e.g. cli:: or library::fast_diff)
#
# Builds the test first, starts the bed with a state directory of its own under a temporary
# directory and free ports (ci/lib/kube-bed.sh; KUBE_BED_API_PORT and the other KUBE_BED_*_PORT
# variables override them), runs every real-cluster test with the bed's KUBECONFIG, and stops the bed, also on
# failure or interruption. Without a bed it prints one line saying so and exits 0; a KUBE_BED
# that names a folder without start.sh is an error. On failure the bed's logs are kept and
# their folder is named.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=ci/lib/kube-bed.sh
. "$ROOT/ci/lib/kube-bed.sh"
if ! bed_find; then
  echo "real-cluster tests skipped: no kube-bed (set KUBE_BED to its folder, or place it at ../shared/kube-bed)"
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
