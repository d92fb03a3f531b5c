#!/usr/bin/env bash
# Builds the model-server image from this workspace and proves it runs, both
# the server and the training Job's `model-export`.
#
#   ci/image-test.sh                              build, run, check, report size
#   ci/image-test.sh rootfs BINARY ORT_LIB DEST [GPU_LIBS]
#                                                 assemble the image's files only;
#                                                 GPU_LIBS (the GPU variant) is a
#                                                 directory of ONNX Runtime's CUDA
#                                                 provider and the CUDA/cuDNN
#                                                 libraries, copied beside
#                                                 libonnxruntime.so
#   ci/image-test.sh image BINARY IMAGE           build the image from BINARY into
#                                                 buildah's vfs storage, nothing run
#   ci/image-test.sh check IMAGE                  run and check an image already
#                                                 in buildah's vfs storage
#
# The image holds exactly: the model-server and model-export binaries (stripped;
# model-export is taken from beside BINARY), libonnxruntime.so (from
# the pinned onnxruntime wheel), the shared libraries those two need as `ldd`
# lists them (glibc, libstdc++, libgcc_s and the dynamic loader), the CA
# bundle, /etc/passwd and /etc/group naming the non-root user 65532, and a
# writable /tmp for the model cache. ci/Dockerfile assembles its runtime
# stage with the `rootfs` subcommand of this same script, and both set the
# same user, environment and entrypoint, so what CI runs here is what users
# build with `docker build -f ci/Dockerfile .`.
#
# The full run builds the release binary on the host, assembles that file
# tree into a FROM scratch image with buildah (vfs storage, chroot
# isolation: no daemon needed), runs it under podman with runc and a test
# model mounted read-only, checks readiness and one inference over HTTP,
# prints the image size, stops the container with SIGTERM and requires exit 0,
# then runs model-export in the image on a small model directory into a
# file:// output and checks run.json and the termination message.
#
# Needs: buildah, podman, runc (Debian packages), curl, python3 with the
# onnxruntime wheel (ci/requirements-serve.txt) unless ORT_DYLIB_PATH is set,
# and root (or a rootless podman setup). CARGO_TARGET_DIR is respected;
# MODEL_SERVER names an already built release binary and skips the build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="localhost/model-server:image-test"
# buildah and podman share this storage, so podman runs what buildah built.
storage=(--storage-driver vfs)
USER_ID=65532
ORT_PATH=/usr/local/lib/libonnxruntime.so

log() { printf 'image-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The libraries the dynamic loader will open for the given ELF files,
# resolved through symlinks, one path a line (the loader itself included).
shared_libs() {
  ldd "$@" | awk '
    /:$/ { next }
    /not found/ { print "MISSING " $1; next }
    $2 == "=>" && $3 ~ /^\// { print $3; next }
    $1 ~ /^\// { print $1 }
  ' | sort -u
}

# rootfs BINARY ORT_LIB DEST: the image's complete file tree under DEST.
rootfs() {
  local binary="$1" ort_lib="$2" dest="$3" gpu_libs="${4:-}" lib
  local export_binary
  export_binary="$(dirname "$binary")/model-export"
  local elves=("$binary" "$export_binary" "$ort_lib")
  [[ -x "$binary" ]] || die "no executable model-server at $binary"
  [[ -x "$export_binary" ]] || die "no executable model-export beside $binary"
  [[ -f "$ort_lib" ]] || die "no ONNX Runtime library at $ort_lib"
  mkdir -p "$dest/usr/local/bin" "$dest/usr/local/lib" "$dest/etc/ssl/certs" \
    "$dest/tmp" "$dest/home/nonroot"
  install -m 0755 "$binary" "$dest/usr/local/bin/model-server"
  strip --strip-unneeded "$dest/usr/local/bin/model-server"
  install -m 0755 "$export_binary" "$dest/usr/local/bin/model-export"
  strip --strip-unneeded "$dest/usr/local/bin/model-export"
  install -m 0644 "$ort_lib" "$dest$ORT_PATH"
  if [[ -n "$gpu_libs" ]]; then
    # ONNX Runtime opens its CUDA provider from its own directory, and the
    # provider finds CUDA and cuDNN through LD_LIBRARY_PATH (set in the
    # runtime-gpu stage): all of them go beside libonnxruntime.so.
    [[ -f "$gpu_libs/libonnxruntime_providers_cuda.so" ]] \
      || die "no libonnxruntime_providers_cuda.so in $gpu_libs"
    for lib in "$gpu_libs"/*.so*; do
      install -m 0644 "$lib" "$dest/usr/local/lib/$(basename "$lib")"
      elves+=("$lib")
    done
  fi
  while read -r lib; do
    # The driver's libcuda.so.1 comes from the host (the NVIDIA container
    # runtime mounts it); it is never part of the image.
    [[ "$lib" == "MISSING libcuda.so.1" && -n "$gpu_libs" ]] && continue
    [[ "$lib" == MISSING* ]] && die "ldd cannot resolve ${lib#MISSING } for ${elves[*]}"
    [[ -n "$gpu_libs" && "$lib" == "$gpu_libs"/* ]] && continue
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
  done < <(LD_LIBRARY_PATH="${gpu_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" shared_libs "${elves[@]}")
  local bundle=/etc/ssl/certs/ca-certificates.crt
  [[ -f "$bundle" ]] || die "no CA bundle at $bundle (install ca-certificates)"
  install -m 0644 "$bundle" "$dest$bundle"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n' \
    "$USER_ID" "$USER_ID" >"$dest/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%d:\n' "$USER_ID" >"$dest/etc/group"
  chmod 1777 "$dest/tmp"
  chmod 0755 "$dest/home/nonroot"
}

# The image's metadata, shared with ci/Dockerfile's runtime stage.
containerfile() {
  cat <<CONTAINERFILE
FROM scratch
COPY rootfs/ /
ENV ORT_DYLIB_PATH=$ORT_PATH
USER $USER_ID:$USER_ID
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/model-server"]
CONTAINERFILE
}

ort_library() {
  if [[ -n "${ORT_DYLIB_PATH:-}" ]]; then
    echo "$ORT_DYLIB_PATH"
    return
  fi
  python3 - <<'PY'
import pathlib, sys
import onnxruntime
found = sorted((pathlib.Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so*"))
if not found:
    sys.exit("no libonnxruntime.so in the onnxruntime wheel; set ORT_DYLIB_PATH")
print(found[0])
PY
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

full_run() {
  local tool
  for tool in buildah podman runc curl python3 ldd strip; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install buildah podman runc curl)"
  done
  local binary ort_lib
  if [[ -n "${MODEL_SERVER:-}" ]]; then
    binary="$MODEL_SERVER"
    log "using the binary at $binary (MODEL_SERVER)"
  else
    local target="${CARGO_TARGET_DIR:-$ROOT/target}"
    log "building the release binary (target dir $target)"
    (cd "$ROOT" && cargo build --release --locked -p model-server)
    binary="$target/release/model-server"
  fi
  ort_lib="$(ort_library)"

  # Globals, so the EXIT trap still sees them after this function returns.
  work="$(mktemp -d)"
  cleanup() {
    buildah "${storage[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$work"
  }
  trap cleanup EXIT

  build_image "$binary" "$ort_lib" "$IMAGE" "$work"
  check_image "$IMAGE"
}

# build_image BINARY ORT_LIB IMAGE WORKDIR: the image's file tree from
# BINARY (model-export beside it), built into buildah's vfs storage as IMAGE.
build_image() {
  log "assembling the file tree from $1 and $2"
  rootfs "$1" "$2" "$4/rootfs"
  containerfile >"$4/Containerfile"
  log "building $3 with buildah"
  buildah "${storage[@]}" bud --isolation chroot --layers=false -q -t "$3" \
    -f "$4/Containerfile" "$4" >/dev/null
}

# check_image IMAGE: runs IMAGE (in buildah's vfs storage) under podman with
# a test model mounted read-only, checks readiness and one inference over
# HTTP, prints the image size, stops it with SIGTERM and requires exit 0.
check_image() {
  local image="$1"
  # Globals, so the EXIT trap still sees them after this function returns.
  name="model-server-image-test-$$"
  models="$(mktemp -d)"
  check_cleanup() {
    podman "${storage[@]}" rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$models"
  }
  trap 'check_cleanup; cleanup' EXIT
  cp "$ROOT/tests/fixtures/models/digits-mlp.onnx" "$models/"
  chmod 0755 "$models"
  chmod 0644 "$models/digits-mlp.onnx"
  local port grpc_port
  port="$(free_port)"
  grpc_port="$(free_port)"
  while [[ "$grpc_port" == "$port" ]]; do grpc_port="$(free_port)"; done

  log "running $image under podman on 127.0.0.1:$port"
  podman "${storage[@]}" --runtime runc run -d --name "$name" \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
    --network host \
    -v "$models:/models:ro" \
    "$image" \
    --model-name digits --model-uri /models/digits-mlp.onnx \
    --host 127.0.0.1 --port "$port" --grpc-port "$grpc_port" --warmup 4 --threads 1 --drain 0s >/dev/null

  local base="http://127.0.0.1:$port" started=$SECONDS
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v2/health/ready")" == 200 ]]; do
    if [[ "$(podman "${storage[@]}" inspect -f '{{.State.Running}}' "$name")" != true ]]; then
      podman "${storage[@]}" logs "$name" >&2 || true
      die "the container exited before turning ready"
    fi
    if ((SECONDS - started > 120)); then
      podman "${storage[@]}" logs "$name" >&2 || true
      die "not ready after 120s"
    fi
    sleep 0.2
  done
  log "ready after $((SECONDS - started))s"

  local body response
  body="$(python3 - "$ROOT/tests/fixtures/models/digits-test.json" <<'PY'
import json, sys
test = json.load(open(sys.argv[1]))
print(json.dumps({"id": "image-test", "inputs": [
    {"name": "input", "shape": [1, 64], "datatype": "FP32", "data": test["inputs"][0]}]}))
PY
)"
  response="$(curl -sS --fail-with-body -H 'Content-Type: application/json' \
    -d "$body" "$base/v2/models/digits/infer")" || die "inference failed: $response"
  python3 - "$ROOT/tests/fixtures/models/digits-test.json" "$response" <<'PY' || die "unexpected inference response: $response"
import json, sys
test = json.load(open(sys.argv[1]))
response = json.loads(sys.argv[2])
outputs = {o["name"]: o for o in response["outputs"]}
assert response.get("id") == "image-test", response
label = outputs["label"]["data"][0]
assert outputs["label"]["datatype"] == "INT64", outputs["label"]
assert len(outputs["probabilities"]["data"]) == 10, outputs["probabilities"]
assert label == test["labels"][0], f"predicted {label}, true label {test['labels'][0]}"
print(f"image-test: inference ok: predicted {label}", file=sys.stderr)
PY

  # The gRPC port, with Triton's client when the pinned one is installed
  # (ci/test.sh puts .venv-ci first on PATH).
  if python3 -c 'import tritonclient.grpc' 2>/dev/null; then
    python3 - "$ROOT/tests/fixtures/models/digits-test.json" "127.0.0.1:$grpc_port" <<'PY' || die "gRPC inference failed"
import json, sys
import numpy as np
import tritonclient.grpc as grpcclient
test = json.load(open(sys.argv[1]))
client = grpcclient.InferenceServerClient(sys.argv[2])
assert client.is_server_ready()
tensor = grpcclient.InferInput("input", [1, 64], "FP32")
tensor.set_data_from_numpy(np.asarray(test["inputs"][:1], dtype=np.float32))
label = int(client.infer("digits", [tensor]).as_numpy("label")[0])
assert label == test["labels"][0], f"predicted {label}, true label {test['labels'][0]}"
print(f"image-test: gRPC inference ok: predicted {label}", file=sys.stderr)
PY
  else
    log "tritonclient[grpc] not installed: gRPC not checked"
  fi

  local size
  size="$(podman "${storage[@]}" image inspect -f '{{.Size}}' "$image")"
  log "image size: $size bytes ($((size / 1024 / 1024)) MiB)"

  podman "${storage[@]}" stop -t 30 "$name" >/dev/null
  local code
  code="$(podman "${storage[@]}" inspect -f '{{.State.ExitCode}}' "$name")"
  [[ "$code" == 0 ]] || { podman "${storage[@]}" logs "$name" >&2 || true; die "exit code $code after SIGTERM"; }
  log "stopped cleanly (exit 0)"

  check_export "$image"
}

# check_export IMAGE: runs model-export in IMAGE as the training Job's
# `export` container does, on a model directory mounted read-only, into a
# file:// output on a writable mount; checks run.json and the termination message.
check_export() {
  local image="$1"
  exports="$(mktemp -d)"
  trap 'rm -rf "$exports"; check_cleanup; cleanup' EXIT
  mkdir -p "$exports/workspace/out" "$exports/output" "$exports/config"
  cp "$ROOT/tests/fixtures/models/digits-mlp.onnx" "$exports/workspace/out/model.onnx"
  printf '{"accuracy": 0.97}' >"$exports/workspace/out/metrics.json"
  printf '{"model": "digits", "runs": [{"output": "file:///output/{{ run }}"}]}' \
    >"$exports/config/export.json"
  : >"$exports/termination-log"
  chmod -R a+rX "$exports"
  chmod 0777 "$exports/output"
  chmod 0666 "$exports/termination-log"
  log "running model-export in $image"
  podman "${storage[@]}" --runtime runc run --rm --network none \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
    --entrypoint /usr/local/bin/model-export \
    -e MODELCTL_RUN=digits-train-image-test \
    -v "$exports/workspace:/workspace:ro" -v "$exports/config:/etc/modelctl:ro" \
    -v "$exports/output:/output" -v "$exports/termination-log:/dev/termination-log" \
    "$image" --plan=/etc/modelctl/export.json --model-dir=/workspace/out --workspace=/workspace \
    || die "model-export failed: $(cat "$exports/termination-log")"
  python3 - "$exports" <<'PY' || die "unexpected export result"
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
message = json.loads((root / "termination-log").read_text())
assert message["run"] == "digits-train-image-test", message
assert message["model"] == "file:///output/digits-train-image-test/model.onnx", message
assert message["metrics"] == {"accuracy": 0.97}, message
record = json.loads((root / "output/digits-train-image-test/run.json").read_text())
assert sorted(f["path"] for f in record["files"]) == ["metrics.json", "model.onnx"], record
print("image-test: model-export ok: " + json.dumps(message), file=sys.stderr)
PY
}

case "${1:-}" in
  rootfs)
    [[ $# -eq 4 || $# -eq 5 ]] || die "usage: $0 rootfs BINARY ORT_LIB DEST [GPU_LIBS]"
    rootfs "$2" "$3" "$4" "${5:-}"
    ;;
  "")
    full_run
    ;;
  image)
    [[ $# -eq 3 ]] || die "usage: $0 image BINARY IMAGE"
    image_work="$(mktemp -d)"
    trap 'rm -rf "$image_work"' EXIT
    build_image "$2" "$(ort_library)" "$3" "$image_work"
    ;;
  check)
    [[ $# -eq 2 ]] || die "usage: $0 check IMAGE"
    cleanup() { :; }
    check_image "$2"
    ;;
  *)
    die "usage: $0 [rootfs BINARY ORT_LIB DEST | image BINARY IMAGE | check IMAGE]"
    ;;
esac
