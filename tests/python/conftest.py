"""Starts a real model-server on 127.0.0.1 for the served Python tests.

The binary comes from MODEL_SERVER, else target-server/ or target/ (release,
then debug). ORT_DYLIB_PATH defaults to the library inside the pinned
onnxruntime wheel. BACKENDS (default "ort,tract") picks the backends every
test runs against. Each server gets free HTTP and gRPC ports and its own cache dir, and is
stopped with SIGTERM at the end; it must exit 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from int8_bounds import engine_bounds, float_deviation

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "fixtures" / "models"
MODEL_FILES = ["digits-mlp.onnx", "digits-mlp-int8.onnx", "digits-cnn.onnx", "digits-cnn-int8.onnx"]
BACKENDS = [b.strip() for b in os.environ.get("BACKENDS", "ort,tract").split(",") if b.strip()]


def server_binary() -> Path:
    if os.environ.get("MODEL_SERVER"):
        return Path(os.environ["MODEL_SERVER"])
    for target in ("target-server", "target"):
        for profile in ("release", "debug"):
            path = ROOT / target / profile / "model-server"
            if path.is_file():
                return path
    pytest.exit("no model-server binary: build it (cargo build -p model-server) or set MODEL_SERVER", 2)


def ort_dylib() -> str:
    if os.environ.get("ORT_DYLIB_PATH"):
        return os.environ["ORT_DYLIB_PATH"]
    capi = Path(onnxruntime.__file__).parent / "capi"
    found = sorted(capi.glob("libonnxruntime.so*"))
    if not found:
        pytest.exit(f"no libonnxruntime.so in {capi}; set ORT_DYLIB_PATH", 2)
    return str(found[0])


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


@dataclass
class Served:
    """A running model-server and what it serves."""

    url: str  # host:port, as tritonclient wants it
    grpc_url: str  # host:port of the gRPC service
    backend: str
    model_file: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://{self.url}"

    @property
    def is_cnn(self) -> bool:
        return "cnn" in self.model_file

    def shaped(self, rows: np.ndarray) -> np.ndarray:
        """Held-out rows [n, 64] in the model's input shape."""
        return rows.reshape(-1, 1, 8, 8) if self.is_cnn else rows.reshape(-1, 64)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"model-server did not exit within 60s of SIGTERM; log:\n{self.log_tail()}")
        return self.process.returncode

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_server(tmp: Path, backend: str, model_file: str, extra: list[str]) -> Served:
    port, grpc_port = free_ports(2)
    log = tmp / f"model-server-{backend}-{port}.log"
    argv = [
        str(server_binary()),
        "--model-name", "digits",
        "--model-uri", str(MODELS / model_file),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--grpc-port", str(grpc_port),
        "--backend", backend,
        "--cache-dir", str(tmp / f"cache-{port}"),
        "--warmup", "2",
        "--threads", "1",
        "--drain", "0s",
        *extra,
    ]
    env = dict(os.environ, ORT_DYLIB_PATH=ort_dylib())
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    served = Served(f"127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", backend, model_file, process, log)
    deadline = time.monotonic() + 60
    while http_status(f"{served.base}/v2/health/ready") != 200:
        if process.poll() is not None:
            pytest.fail(f"model-server exited with {process.returncode}; log:\n{served.log_tail()}")
        # A model that fails to load leaves the server up but never ready,
        # with the reason logged at ERROR level: report it at once.
        failed = re.search(r"\bERROR\b", served.log_tail())
        if failed or time.monotonic() > deadline:
            served.stop()
            why = "failed to start" if failed else "not ready within 60s"
            pytest.fail(f"model-server {why}; log:\n{served.log_tail()}")
        time.sleep(0.02)
    return served


@pytest.fixture(scope="module", params=[(b, m) for b in BACKENDS for m in MODEL_FILES],
                ids=lambda p: f"{p[0]}-{p[1].removesuffix('.onnx')}")
def served(request, tmp_path_factory) -> Served:
    """model-server with dynamic batching on, one per backend and model."""
    backend, model_file = request.param
    server = start_server(tmp_path_factory.mktemp("served"), backend, model_file,
                          ["--max-batch", "8", "--max-delay", "1ms"])
    yield server
    code = server.stop()
    assert code == 0, f"model-server exited with {code} after SIGTERM; log:\n{server.log_tail()}"


@pytest.fixture(scope="session")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    data = json.loads((MODELS / "digits-test.json").read_text())
    return np.asarray(data["inputs"], dtype=np.float32), np.asarray(data["labels"], dtype=np.int64)


class Expected:
    """What the server must answer for the held-out rows of one model.

    A float model must equal in-process onnxruntime to float rounding. An
    int8 model is judged by bounds derived from its quantization scales
    (tests/python/int8_bounds.py explains them): the server's output lies
    where any correct int8 engine's may, so it is within the bound's width of
    in-process onnxruntime's; its labels equal the float model's wherever
    that model's top two classes are clearly apart; and its probabilities
    lie within the noise model's reach of the float model's.
    """

    FLOAT_ATOL = 1e-4  # float32 results of two engines on the same graph
    FLOAT_MARGIN = 1e-3  # top-two gap below which float engines may order classes differently

    def __init__(self, model_file: str, inputs: np.ndarray):
        self.model_file = model_file
        self.int8 = "-int8" in model_file
        self.labels, self.probabilities = in_process(model_file, inputs)
        if self.int8:
            self.engine = engine_bounds(MODELS / model_file, inputs)
            _, float_probabilities = in_process(model_file.replace("-int8", ""), inputs)
            self.deviation = float_deviation(MODELS / model_file, inputs, float_probabilities)

    def check(self, labels: np.ndarray, probabilities: np.ndarray, rows: slice = slice(None)) -> None:
        what = f"{self.model_file}, held-out rows {rows.start or 0}..{rows.stop or len(self.labels)}"
        if not self.int8:
            np.testing.assert_allclose(probabilities, self.probabilities[rows], atol=self.FLOAT_ATOL, rtol=0,
                                       err_msg=what)
            top2 = np.sort(self.probabilities[rows], axis=1)[:, -2:]
            clear = (top2[:, 1] - top2[:, 0]) > self.FLOAT_MARGIN
            assert np.array_equal(labels[clear], self.labels[rows][clear]), what
            return
        bound = self.engine.probabilities
        inside = (probabilities >= bound.lo[rows]) & (probabilities <= bound.hi[rows])
        bad = np.argwhere(~inside)
        assert not len(bad), (
            f"{what}: outside what a correct int8 engine may output at (row, class) {bad[:5].tolist()}: "
            f"{probabilities[tuple(bad[0])]} not in [{bound.lo[rows][tuple(bad[0])]}, {bound.hi[rows][tuple(bad[0])]}]"
        )
        decided = self.engine.decided()[rows]
        assert np.array_equal(labels[decided], self.engine.labels()[rows][decided]), what
        clear = self.deviation.clearly_apart()[rows]
        assert np.array_equal(labels[clear], self.deviation.labels()[rows][clear]), (
            f"{what}: int8 label differs from the float model's where its top two are clearly apart"
        )
        moved = np.abs(probabilities - self.deviation.float_probabilities[rows]).max(axis=1)
        assert np.all(moved <= self.deviation.probability_bound()[rows]), (
            f"{what}: probabilities moved from the float model's by more than the noise model allows"
        )


_SESSIONS: dict[str, onnxruntime.InferenceSession] = {}


def in_process(model_file: str, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) from onnxruntime in this process."""
    if model_file not in _SESSIONS:
        _SESSIONS[model_file] = onnxruntime.InferenceSession(str(MODELS / model_file),
                                                             providers=["CPUExecutionProvider"])
    labels, probabilities = _SESSIONS[model_file].run(["label", "probabilities"], {"input": inputs})
    return labels, probabilities


@pytest.fixture(scope="session")
def expected(held_out):
    """expected(served) -> Expected for every held-out row of its model, computed once per model."""
    cache: dict[str, Expected] = {}

    def get(served: Served) -> Expected:
        if served.model_file not in cache:
            cache[served.model_file] = Expected(served.model_file, served.shaped(held_out[0]))
        return cache[served.model_file]

    return get
