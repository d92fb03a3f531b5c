#!/usr/bin/env bash
# The real-cluster tests (tests/it/real_cluster.rs) against a throw-away kube-bed: the real etcd,
# kube-apiserver and kube-controller-manager on 127.0.0.1, no kubelet.
#
#   ci/real-cluster.sh            uses $KUBE_BED, else ../shared/kube-bed beside the checkout
#   REAL_CLUSTER_FILTER=NAME ci/real-cluster.sh   only the tests named real_cluster::NAME…
#                                               (e.g. cli:: or library::fast_diff)
#
# Builds the test first, starts the bed with a state directory of its own under a temporary
# directory and free ports (KUBE_BED_API_PORT and the other KUBE_BED_*_PORT variables override
# them), runs every real-cluster test with the bed's KUBECONFIG, and stops the bed, also on
# failure or interruption. Without a bed it prints one line saying so and exits 0; a KUBE_BED
# that names a folder without start.sh is an error. On failure the bed's logs are kept and
# their folder is named.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -n "${KUBE_BED:-}" ]; then
  if [ ! -f "$KUBE_BED/start.sh" ]; then
    echo "real-cluster tests: KUBE_BED=$KUBE_BED has no start.sh" >&2
    exit 1
  fi
  BED="$(cd "$KUBE_BED" && pwd)"
elif [ -f "$ROOT/../shared/kube-bed/start.sh" ]; then
  BED="$(cd "$ROOT/../shared/kube-bed" && pwd)"
else
  echo "real-cluster tests skipped: no kube-bed (set KUBE_BED to its folder, or place it at ../shared/kube-bed)"
  exit 0
fi

# Build before the bed starts, so it does not idle through the compile.
# --workspace: the features ci/test.sh's `cargo test --workspace` built with, so
# nothing compiles again (model-server's `it` runs too and has no such test).
cargo test --locked --workspace --test it --no-run

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelctl-real-cluster.XXXXXX")"
export KUBE_BED_STATE="$WORK/bed"

# Four free ports (unless given): beds of other checkouts may hold the defaults.
# They are drawn below the kernel's ephemeral range, so that no outgoing
# connection (etcd's own clients included) holds one the bed is about to bind.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=32768
[ "$ephemeral_low" -gt 12000 ] || ephemeral_low=32768
PORTS=(KUBE_BED_API_PORT KUBE_BED_ETCD_PORT KUBE_BED_ETCD_PEER_PORT KUBE_BED_KCM_PORT)
given=" "
for v in "${PORTS[@]}"; do
  [ -z "${!v:-}" ] || given+="$v "
done
pick_ports() {
  local taken=" " v p
  for v in "${PORTS[@]}"; do
    if [[ $given != *" $v "* ]]; then
      for _ in $(seq 200); do
        p=$(( 10000 + RANDOM % (ephemeral_low - 10000) ))
        [[ $taken == *" $p "* ]] || port_busy "$p" || break
      done
      export "$v=$p"
    fi
    taken+="${!v} "
  done
}

ok=0
finish() {
  "$BED/stop.sh" >/dev/null 2>&1 || echo "real-cluster tests: stopping the kube-bed failed (state in $KUBE_BED_STATE)" >&2
  if [ "$ok" = 1 ]; then
    rm -rf "$WORK"
  else
    echo "real-cluster tests failed; the kube-bed logs are in $KUBE_BED_STATE/logs" >&2
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port can still be taken between the check and the bind: then the bed is
# started again on other ports, twice at most.
for attempt in 1 2 3; do
  pick_ports
  if exports="$("$BED/start.sh")"; then
    break
  fi
  if [ "$attempt" = 3 ] || ! grep -qs "address already in use" "$KUBE_BED_STATE"/logs/*.log; then
    echo "real-cluster tests: the kube-bed did not start" >&2
    exit 1
  fi
  echo "real-cluster tests: a port was taken; starting the kube-bed again on other ports" >&2
  rm -f "$KUBE_BED_STATE"/logs/*.log
done
eval "$exports"
export KUBECONFIG
unset MODELCTL_TEST_CONTEXT

cargo test --locked --workspace --test it "real_cluster::${REAL_CLUSTER_FILTER:-}" -- --ignored --test-threads 1
ok=1
