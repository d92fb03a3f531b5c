#!/usr/bin/env python3
"""Served load benchmark: model-server against the Python baseline and the
floor of its HTTP stack, over HTTP and gRPC.

Single-row KServe V2 JSON requests (POST /v2/models/digits/infer) from `wrk`
(Debian package) on 127.0.0.1, at concurrency 1 and 32, and for the MLP also
"HTTP binary" requests: the body tritonclient sends by default (binary tensor
data extension: a JSON header with `binary_data_size`, the raw FP32 row
after it, every output asked for in binary):

  model-server --max-batch 1                     (no batching)
  model-server --max-batch 32 --max-delay 1ms    (dynamic batching)
  ci/baseline/app.py                             (FastAPI + onnxruntime)
  http-floor                                     (the floor: hyper answering a fixed 200 body)

and the same two model-server runs over gRPC (ModelInfer with raw tensor
contents, from the `grpc-load` example, one connection per concurrent
request, as wrk opens). The floor is the least an HTTP/1.1 server on
model-server's stack does per request (crates/model-server/examples/
http-floor.rs); the MLP's served throughput at concurrency 32 with batching
is reported as a share of it.

for the MLP, then the two CNNs (digits-cnn, and the compute-bound
digits-cnn-wide) with and without batching, whose served samples/s with
batching is compared with the in-process floor printed by
`cargo bench -p model-server --bench compute` at the batch size the server
reached (read from its /metrics), and the share of the wall time the engine
spent computing (from the engine time histogram in /metrics). Also reports
each server's time from process start to ready and its resident memory.

The servers and the load generator are pinned to disjoint halves of the
CPUs this process may use, so they do not steal each other's cores; the
baseline gets the same cores and engine threads as model-server.

  python3 ci/bench-serve.py [--duration 10] [--repeat 3] [--backend ort] [--no-floor] [--no-binary]

Needs: wrk, a model-server built with the `server` profile (MODEL_SERVER, or
target/server; a release build in target-server/release or target/release will do),
its examples grpc-load and http-floor beside it (built with cargo when
missing), the packages in ci/requirements-serve.txt, and ORT_DYLIB_PATH
(found in the onnxruntime wheel when unset). A benchmark, not a test: it prints figures
and checks only that every request succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
# digits-cnn is the small test CNN; digits-cnn-wide has enough compute per
# sample that batching, not request handling, bounds the throughput.
CNNS = ["digits-cnn.onnx", "digits-cnn-wide.onnx"]
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# The same done() as LUA; the body is a Lua string of decimal escapes, since
# a long bracket string would turn \r\n in the raw floats into \n.
LUA_BINARY = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = "{header_length}"
wrk.body = "{escaped}"
""" + LUA[LUA.index("done = "):]


@dataclass
class Load:
    label: str
    concurrency: int
    rps: float
    p50_us: int
    p99_us: int
    batch: float | None = None
    engine_busy: float | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ort_dylib() -> str:
    if os.environ.get("ORT_DYLIB_PATH"):
        return os.environ["ORT_DYLIB_PATH"]
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / "capi"
    found = sorted(capi.glob("libonnxruntime.so*"))
    if not found:
        sys.exit(f"no libonnxruntime.so in {capi}; set ORT_DYLIB_PATH")
    return str(found[0])


def server_binary() -> Path:
    if os.environ.get("MODEL_SERVER"):
        return Path(os.environ["MODEL_SERVER"])
    # The `server` profile is what the image ships; a plain release build will do.
    for candidate in ("target/server", "target-server/server", "target-server/release", "target/release"):
        path = ROOT / candidate / "model-server"
        if path.is_file():
            return path
    sys.exit("no model-server build found; build it (cargo build --profile server -p model-server) or set MODEL_SERVER")


def example_binary(server: Path, name: str) -> Path:
    """An example of the model-server crate, beside `server` and built with its
    profile (so the floor gets the server's compiler settings); built when missing."""
    path = server.parent / "examples" / name
    if not path.is_file():
        target = server.parent.parent
        profile = server.parent.name if server.parent.name in ("server", "release") else "release"
        command = ["cargo", "build", "-q", "--profile", profile, "-p", "model-server", "--example", name]
        run = subprocess.run(command, cwd=ROOT, env=dict(os.environ, CARGO_TARGET_DIR=str(target)))
        if run.returncode != 0 or not path.is_file():
            sys.exit(f"cannot build the {name} example ({' '.join(command)})")
    return path


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError:
        return 0, ""


class Server:
    """A server process pinned to `cpus`, stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str], port: int, cpus: set[int], log: Path, env: dict,
                 grpc_port: int | None = None):
        self.name, self.port, self.log, self.grpc_port = name, port, log, grpc_port
        self.base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        )
        deadline = started + 120
        # Any answer will do for the floor, which answers 200 everywhere.
        while get(f"{self.base}/v2/health/ready", 0.5)[0] != 200:
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                sys.exit(f"{name} never turned ready; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.005)
        self.ready_s = time.perf_counter() - started

    def rss_mib(self) -> tuple[float, float]:
        """Current and peak resident memory."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
        return rss / 1024, hwm / 1024

    def counters(self) -> dict[str, float] | None:
        """`_sum` and `_count` of the batch size and engine time histograms in /metrics."""
        status, text = get(f"{self.base}/metrics")
        if status != 200:
            return None
        found = {}
        for line in text.splitlines():
            name = line.split("{")[0].split(" ")[0]
            for histogram in ("model_server_batch_size", "model_server_inference_duration_seconds"):
                for part in ("_sum", "_count"):
                    if name == histogram + part:
                        found[histogram.removeprefix("model_server_") + part] = float(line.rsplit(" ", 1)[-1])
        return found or None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wrk(url: str, script: Path, concurrency: int, seconds: float, cpus: set[int]) -> tuple[float, int, int]:
    threads = max(1, min(len(cpus), concurrency))
    argv = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", str(script), url]
    run = subprocess.run(
        argv, capture_output=True, text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    if run.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{run.stdout}{run.stderr}")
    out = run.stdout
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not match:
        sys.exit(f"unexpected wrk output:\n{out}")
    requests, duration_us, p50, p99, bad_status, socket_errors = map(int, match.groups())
    if bad_status or socket_errors:
        sys.exit(f"{url}: {bad_status} non-2xx responses, {socket_errors} socket errors\n{out}")
    return requests / (duration_us / 1e6), p50, p99


def grpc_load(binary: Path, port: int, body: Path, concurrency: int, seconds: float,
              cpus: set[int]) -> tuple[float, int, int]:
    argv = [str(binary), "--url", f"http://127.0.0.1:{port}", "--model", "digits", "--body", str(body),
            "--concurrency", str(concurrency), "--seconds", str(max(1, round(seconds))),
            "--threads", str(max(1, min(len(cpus), concurrency)))]
    run = subprocess.run(argv, capture_output=True, text=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+)$", run.stdout, re.M)
    if run.returncode != 0 or not match:
        sys.exit(f"{' '.join(argv)} failed:\n{run.stdout}{run.stderr}")
    requests, duration_us, p50, p99, errors = map(int, match.groups())
    if errors:
        sys.exit(f"gRPC port {port}: {errors} failed calls")
    return requests / (duration_us / 1e6), p50, p99


def body_for(model: Path, row: list[float]) -> str:
    shape = [1, 1, 8, 8] if "cnn" in model.name else [1, 64]
    return json.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": row}]})


def binary_body_for(model: Path, row: list[float]) -> tuple[int, bytes]:
    """What tritonclient sends for one row with its defaults: (JSON header length, body)."""
    shape = [1, 1, 8, 8] if "cnn" in model.name else [1, 64]
    data = struct.pack(f"<{len(row)}f", *row)
    header = json.dumps({
        "inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                    "parameters": {"binary_data_size": len(data)}}],
        "outputs": [{"name": name, "parameters": {"binary_data": True}} for name in ("label", "probabilities")],
    }).encode()
    return len(header), header + data


def measure(server: Server, label: str, script: Path, concurrencies: list[int], seconds: float, cpus: set[int],
            repeat: int = 1, grpc: tuple[Path, Path] | None = None) -> list[Load]:
    """Each figure is the median of `repeat` wrk runs (requests/s, p50 and p99 separately);
    with `grpc` (the grpc-load binary and the request body), of grpc-load runs on the gRPC port."""
    url = f"{server.base}/v2/models/digits/infer"

    def load(c: int, duration: float) -> tuple[float, int, int]:
        if grpc:
            return grpc_load(grpc[0], server.grpc_port, grpc[1], c, duration, cpus)
        return wrk(url, script, c, duration, cpus)

    load(max(concurrencies), min(2.0, seconds))  # warm the connections and caches
    loads = []
    for c in concurrencies:
        before = server.counters()
        started = time.perf_counter()
        runs = [load(c, seconds) for _ in range(repeat)]
        elapsed = time.perf_counter() - started
        after = server.counters()
        batch = busy = None
        if before and after and after["batch_size_count"] > before["batch_size_count"]:
            delta = {key: after[key] - before[key] for key in after}
            batch = delta["batch_size_sum"] / delta["batch_size_count"]
            # Share of the wall time the engine was computing (the wrk runs
            # start and stop within `elapsed`, so this slightly understates).
            busy = delta.get("inference_duration_seconds_sum", 0) / elapsed
        rps, p50, p99 = (statistics.median(column) for column in zip(*runs))
        loads.append(Load(label, c, rps, int(p50), int(p99), batch, busy))
        print(f"  {label:<34} c={c:<3} {rps:>9.0f} req/s  p50 {p50:>6} µs  p99 {p99:>6} µs"
              + (f"  mean batch {batch:.1f}" if batch else "")
              + (f"  engine busy {busy:.0%}" if busy else ""), flush=True)
    return loads


def compute_floor(threads: int, backend: str, workdir: Path) -> dict[str, dict[int, float]]:
    """Per-sample µs of each CNN at batch 1/8/32/128 from the compute bench, by file name."""
    bench = ROOT / "crates" / "model-server" / "benches" / "compute.rs"
    if not bench.is_file() or not shutil.which("cargo"):
        print("  (no compute benchmark in this checkout: floor not measured)")
        return {}
    only = workdir / "floor-models"
    only.mkdir()
    for model in CNNS:
        (only / model).symlink_to(MODELS / model)
    env = dict(os.environ, MODEL_DIR=str(only), THREADS=str(threads), BENCH_SECONDS="2",
               ORT_DYLIB_PATH=ort_dylib(),
               CARGO_TARGET_DIR=os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target-server")))
    run = subprocess.run(["cargo", "bench", "-q", "-p", "model-server", "--bench", "compute"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"  compute benchmark failed:\n{run.stderr[-2000:]}")
        return {}
    print("  " + "\n  ".join(run.stdout.strip().splitlines()))
    floors = {}
    for line in run.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] in CNNS and cols[1] == backend:
            try:
                floors[cols[0]] = dict(zip([1, 8, 32, 128], map(float, cols[2:6])))
            except ValueError:
                pass
    return floors


def floor_at(floor: dict[int, float], batch: float) -> float:
    """Per-sample µs at a fractional batch size, interpolated between measured sizes."""
    sizes = sorted(floor)
    if batch <= sizes[0]:
        return floor[sizes[0]]
    for lo, hi in zip(sizes, sizes[1:]):
        if batch <= hi:
            t = (batch - lo) / (hi - lo)
            return floor[lo] + t * (floor[hi] - floor[lo])
    return floor[sizes[-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description="served load benchmark")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per figure; the median is reported")
    parser.add_argument("--backend", default="ort", choices=["ort", "tract"])
    parser.add_argument("--no-floor", action="store_true", help="skip the in-process compute floor")
    parser.add_argument("--no-binary", action="store_true",
                        help="skip the HTTP binary mode (for a server without the binary extension)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found (apt-get install wrk)")

    cpus = sorted(os.sched_getaffinity(0))
    half = max(1, len(cpus) // 2)
    server_cpus, load_cpus = set(cpus[:half]), set(cpus[half:] or cpus)
    threads = len(server_cpus)
    binary = server_binary()
    floor_binary = example_binary(binary, "http-floor")
    # A build from before gRPC (for a before/after comparison) is measured over HTTP only.
    grpc_binary = None
    if "--grpc-port" in subprocess.run([str(binary), "--help"], capture_output=True, text=True).stdout:
        grpc_binary = example_binary(binary, "grpc-load")
    else:
        print(f"{binary} has no --grpc-port: gRPC not measured")
    env = dict(os.environ, ORT_DYLIB_PATH=ort_dylib())
    test = json.loads((MODELS / "digits-test.json").read_text())
    print(f"server on CPUs {sorted(server_cpus)} ({threads} engine thread(s)), wrk on CPUs {sorted(load_cpus)}, "
          f"median of {args.repeat} x {args.duration:g}s per figure, backend {args.backend}")

    results: dict = {"loads": [], "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def start_model_server(model: str, batch_args: list[str], name: str) -> Server:
            port, grpc_port = free_port(), free_port()
            while grpc_port == port:
                grpc_port = free_port()
            grpc_args = ["--grpc-port", str(grpc_port)] if grpc_binary else []
            argv = [str(binary), "--model-name", "digits", "--model-uri", str(MODELS / model),
                    "--host", "127.0.0.1", "--port", str(port), *grpc_args,
                    "--backend", args.backend,
                    "--warmup", "16", "--threads", str(threads), "--drain", "0s",
                    "--cache-dir", str(work / "cache"), *batch_args]
            return Server(name, argv, port, server_cpus, work / f"{name}.log", env, grpc_port)

        def script_for(model: str) -> Path:
            path = work / f"{model}.lua"
            path.write_text(LUA.format(body=body_for(MODELS / model, test["inputs"][0])))
            return path

        def binary_script_for(model: str) -> Path:
            path = work / f"{model}.binary.lua"
            header_length, body = binary_body_for(MODELS / model, test["inputs"][0])
            escaped = "".join(f"\\{byte:03d}" for byte in body)
            path.write_text(LUA_BINARY.format(header_length=header_length, escaped=escaped))
            return path

        mlp = "digits-mlp.onnx"
        runs = [
            ("model-server (mlp, max-batch 1)", mlp, ["--max-batch", "1"]),
            ("model-server (mlp, max-batch 32, 1ms)", mlp, ["--max-batch", "32", "--max-delay", "1ms"]),
        ]
        print(f"\n{mlp}: single-row requests")
        body = work / "mlp-request.json"
        body.write_text(body_for(MODELS / mlp, test["inputs"][0]))
        for label, model, extra in runs:
            server = start_model_server(model, extra, label.split()[0] + str(len(results["servers"])))
            try:
                results["loads"] += measure(server, label, script_for(model), [1, 32], args.duration, load_cpus, args.repeat)
                results["servers"][label] = {"ready_s": server.ready_s, "rss_mib": server.rss_mib()}
                if grpc_binary:
                    results["loads"] += measure(server, label.replace("model-server", "model-server gRPC"),
                                                script_for(model), [1, 32], args.duration, load_cpus, args.repeat,
                                                grpc=(grpc_binary, body))
                # The same server, HTTP binary (after the JSON figures, which stay comparable).
                if not args.no_binary:
                    results["loads"] += measure(server, label.replace(")", ", binary)"), binary_script_for(model),
                                                [1, 32], args.duration, load_cpus, args.repeat)
            finally:
                server.stop()

        label = "http-floor (hyper, fixed 200 body)"
        port = free_port()
        floor_server = Server("http-floor", [str(floor_binary), f"127.0.0.1:{port}"], port, server_cpus,
                              work / "http-floor.log", env)
        try:
            results["loads"] += measure(floor_server, label, script_for(mlp), [1, 32], args.duration, load_cpus,
                                        args.repeat)
        finally:
            floor_server.stop()

        label = "python baseline (fastapi + onnxruntime)"
        port = free_port()
        baseline = Server("baseline", [sys.executable, str(ROOT / "ci" / "baseline" / "app.py"),
                                       "--model", str(MODELS / mlp), "--model-name", "digits",
                                       "--port", str(port), "--threads", str(threads)],
                          port, server_cpus, work / "baseline.log", env)
        try:
            results["loads"] += measure(baseline, label, script_for(mlp), [1, 32], args.duration, load_cpus, args.repeat)
            results["servers"][label] = {"ready_s": baseline.ready_s, "rss_mib": baseline.rss_mib()}
        finally:
            baseline.stop()

        for model in CNNS:
            short = model.removeprefix("digits-").removesuffix(".onnx")
            print(f"\n{model}: single-row requests")
            for label, extra in [(f"model-server ({short}, max-batch 1)", ["--max-batch", "1"]),
                                 (f"model-server ({short}, max-batch 32, 1ms)",
                                  ["--max-batch", "32", "--max-delay", "1ms"])]:
                server = start_model_server(model, extra, short + extra[1])
                try:
                    results["loads"] += measure(server, label, script_for(model), [32], args.duration,
                                                load_cpus, args.repeat)
                    results["servers"][label] = {"ready_s": server.ready_s, "rss_mib": server.rss_mib()}
                finally:
                    server.stop()

        floors = {} if args.no_floor else compute_floor(threads, args.backend, work)

    by = {(l.label, l.concurrency): l for l in results["loads"]}
    print("\n| server | concurrency | requests/s | p50 µs | p99 µs | mean batch | engine busy |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for l in results["loads"]:
        batch = f"{l.batch:.1f}" if l.batch else "-"
        busy = f"{l.engine_busy:.0%}" if l.engine_busy else "-"
        print(f"| {l.label} | {l.concurrency} | {l.rps:.0f} | {l.p50_us} | {l.p99_us} | {batch} | {busy} |")
    print("\n| server | start to ready s | RSS MiB (peak) |\n| --- | --- | --- |")
    for label, s in results["servers"].items():
        print(f"| {label} | {s['ready_s']:.3f} | {s['rss_mib'][0]:.1f} ({s['rss_mib'][1]:.1f}) |")

    batched = by.get(("model-server (mlp, max-batch 32, 1ms)", 32))
    python = by.get(("python baseline (fastapi + onnxruntime)", 32))
    single = by.get(("model-server (mlp, max-batch 1)", 1))
    print()
    if single:
        print(f"p99 at concurrency 1 (no batching): {single.p99_us} µs (goal < 1000)")
    if batched and python:
        print(f"batched model-server vs Python at concurrency 32: {batched.rps / python.rps:.1f}x (goal >= 5x)")
    floor = by.get(("http-floor (hyper, fixed 200 body)", 32))
    if batched and floor:
        results["http_floor_share"] = batched.rps / floor.rps
        print(f"batched model-server (mlp, HTTP JSON) vs the HTTP floor at concurrency 32: "
              f"{batched.rps:.0f} / {floor.rps:.0f} = {batched.rps / floor.rps:.0%} (goal >= 70%)")
    grpc_batched = by.get(("model-server gRPC (mlp, max-batch 32, 1ms)", 32))
    if grpc_batched and floor:
        print(f"batched model-server (mlp, gRPC) vs the HTTP floor at concurrency 32: "
              f"{grpc_batched.rps / floor.rps:.0%}")
    grpc_single = by.get(("model-server gRPC (mlp, max-batch 1)", 1))
    if grpc_single:
        print(f"gRPC p99 at concurrency 1 (no batching): {grpc_single.p99_us} µs")
    results["floors"] = {}
    for model in CNNS:
        short = model.removeprefix("digits-").removesuffix(".onnx")
        batched = by.get((f"model-server ({short}, max-batch 32, 1ms)", 32))
        floor = floors.get(model) if floors else None
        if not (batched and floor and batched.batch):
            print(f"{short}: floor not compared (no compute benchmark figures or no batch size metric)")
            continue
        per_sample = floor_at(floor, batched.batch)
        floor_sps = 1e6 / per_sample
        print(f"{short} served {batched.rps:.0f} samples/s at mean batch {batched.batch:.1f}; "
              f"in-process floor {per_sample:.1f} µs/sample = {floor_sps:.0f} samples/s; "
              f"served/floor {batched.rps / floor_sps:.0%} (goal >= 80% for a compute-bound model)")
        results["floors"][model] = {"per_sample_us": floor, "at_batch_us": per_sample,
                                    "served_fraction": batched.rps / floor_sps}
    if args.json:
        results["loads"] = [l.__dict__ for l in results["loads"]]
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
