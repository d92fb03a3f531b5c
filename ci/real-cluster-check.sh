#!/usr/bin/env bash
# Checks how ci/real-cluster.sh decides where the real-cluster tests run, without a cluster:
# a copy of the script and its ci/lib/ in a temporary folder (so no kube-bed lies beside it),
# run with stand-ins for kubectl and cargo on PATH that answer as told and record their calls.
#
#   no bed, no KUBECONFIG                        one line (every skip is), "skipped", exit 0,
#                                                nothing run
#   the same with CI set only                    the same (a fresh clone by hand, or CI not opted in)
#   the same with CI and MODELCTL_REQUIRE_CLUSTER=1   a failure (exit 1), nothing run
#   KUBECONFIG whose cluster does not answer     skipped; with CI and the variable, a failure
#   KUBECONFIG whose cluster answers, CRDs served   the tests run on it (cargo test … real_cluster::)
#   the same, a CRD missing                      a failure naming it, no tests run
#
#   ci/real-cluster-check.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelctl-real-cluster-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/clone/ci/lib" "$WORK/clone/tests/fixtures/crds" "$WORK/clone/tests/fixtures/cluster-crds" "$WORK/bin"
cp "$ROOT/ci/real-cluster.sh" "$WORK/clone/ci/"
cp "$ROOT"/ci/lib/*.sh "$WORK/clone/ci/lib/"
touch "$WORK/clone/tests/fixtures/crds/keda.sh_scaledobjects.yaml" \
  "$WORK/clone/tests/fixtures/cluster-crds/kueue.x-k8s.io_workloads.yaml"

# kubectl: `version` answers when FAKE_CLUSTER=up; `get crd NAME` prints True unless NAME is
# FAKE_MISSING_CRD.
cat >"$WORK/bin/kubectl" <<'STUB'
#!/usr/bin/env bash
echo "kubectl $*" >>"$FAKE_LOG"
case "$*" in
  *version*) [ "${FAKE_CLUSTER:-}" = up ] ;;
  *current-context*) echo fake ;;
  *"get crd"*) for a in "$@"; do [ "$a" != "${FAKE_MISSING_CRD:-}" ] || exit 1; done; echo True ;;
  *) exit 0 ;;
esac
STUB
printf '#!/usr/bin/env bash\necho "cargo $*" >>"$FAKE_LOG"\n' >"$WORK/bin/cargo"
chmod +x "$WORK/bin/kubectl" "$WORK/bin/cargo"

fails=0
# expect NAME STATUS PATTERN_IN_OUTPUT RAN(yes|no) [VAR=VALUE…]
expect() {
  local name="$1" want="$2" pattern="$3" ran="$4" status=0 out
  shift 4
  : >"$WORK/log"
  out="$(env -u CI -u MODELCTL_REQUIRE_CLUSTER -u KUBECONFIG -u KUBE_BED -u MODELCTL_TEST_CONTEXT \
    PATH="$WORK/bin:$PATH" FAKE_LOG="$WORK/log" "$@" "$WORK/clone/ci/real-cluster.sh" 2>&1)" || status=$?
  local got_ran=no
  ! grep -q "real_cluster::" "$WORK/log" || got_ran=yes
  # A skip is one line, nothing more.
  local lines=1
  [ "$status" != 0 ] || [ "$ran" = yes ] || lines="$(grep -c '' <<<"$out")"
  if [ "$status" != "$want" ] || ! grep -q -- "$pattern" <<<"$out" || [ "$got_ran" != "$ran" ] ||
    [ "$lines" != 1 ]; then
    echo "FAIL $name: exit $status (want $want), tests run: $got_ran (want $ran), output:" >&2
    printf '  %s\n' "$out" >&2
    fails=$((fails + 1))
  else
    echo "ok: $name"
  fi
}

expect "no cluster, by hand: skipped" 0 "^real-cluster tests skipped: " no
expect "no cluster, by hand: one line" 0 "^real-cluster tests skipped: .*KUBECONFIG is not set$" no
expect "no cluster, CI without the requirement: skipped" 0 "skipped" no CI=true
expect "no cluster, the requirement without CI: skipped" 0 "skipped" no MODELCTL_REQUIRE_CLUSTER=1
expect "no cluster, CI and MODELCTL_REQUIRE_CLUSTER=1: a failure" 1 "^real-cluster tests failed: " no \
  CI=true MODELCTL_REQUIRE_CLUSTER=1
expect "KUBECONFIG's cluster silent, by hand: skipped" 0 "does not answer" no KUBECONFIG="$WORK/kc"
expect "KUBECONFIG's cluster silent, CI required: a failure" 1 "failed: .*does not answer" no \
  KUBECONFIG="$WORK/kc" CI=true MODELCTL_REQUIRE_CLUSTER=1
expect "KUBECONFIG's cluster answers: the tests run on it" 0 "cluster KUBECONFIG names" yes \
  KUBECONFIG="$WORK/kc" FAKE_CLUSTER=up CI=true MODELCTL_REQUIRE_CLUSTER=1
expect "KUBECONFIG's cluster lacks a CRD: a failure naming it" 1 "workloads.kueue.x-k8s.io" no \
  KUBECONFIG="$WORK/kc" FAKE_CLUSTER=up FAKE_MISSING_CRD=workloads.kueue.x-k8s.io

if [ "$fails" -gt 0 ]; then
  echo "ci/real-cluster-check.sh: $fails case(s) failed" >&2
  exit 1
fi
