# Sourced by ci/real-cluster.sh and ci/cluster-crds.sh: the CRDs the real-cluster tests need
# on a cluster that is not a kube-bed (a kube-bed serves them itself): every file in
# tests/fixtures/crds/ (the schemas the render tests check against, too) and
# tests/fixtures/cluster-crds/.
#
#   crd_files                the CRD files, one a line
#   crds_served [KUBECTL_ARGS…]   returns 0 when every one of them is Established on the
#                            cluster kubectl reaches; else names the missing ones on stderr,
#                            with the command that installs them, and returns 1

crd_files() {
  ls "$ROOT"/tests/fixtures/crds/*.yaml "$ROOT"/tests/fixtures/cluster-crds/*.yaml
}

crds_served() {
  local f name missing=()
  while read -r f; do
    name="$(basename "$f" .yaml)"
    name="${name#*_}.${name%%_*}" # <group>_<plural>.yaml -> <plural>.<group>
    if ! kubectl "$@" get crd "$name" \
        -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null |
        grep -qx True; then
      missing+=("$name")
    fi
  done < <(crd_files)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "real-cluster tests: the cluster does not serve ${#missing[@]} CRD(s) the tests need: ${missing[*]}" >&2
    echo "  install them with ci/cluster-crds.sh (kubectl apply --server-side on tests/fixtures/crds/ and tests/fixtures/cluster-crds/)" >&2
    return 1
  fi
}
