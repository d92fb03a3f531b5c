#!/usr/bin/env bash
# Benchmark on a real API server: `modelctl diff` and `apply` of N models of
# the shape of models/image-tagging.toml plus a canary (7 objects each in
# `staging`), the fast path next to `--exact` and to
# `kubectl diff --server-side`.
#
#   benches/real-cluster.sh [N]      N models, default 100 (700 objects)
#
# Needs KUBECONFIG pointing at a throw-away cluster, e.g. a kube-bed:
#   eval "$(../shared/kube-bed/start.sh)"; benches/real-cluster.sh; ../shared/kube-bed/stop.sh
# Works in a fresh namespace `modelctl-bench` (deleted at the end) and
# builds the release binary first. Prints one row per command: wall seconds
# and modelctl's own request counts (from --verbose).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-100}"
NS=modelctl-bench

if [ -z "${KUBECONFIG:-}" ]; then
  echo "benches/real-cluster.sh: set KUBECONFIG to a throw-away cluster (e.g. a kube-bed)" >&2
  exit 2
fi
cargo build --quiet --release --locked -p modelctl --manifest-path "$ROOT/Cargo.toml"
MODELCTL="$ROOT/target/release/modelctl"
CONTEXT="$(kubectl config current-context)"

WORK="$(mktemp -d)"
cleanup() {
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A repository of N copies, staging in the bench namespace.
mkdir -p "$WORK/models"
sed -e "/^\[environments.staging\]/,/^$/s/^namespace = .*/namespace = \"$NS\"/" \
  "$ROOT/modelctl.toml" >"$WORK/modelctl.toml"
for i in $(seq -w 1 "$N"); do
  {
    sed -e "s/image-tagging/tagger-$i/g" -e '/^#:schema/d' "$ROOT/models/image-tagging.toml"
    printf '\n[serve.canary]\nmodel = "s3://ml-models/tagger-%s/next/model.onnx"\nweight = 10\n' "$i"
  } >"$WORK/models/tagger-$i.toml"
done
# A left-over namespace from an earlier run is emptied first.
kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$NS" >/dev/null
cd "$WORK"
"$MODELCTL" render >/dev/null

printf '%-44s %8s  %s\n' "command ($N models)" seconds "requests (modelctl --verbose)"
run() {
  local label="$1"
  shift
  local start end out
  start=$(date +%s.%N)
  out="$("$@" 2>&1)" || [ $? -eq 1 ]
  end=$(date +%s.%N)
  printf '%-44s %8.2f  %s\n' "$label" "$(awk "BEGIN { print $end - $start }")" \
    "$(printf '%s\n' "$out" | sed -n 's/^sent //p' | tail -n 1)"
}
m=("$MODELCTL" --root "$WORK")
target=(--env staging --context "$CONTEXT" --verbose)
run "apply (first)" "${m[@]}" apply "${target[@]}"
run "diff (nothing changed)" "${m[@]}" diff "${target[@]}"
run "diff --exact (nothing changed)" "${m[@]}" diff "${target[@]}" --exact
run "kubectl diff --server-side -k (nothing changed)" kubectl diff --server-side --field-manager=modelctl -k generated/staging
run "apply (nothing changed)" "${m[@]}" apply "${target[@]}"
run "apply --exact (nothing changed)" "${m[@]}" apply "${target[@]}" --exact
# One model in ten gets a new model file.
for f in models/tagger-*0.toml; do
  [ "$N" -ge 10 ] || break
  sed -i 's|/2026-11-20/model.onnx|/2026-12-01/model.onnx|' "$f"
done
run "diff (1 in 10 models changed)" "${m[@]}" diff "${target[@]}"
run "diff --exact (1 in 10 models changed)" "${m[@]}" diff "${target[@]}" --exact
run "apply (1 in 10 models changed)" "${m[@]}" apply "${target[@]}"
