#!/usr/bin/env bash
# Installs the CRDs the real-cluster tests need (ci/lib/cluster-crds.sh lists them) on the
# cluster KUBECONFIG names, server-side (the HTTPRoute and Workload CRDs are too big for the
# annotation a client-side apply writes), and waits until each is Established. The workflow
# runs it on its kind cluster; a kube-bed needs none of it.
#
#   ci/cluster-crds.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=ci/lib/cluster-crds.sh
. "$ROOT/ci/lib/cluster-crds.sh"

mapfile -t files < <(crd_files)
args=()
for f in "${files[@]}"; do args+=(-f "$f"); done
kubectl apply --server-side --field-manager modelctl-ci "${args[@]}" >/dev/null
kubectl wait --for condition=Established --timeout=120s "${args[@]}" >/dev/null
crds_served
echo "ci/cluster-crds.sh: ${#files[@]} CRDs Established"
