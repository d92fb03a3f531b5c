#!/usr/bin/env bash
# Runs the MLP and CNN test models on CUDA and on the CPU with the same
# model-server build, checks the outputs agree, and prints throughput.
#
#   ci/gpu-check.sh              the whole check (needs an NVIDIA GPU)
#   ci/gpu-check.sh --cpu-only   the CPU half only, with ORT_DYLIB_PATH's
#                                (CPU) ONNX Runtime: proves the script
#                                itself on a machine without a GPU
#
# Steps: build model-server (release); install ci/requirements-gpu.txt
# (onnxruntime-gpu and the CUDA/cuDNN wheels its CUDA provider loads) into
# .venv-gpu from PyPI; for each of tests/fixtures/models/digits-mlp.onnx and
# digits-cnn.onnx start model-server on 127.0.0.1 twice, --device cpu and
# --device cuda, both on that ONNX Runtime; send the held-out digits to
# both, in batches of 1 and 32, and require every output to agree within
# an absolute and relative tolerance; print requests/s and rows/s at batch
# 1 and batch 32 for CPU and CUDA. Before that, with CUDA_VISIBLE_DEVICES
# empty (a driver that sees no device), model-server --device cuda must exit
# 2 at start, naming the device, the library and the reason. Exits 1 on a
# mismatch, when that start does not fail so, and when the CUDA
# server does not start (model-server exits when the CUDA provider cannot
# be loaded, it never runs on the CPU instead). Servers are stopped on exit.
#
# Needs: cargo, python3 with venv, network access to PyPI (first run), an
# NVIDIA driver new enough for the CUDA version of onnxruntime-gpu (CUDA
# 13: driver 580 or newer). CARGO_TARGET_DIR is respected; MODEL_SERVER
# names an already built release binary and skips the build; DURATION sets
# the seconds each throughput cell runs (default 5).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GPU_VENV:-$ROOT/.venv-gpu}"
DEVICES=(cpu cuda)

log() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "${1:-}" in
  --cpu-only) DEVICES=(cpu) ;;
  "") ;;
  *) die "usage: $0 [--cpu-only]" ;;
esac

command -v python3 >/dev/null || die "python3 not found"

if [[ -n "${MODEL_SERVER:-}" ]]; then
  binary="$MODEL_SERVER"
else
  log "building model-server (release)"
  (cd "$ROOT" && cargo build --release --locked -p model-server)
  binary="${CARGO_TARGET_DIR:-$ROOT/target}/release/model-server"
fi
[[ -x "$binary" ]] || die "no executable model-server at $binary"

if [[ "${DEVICES[*]}" == cpu ]]; then
  [[ -n "${ORT_DYLIB_PATH:-}" ]] || die "--cpu-only needs ORT_DYLIB_PATH (pip install onnxruntime)"
  ort_lib="$ORT_DYLIB_PATH"
  lib_path="${LD_LIBRARY_PATH:-}"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "installing ci/requirements-gpu.txt into $VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --only-binary=:all: -r "$ROOT/ci/requirements-gpu.txt"
  # libonnxruntime.so and its CUDA provider, and every directory of the
  # nvidia wheels' libraries, which the provider opens by soname.
  read -r ort_lib lib_path < <("$VENV/bin/python" - <<'PY'
import pathlib, onnxruntime
capi = pathlib.Path(onnxruntime.__file__).parent / "capi"
lib = sorted(capi.glob("libonnxruntime.so.*"))[0]
site = capi.parent.parent
dirs = sorted({str(p.parent) for p in (site / "nvidia").rglob("lib*.so*")})
print(lib, ":".join([str(capi)] + dirs))
PY
  )
  lib_path="$lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
log "ONNX Runtime: $ort_lib"

# A driver that sees no device (CUDA_VISIBLE_DEVICES empty, as a node whose
# GPUs are all hidden): model-server must exit 2 at start, before binding its
# port, naming the device, the library and the reason, and never stay up
# unready. (NVIDIA_VISIBLE_DEVICES=none hides them in a container the same
# way; outside one the driver does not read it.)
if [[ " ${DEVICES[*]} " == *" cuda "* ]]; then
  log "no visible device: CUDA_VISIBLE_DEVICES= model-server --device cuda must exit 2"
  status=0
  hidden_log="$(CUDA_VISIBLE_DEVICES="" NVIDIA_VISIBLE_DEVICES=none ORT_DYLIB_PATH="$ort_lib" \
    LD_LIBRARY_PATH="$lib_path" timeout 60 "$binary" --model-name=digits \
    --model-uri="$ROOT/tests/fixtures/models/digits-mlp.onnx" --host=127.0.0.1 --port=0 \
    --grpc-port=0 --device=cuda --drain=0s 2>&1)" || status=$?
  [[ "$status" == 2 ]] || die "no visible device: exit $status, not 2 (124: still running after 60 s):
$hidden_log"
  for want in "--device cuda" "$ort_lib" "no CUDA-capable device"; do
    grep -qF -- "$want" <<<"$hidden_log" || die "no visible device: the message does not name '$want':
$hidden_log"
  done
  ! grep -q listening <<<"$hidden_log" || die "no visible device: the port was bound first:
$hidden_log"
  log "no visible device: exit 2, naming the device, the library and the reason"
fi

export MODEL_SERVER_BIN="$binary" ORT_LIB="$ort_lib" GPU_LIB_PATH="$lib_path"
export CHECK_DEVICES="${DEVICES[*]}" MODELS_DIR="$ROOT/tests/fixtures/models"
exec python3 - <<'PY'
"""Starts the servers, compares their outputs, measures throughput."""
import json, math, os, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request
from pathlib import Path

ATOL, RTOL = 1e-3, 1e-3
DURATION = float(os.environ.get("DURATION", "5"))
devices = os.environ["CHECK_DEVICES"].split()
models_dir = Path(os.environ["MODELS_DIR"])
digits = json.loads((models_dir / "digits-test.json").read_text())["inputs"]
servers = []


def stop_all():
    for proc, _ in servers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _ in servers:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def fail(message):
    print(f"gpu-check: FAIL: {message}", file=sys.stderr)
    stop_all()
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def start(model, device):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"gpu-check-{model}-{device}-", suffix=".log", delete=False)
    env = dict(os.environ, ORT_DYLIB_PATH=os.environ["ORT_LIB"], LD_LIBRARY_PATH=os.environ["GPU_LIB_PATH"])
    proc = subprocess.Popen(
        [os.environ["MODEL_SERVER_BIN"], "--model-name=digits", f"--model-uri={models_dir / (model + '.onnx')}",
         "--host=127.0.0.1", f"--port={port}", f"--device={device}", "--max-batch=1", "--warmup=2",
         "--drain=0s", "--cache-dir", tempfile.mkdtemp(prefix="gpu-check-cache-")],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    servers.append((proc, log.name))
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            fail(f"{model} on {device}: model-server exited with {proc.returncode}:\n{Path(log.name).read_text()}")
        try:
            urllib.request.urlopen(base + "/v2/health/ready", timeout=1)
            return base
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    fail(f"{model} on {device}: not ready after 120 s; log in {log.name}")


def body(meta, rows):
    spec = meta["inputs"][0]
    shape = [len(rows)] + [d if d > 0 else 1 for d in spec["shape"][1:]]
    flat = [x for row in rows for x in row]
    return {"inputs": [{"name": spec["name"], "shape": shape, "datatype": spec["datatype"], "data": flat}]}


def infer(base, meta, rows):
    out = request(base + "/v2/models/digits/infer", body(meta, rows))
    return {o["name"]: o["data"] for o in out["outputs"]}


def close(a, b):
    return len(a) == len(b) and all(
        (x == y) if not isinstance(x, float) else math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL) for x, y in zip(a, b))


def throughput(base, meta, batch):
    rows = (digits * (batch // len(digits) + 1))[:batch]
    payload = json.dumps(body(meta, rows)).encode()
    url = base + "/v2/models/digits/infer"
    done, start_t = 0, time.perf_counter()
    while time.perf_counter() - start_t < DURATION:
        req = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
        done += 1
    seconds = time.perf_counter() - start_t
    return done / seconds, done * batch / seconds


try:
    figures = []
    for model in ("digits-mlp", "digits-cnn"):
        bases = {device: start(model, device) for device in devices}
        meta = request(bases[devices[0]] + "/v2/models/digits")
        outputs = {}
        for device, base in bases.items():
            single = [infer(base, meta, [row]) for row in digits[:64]]
            batched = [infer(base, meta, digits[i:i + 32]) for i in range(0, len(digits) - 31, 32)]
            outputs[device] = (single, batched)
        if "cuda" in outputs:
            for kind, index in (("batch 1", 0), ("batch 32", 1)):
                for i, (c, g) in enumerate(zip(outputs["cpu"][index], outputs["cuda"][index])):
                    for name in c:
                        if not close(c[name], g[name]):
                            fail(f"{model} {kind} request {i} output {name}: CPU and CUDA differ beyond "
                                 f"atol={ATOL} rtol={RTOL}\n cpu:  {c[name][:8]}\n cuda: {g[name][:8]}")
            print(f"{model}: CPU and CUDA outputs agree (atol={ATOL}, rtol={RTOL})")
        for device, base in bases.items():
            for batch in (1, 32):
                rps, rows = throughput(base, meta, batch)
                figures.append((model, device, batch, rps, rows))
        stop_all()
        servers.clear()
    print(f"\n{'model':<12} {'device':<6} {'batch':>5} {'requests/s':>11} {'rows/s':>10}")
    for model, device, batch, rps, rows in figures:
        print(f"{model:<12} {device:<6} {batch:>5} {rps:>11.1f} {rows:>10.1f}")
    print(f"\n(sequential requests for {DURATION:g} s per cell, one client, 127.0.0.1)")
finally:
    stop_all()
PY
