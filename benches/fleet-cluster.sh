#!/usr/bin/env bash
# The fleet on a real API server: `modelctl diff` and `apply` with nothing
# changed, for environment `production` of benches/fleet.rs's 1,000-model
# fleet (sweeps, two-node runs, profiles, two teams in their own
# namespaces): about 7,000 objects in three namespaces. Target: under 2 s
# each.
#
#   benches/fleet-cluster.sh [N]      N models, default 1000
#
# Needs KUBECONFIG pointing at a throw-away cluster, e.g. a kube-bed:
#   eval "$(../shared/kube-bed/start.sh)"; benches/fleet-cluster.sh; ../shared/kube-bed/stop.sh
# Works in fresh namespaces fleet-bench, fleet-bench-team-a and
# fleet-bench-team-b (deleted at the end). Prints one row per command: wall
# seconds (median of 3 where marked) and modelctl's request counts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-1000}"
NS=fleet-bench
NAMESPACES=("$NS" "$NS-team-a" "$NS-team-b")

if [ -z "${KUBECONFIG:-}" ]; then
  echo "benches/fleet-cluster.sh: set KUBECONFIG to a throw-away cluster (e.g. a kube-bed)" >&2
  exit 2
fi
cargo build --quiet --release --locked -p modelctl --manifest-path "$ROOT/Cargo.toml"
MODELCTL="$ROOT/target/release/modelctl"
CONTEXT="$(kubectl config current-context)"

WORK="$(mktemp -d)"
cleanup() {
  kubectl delete namespace "${NAMESPACES[@]}" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The fleet's repository, with its namespaces named from $NS.
(cd "$ROOT" && MODELCTL_FLEET_WRITE="$WORK" MODELCTL_FLEET_MODELS="$N" MODELCTL_FLEET_NAMESPACE="$NS" \
  cargo bench --quiet --locked --bench fleet) >/dev/null
kubectl delete namespace "${NAMESPACES[@]}" --ignore-not-found --wait=true >/dev/null
for ns in "${NAMESPACES[@]}"; do kubectl create namespace "$ns" >/dev/null; done
cd "$WORK"
"$MODELCTL" render >/dev/null
OBJECTS=$(grep -c '^- ' generated/production/kustomization.yaml)

printf '%-40s %8s  %s\n' "production: $N models, $OBJECTS objects" seconds "requests (modelctl --verbose)"
run() {
  local label="$1"
  shift
  local start end out
  start=$(date +%s.%N)
  out="$("$@" 2>&1)" || [ $? -eq 1 ] || { printf '%s\n' "$out" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%-40s %8.2f  %s\n' "$label" "$(awk "BEGIN { print $end - $start }")" \
    "$(printf '%s\n' "$out" | sed -n 's/^sent //p' | tail -n 1)"
}
median3() {
  local label="$1"
  shift
  local times=() start end out
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    out="$("$@" 2>&1)" || [ $? -eq 1 ] || { printf '%s\n' "$out" >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(awk "BEGIN { print $end - $start }")")
  done
  printf '%-40s %8.2f  %s\n' "$label (median of 3)" \
    "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)" \
    "$(printf '%s\n' "$out" | sed -n 's/^sent //p' | tail -n 1)"
}
m=("$MODELCTL" --root "$WORK")
target=(--env production --context "$CONTEXT" --verbose)
run "apply (first)" "${m[@]}" apply "${target[@]}"
# The controllers then make thousands of ReplicaSets and (pending) pods on
# the same cores: measure once the control plane has settled (the object
# count unchanged for 15 s).
settle() {
  local last=-1 now same=0
  while [ "$same" -lt 3 ]; do
    now=$(kubectl get pods,replicasets -A --no-headers 2>/dev/null | wc -l)
    if [ "$now" -eq "$last" ]; then same=$((same + 1)); else same=0; fi
    last=$now
    sleep 5
  done
  echo "settled: $now pods and ReplicaSets" >&2
}
settle
median3 "diff (nothing changed)" "${m[@]}" diff "${target[@]}"
median3 "apply (nothing changed)" "${m[@]}" apply "${target[@]}"
run "diff --exact (nothing changed)" "${m[@]}" diff "${target[@]}" --exact
