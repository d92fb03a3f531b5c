#!/usr/bin/env bash
# The talk's lifecycle end to end on a real node: code from Git is trained in
# a pod, exported to S3, promoted, served and asked for predictions.
#
#   ci/e2e.sh        needs root and a kube-bed ($KUBE_BED, else ../shared/kube-bed)
#   ci/e2e.sh image  only builds the training image (step 1), left for a later
#                    walk, which uses it and removes it (ci/test.sh runs this in
#                    the background while it compiles)
#   ci/e2e.sh drop-image   removes it when no walk will
#
# Starts a throw-away kube-bed on free ports and adds its real node
# (node-start.sh: kubelet, containerd, the bridge CNI) on a bridge of its own,
# then:
#   1. builds two images as ci/ builds them and loads them into the node: the
#      model-server image (`ci/image-test.sh image`, from $MODEL_SERVER and the
#      model-export beside it, else a release build), and a training image from
#      Debian bookworm with python3, numpy, scikit-learn, onnx and git (it is
#      also the `git-image` of the fetch-code init container; see
#      build_train_image); the Debian base is pulled, or made with debootstrap
#      (ci/lib/stand-ins.sh);
#   2. serves on the node bridge's address, so pods reach them: moto's S3
#      server (the store; credentials in each model's `<model>-model-store`
#      Secret) and a bare Git repository holding ci/e2e/code/train.py over
#      dumb HTTP (python's http.server);
#   3. copies ci/e2e/repo (models digits and flaky) into a Git work tree and
#      walks it with the modelctl binary ($MODELCTL, else target/debug/modelctl):
#      apply --wait with a two-trial sweep per model; logs --follow shows each
#      trial's training lines; both digits trials export, run.json's digests
#      match the objects in S3; runs --best picks the better trial; promote
#      --best and apply --wait roll out pods that download the promoted model;
#      predictions through `kubectl port-forward` to the Service, over HTTP
#      under the route's path prefix and over gRPC (tritonclient), reach 0.9
#      accuracy on held-out digits (ci/e2e/predict.py); status shows the ready
#      counts and the last run;
#   4. the failure paths: flaky's trial that exits 1 is shown failed with its
#      last lines while the other trial exports; a model URI that does not
#      exist leaves the new pods not ready, apply --wait exits 2 naming the
#      Deployment, and the old pods keep serving; apply --prune of a deleted
#      model removes its running pods.
# It prints the walk's times (apply to ready, training to export, promote to
# serving) and stops everything it started, also on failure, when it keeps
# the work folder (bed logs, command outputs) and names it.
#
# Needs: root, buildah, debootstrap (when the Debian image cannot be pulled),
# kubectl, git, curl, and on PATH a python3 with moto[server], boto3, numpy and
# tritonclient[grpc] (ci/test.sh puts .venv-ci first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Each line carries the seconds since the start, so a slow step shows.
log() { printf 'e2e [%4d s]: %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=ci/lib/kube-bed.sh
. "$ROOT/ci/lib/kube-bed.sh"
if ! bed_find; then
  echo "end-to-end walk skipped: no kube-bed (set KUBE_BED to its folder, or place it at ../shared/kube-bed)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "end-to-end walk skipped: the kube-bed node needs root"
  exit 0
fi

BUILDAH=(buildah --storage-driver vfs)
DEBIAN_RELEASE=bookworm
DEBIAN_IMAGE="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
TRAIN_IMAGE="localhost/modelctl-e2e-train:1"
SERVER_IMAGE="localhost/model-server:e2e"
NAMESPACE=e2e
MADE=()

# Milliseconds since the epoch, and seconds between two of them.
now() { date +%s%3N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# background CMD…: runs CMD in the background, stopped at exit.
background() {
  "$@" &
  PIDS+=("$!")
}

# free_port: a port free on this host.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mctl ARGS…: modelctl run in the walk's repository.
mctl() {
  (cd "$REPO" && "$MODELCTL" "$@")
}

# until_true SECONDS WHAT CMD…: runs CMD every second until it succeeds.
until_true() {
  local limit=$1 what=$2 started=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - started < limit)) || die "$what: not after ${limit}s"
    sleep 1
  done
}

kc() { kubectl -n "$NAMESPACE" "$@"; }

# ready_endpoints SERVICE: the pods behind SERVICE that are ready, sorted.
ready_endpoints() {
  kc get endpointslices -l "kubernetes.io/service-name=$1" \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name}{"\n"}{end}' | sort
}

# build_train_image: the training image, from Debian bookworm (pulled, or a
# debootstrap stand-in removed once used): python3 with numpy, scikit-learn
# and onnx, and git for the fetch-code init container. Debian's scipy
# depends on pythran, a compiler that pulls gcc, g++, Boost and the Python
# headers (about 600 MB) that scipy never runs; an empty python3-pythran
# stands in for it. Every container the node starts copies its whole image
# (containerd's native snapshotter), so the image is kept small.
build_train_image() {
  local ctr
  # A stand-in has a name of its own: ci/dockerfile-test.sh, running at the
  # same time in ci/test.sh, may make one under the pulled name and remove it.
  if ! "${BUILDAH[@]}" pull --quiet "$DEBIAN_IMAGE" >/dev/null 2>&1; then
    DEBIAN_IMAGE="localhost/modelctl-e2e-base:$DEBIAN_RELEASE"
    if ! "${BUILDAH[@]}" inspect --type image "$DEBIAN_IMAGE" >/dev/null 2>&1; then
      # shellcheck source=ci/lib/stand-ins.sh
      . "$ROOT/ci/lib/stand-ins.sh"
      stand_in_debian
    fi
  fi
  ctr="$("${BUILDAH[@]}" from --pull=never "$DEBIAN_IMAGE")"
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -ec '
    mkdir -p /tmp/pythran/DEBIAN
    printf "Package: python3-pythran\nVersion: 0.0-e2e\nArchitecture: all\nMaintainer: modelctl e2e <e2e@localhost>\nDescription: empty: scipy needs pythran to build, not to run\n" \
      >/tmp/pythran/DEBIAN/control
    dpkg-deb --build /tmp/pythran /tmp/python3-pythran.deb >/dev/null
    dpkg -i /tmp/python3-pythran.deb >/dev/null
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-numpy python3-sklearn python3-onnx git ca-certificates >/dev/null
    rm -rf /tmp/pythran /tmp/python3-pythran.deb /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
      /usr/share/doc /usr/share/man /usr/share/locale' \
    >"$WORK/train-image.log" 2>&1 || { tail -n 20 "$WORK/train-image.log"; die "the training image did not build"; }
  "${BUILDAH[@]}" commit --quiet "$ctr" "$TRAIN_IMAGE" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  if [ ${#MADE[@]} -gt 0 ]; then
    "${BUILDAH[@]}" rmi -f "${MADE[@]}" >/dev/null 2>&1 || true
    MADE=()
  fi
}

if [ "${1:-}" = image ]; then
  # Only the training image, left in buildah's storage for a later walk
  # (ci/test.sh builds it in the background while it compiles).
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelctl-e2e-image.XXXXXX")"
  trap 'rm -rf "$WORK"; "${BUILDAH[@]}" rmi -f "${MADE[@]}" >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  started=$(now)
  build_train_image
  log "built $TRAIN_IMAGE in $(since "$started") s"
  exit 0
fi
if [ "${1:-}" = drop-image ]; then
  # What `image` left, when no walk ran to use and remove it.
  "${BUILDAH[@]}" rmi -f "$TRAIN_IMAGE" >/dev/null 2>&1 || true
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [image | drop-image]"

MODELCTL="${MODELCTL:-$ROOT/target/debug/modelctl}"
[ -x "$MODELCTL" ] || die "no modelctl at $MODELCTL (cargo build, or set MODELCTL)"
for tool in buildah kubectl git curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
python3 -c 'import boto3, moto, numpy, tritonclient.grpc' 2>/dev/null \
  || die "python3 lacks boto3, moto, numpy or tritonclient (pip install -r ci/requirements-ci.txt -r ci/requirements-serve.txt)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelctl-e2e.XXXXXX")"
export KUBE_BED_STATE="$WORK/bed"
# A bridge and pod network of its own, beside a node started by hand.
export KUBE_BED_BRIDGE=kbede2e KUBE_BED_POD_NET=10.244.77 KUBE_BED_NODE_NAME=e2e-node
HOST="$KUBE_BED_POD_NET.1"
PIDS=()
ok=0
finish() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  bed_stop || log "stopping the kube-bed failed (state in $KUBE_BED_STATE)"
  ip link delete "$KUBE_BED_BRIDGE" 2>/dev/null || true
  "${BUILDAH[@]}" rmi -f "$TRAIN_IMAGE" "$SERVER_IMAGE" "${MADE[@]}" >/dev/null 2>&1 || true
  if [ "$ok" = 1 ]; then
    rm -rf "$WORK"
  else
    log "failed; the bed's logs and the commands' output are in $WORK"
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
log "starting a kube-bed and its node"
bed_start "$KUBE_BED_STATE"
"$BED/node-start.sh" || die "the node did not start"

log "building the images"
started=$(now)
if "${BUILDAH[@]}" inspect --type image "$TRAIN_IMAGE" >/dev/null 2>&1; then
  log "$TRAIN_IMAGE is already built (ci/e2e.sh image)"
else
  build_train_image
fi
if [ -z "${MODEL_SERVER:-}" ]; then
  cargo build --locked --release -p model-server
  MODEL_SERVER="$ROOT/target/release/model-server"
fi
ci/image-test.sh image "$MODEL_SERVER" "$SERVER_IMAGE"
"$BED/node-load-image.sh" "$TRAIN_IMAGE" "$SERVER_IMAGE" || die "loading the images failed"
images_s=$(since "$started")

log "serving the store (moto) and the code (Git over HTTP) on $HOST"
S3_PORT=$(free_port)
background python3 -m moto.server -H "$HOST" -p "$S3_PORT" >"$WORK/moto.log" 2>&1
git init -q "$WORK/code"
cp ci/e2e/code/train.py "$WORK/code/"
git -C "$WORK/code" add train.py
git -C "$WORK/code" -c user.name=e2e -c user.email=e2e@localhost commit -qm "digits training"
GIT_REV="$(git -C "$WORK/code" rev-parse HEAD)"
mkdir -p "$WORK/git"
git clone -q --bare "$WORK/code" "$WORK/git/code.git"
git -C "$WORK/git/code.git" update-server-info
GIT_PORT=$(free_port)
background python3 -m http.server --bind "$HOST" --directory "$WORK/git" "$GIT_PORT" >"$WORK/git-http.log" 2>&1
export AWS_ACCESS_KEY_ID=e2e AWS_SECRET_ACCESS_KEY=e2e AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://$HOST:$S3_PORT"
until_true 30 "moto on $AWS_ENDPOINT_URL" curl -sf "$AWS_ENDPOINT_URL/moto-api/"
until_true 30 "the Git server" git ls-remote "http://$HOST:$GIT_PORT/code.git"
python3 - <<'PY'
import os
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="models")
s3.upload_file("tests/fixtures/models/digits-mlp.onnx", "models", "seed/model.onnx")
PY

log "the repository: models digits and flaky"
REPO="$WORK/repo"
cp -r ci/e2e/repo "$REPO"
sed -i "s#@GIT_URL@#http://$HOST:$GIT_PORT/code.git#; s#@GIT_REV@#$GIT_REV#; s#@TRAIN_IMAGE@#$TRAIN_IMAGE#" \
  "$REPO"/modelctl.toml "$REPO"/models/*.toml
git -C "$REPO" init -q
mctl render >/dev/null
git -C "$REPO" add -A
git -C "$REPO" -c user.name=e2e -c user.email=e2e@localhost commit -qm "two models"
kubectl create namespace "$NAMESPACE" >/dev/null
for model in digits flaky; do
  kc create secret generic "$model-model-store" \
    --from-literal=AWS_ACCESS_KEY_ID=e2e --from-literal=AWS_SECRET_ACCESS_KEY=e2e \
    --from-literal=AWS_REGION=us-east-1 --from-literal=AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" >/dev/null
done

# ---------------------------------------------------------------------------
log "apply --wait: both sweeps start, the servers turn ready on the seed model"
started=$(now)
mctl apply --env e2e --wait --timeout 3m >"$WORK/apply-1.out" 2>&1 \
  || { cat "$WORK/apply-1.out"; die "the first apply failed"; }
apply_s=$(since "$started")
train_started=$started

log "logs --follow: each trial's training lines"
mctl logs digits --env e2e --follow >"$WORK/logs-digits.out" 2>&1 \
  || { cat "$WORK/logs-digits.out"; die "logs --follow of digits failed"; }
train_s=$(since "$train_started")
for index in 0 1; do
  grep -q "^\[$index/train\] train: held-out accuracy" "$WORK/logs-digits.out" \
    || { cat "$WORK/logs-digits.out"; die "no training line of trial $index in logs --follow"; }
  grep -q "^\[$index/export\] .*exported run=digits-train-.*-$index" "$WORK/logs-digits.out" \
    || { cat "$WORK/logs-digits.out"; die "no export line of trial $index in logs --follow"; }
done
# flaky ends failed (one trial exits 1): logs --follow says so with exit 1.
status=0
mctl logs flaky --env e2e --follow >"$WORK/logs-flaky.out" 2>&1 || status=$?
[ "$status" = 1 ] || { cat "$WORK/logs-flaky.out"; die "logs --follow of flaky exited $status, not 1"; }
grep -q "train: the data loader lost its shard" "$WORK/logs-flaky.out" \
  || { cat "$WORK/logs-flaky.out"; die "logs --follow of flaky misses the failing trial's line"; }

log "runs: both digits trials exported with run.json, the better one is best"
mctl runs digits --env e2e --format json >"$WORK/runs-digits.json"
mctl runs flaky --env e2e --format json >"$WORK/runs-flaky.json"
python3 - "$WORK/runs-digits.json" "$WORK/runs-flaky.json" <<'PY'
import hashlib, json, os, sys
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def exported(run):
    """run.json of an exported run, each file's digest checked against S3."""
    assert run["status"] == "succeeded", run
    bucket, prefix = run["output"].removeprefix("s3://").split("/", 1)
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/run.json")["Body"].read())
    assert sorted(f["path"] for f in record["files"]) == ["metrics.json", "model.onnx"], record
    for f in record["files"]:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}/{f['path']}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == f["sha256"], (f, run["run"])
        assert len(body) == f["size"], (f, run["run"])
    assert run["model"] == f"{run['output']}/model.onnx", run
    return record

digits = json.load(open(sys.argv[1]))
assert [r["params"]["c"] for r in digits] == ["0.0005", "1.0"], digits
for run in digits:
    exported(run)
    print(f"e2e: {run['run']} (c={run['params']['c']}): accuracy {run['metrics']['accuracy']:.4f}, run.json verified", file=sys.stderr)
flaky = {r["params"]["fail"]: r for r in json.load(open(sys.argv[2]))}
exported(flaky["no"])
failed = flaky["yes"]
assert failed["status"] == "failed" and failed["output"] is None, failed
assert "container train exited 1" in failed["error"], failed
assert "the data loader lost its shard" in failed["error"], failed
assert "step train failed with exit code 1" in failed["error"], failed
PY
best="$(mctl runs digits --env e2e --best --format json | python3 -c 'import json, sys; (r,) = json.load(sys.stdin); print(r["run"], r["params"]["c"])')"
[[ "$best" == *" 1.0" ]] || die "runs --best picked $best, not the trial with c=1.0"
mctl runs flaky --env e2e >"$WORK/runs-flaky.txt"
# The text table stays narrow; the failure's last lines go under it.
grep -Eq '^flaky-train-[0-9a-f]+-1 +flaky-train-[0-9a-f]+ +1 +fail=yes .* failed +- +-$' "$WORK/runs-flaky.txt" \
  || { cat "$WORK/runs-flaky.txt"; die "runs does not show flaky's trial 1 failed in one word"; }
grep -Eq '^flaky-train-[0-9a-f]+-1 failed: container train exited 1$' "$WORK/runs-flaky.txt" \
  || { cat "$WORK/runs-flaky.txt"; die "runs does not say why flaky's trial 1 failed"; }
grep -q '^  train: the data loader lost its shard (FAIL=yes)$' "$WORK/runs-flaky.txt" \
  || { cat "$WORK/runs-flaky.txt"; die "runs does not show the failed trial's last lines"; }

log "promote --best, apply --wait: the promoted model is downloaded and served"
started=$(now)
mctl promote digits --env e2e --best >"$WORK/promote.out" 2>&1 \
  || { cat "$WORK/promote.out"; die "promote --best failed"; }
mctl apply --env e2e --wait --timeout 3m >"$WORK/apply-2.out" 2>&1 \
  || { cat "$WORK/apply-2.out"; die "the apply after promote failed"; }
promote_s=$(since "$started")
promoted="$(sed -n 's/^model = "\(.*\)"$/\1/p' "$REPO/models/digits.toml")"
[[ "$promoted" == s3://models/digits/digits-train-*-1/model.onnx ]] || die "promote wrote serve.model = $promoted"
git -C "$REPO" -c user.name=e2e -c user.email=e2e@localhost commit -qam "promote digits"
served="$(kc get pods -l app.kubernetes.io/name=digits,app.kubernetes.io/component=serve \
  -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.containers[0].args}{"\n"}{end}')"
[ "$(grep -c -- "--model-uri=$promoted" <<<"$served")" = 2 ] \
  || die "the running pods do not serve $promoted: $served"

# predict TARGET PORT: port-forward to TARGET (the Service, port 80, or one
# pod, port 8080) and its gRPC port 8081, then ci/e2e/predict.py.
predict() {
  local http grpc status=0
  http=$(free_port)
  grpc=$(free_port)
  kc port-forward "$1" "$http:$2" "$grpc:8081" >"$WORK/port-forward.log" 2>&1 &
  local forward=$!
  until_true 20 "kubectl port-forward $1" curl -sf "http://127.0.0.1:$http/v2/health/ready"
  python3 ci/e2e/predict.py --http "127.0.0.1:$http" --prefix /digits --grpc "127.0.0.1:$grpc" \
    --test tests/fixtures/models/digits-test.json --min-accuracy 0.9 || status=$?
  kill "$forward" 2>/dev/null || true
  wait "$forward" 2>/dev/null || true
  return "$status"
}
predict service/digits 80 || die "the served model's predictions failed"

log "status: ready counts and the last run"
mctl status --env e2e --format json >"$WORK/status.json"
python3 - "$WORK/status.json" <<'PY'
import json, re, sys
rows = {r["model"]: r for r in json.load(open(sys.argv[1]))}
digits = rows["digits"]
assert (digits["ready"], digits["desired"]) == (2, 2), digits
assert re.fullmatch(r"digits-train-[0-9a-f]{8} complete", digits["last_run"]), digits
assert digits["route"] == "digits.e2e.example", digits
assert re.fullmatch(r"flaky-train-[0-9a-f]{8} failed", rows["flaky"]["last_run"]), rows["flaky"]
assert (rows["flaky"]["ready"], rows["flaky"]["desired"]) == (1, 1), rows["flaky"]
PY

# ---------------------------------------------------------------------------
log "a model URI that does not exist: apply --wait times out, the old pods serve on"
old_pods="$(ready_endpoints digits)"
sed -i 's#^model = ".*"$#model = "s3://models/digits/no-such-run/model.onnx"#' "$REPO/models/digits.toml"
mctl render >/dev/null
status=0
mctl apply --env e2e --wait --timeout 30s >"$WORK/apply-missing.out" 2>&1 || status=$?
[ "$status" = 2 ] || { cat "$WORK/apply-missing.out"; die "apply --wait exited $status, not 2"; }
grep -q "timed out after 30s waiting for Deployment e2e/digits: 0/2 ready" "$WORK/apply-missing.out" \
  || { cat "$WORK/apply-missing.out"; die "the timeout does not name the Deployment and its new pods"; }
grep -Eq "^  pod digits-[0-9a-f]+-[0-9a-z]+: " "$WORK/apply-missing.out" \
  || { cat "$WORK/apply-missing.out"; die "the timeout does not say where the new pod stands"; }
still="$(ready_endpoints digits)"
[ "$still" = "$old_pods" ] || die "the ready endpoints changed from $old_pods to $still"
# Through each old pod (a Service's port-forward may pick the new pod that
# is not ready).
for pod in $old_pods; do
  predict "pod/$pod" 8080 || die "the old pod $pod stopped serving"
done
git -C "$REPO" checkout -q models/digits.toml
mctl render >/dev/null

log "apply --prune of a deleted model removes its running pods"
kc get pods -l app.kubernetes.io/name=flaky,app.kubernetes.io/component=serve \
  -o jsonpath='{.items[*].status.phase}' | grep -q Running || die "flaky has no running server to prune"
git -C "$REPO" rm -q models/flaky.toml
mctl render >/dev/null
mctl apply --env e2e --prune --wait --timeout 3m >"$WORK/apply-prune.out" 2>&1 \
  || { cat "$WORK/apply-prune.out"; die "apply --prune failed"; }
grep -q "^Deployment e2e/flaky pruned$" "$WORK/apply-prune.out" \
  || { cat "$WORK/apply-prune.out"; die "apply --prune did not prune flaky's Deployment"; }
no_flaky_pods() { [ -z "$(kc get pods -l app.kubernetes.io/name=flaky -o name)" ]; }
until_true 90 "flaky's pods gone after the prune" no_flaky_pods

ok=1
log "passed"
printf '\nend-to-end walk on a real node (seconds):\n'
printf '  images built and loaded into the node  %6s   (the training image not counted when prebuilt)\n' "$images_s"
printf '  apply --wait to every server ready     %6s\n' "$apply_s"
printf '  apply to both trials exported          %6s\n' "$train_s"
printf '  promote --best to the new model served %6s\n' "$promote_s"
