"""FP16 and BYTES tensors through tritonclient[http], in binary (the client's
default) and JSON, and through tritonclient[grpc] (raw tensor contents).

- digits-cnn-fp16 takes and returns FP16 on both backends; its answers equal
  in-process onnxruntime's on the same model, and its labels the FP32 CNN's
  wherever that model's top two classes are clearly apart.
- words takes BYTES (strings) and returns INT64 and BYTES on ONNX Runtime.
  tract runs no string tensors: started on tract, the server stays not
  ready and says so (checked here, so the limit is a tested fact).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import onnxruntime
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import BACKENDS, MODELS, free_port, server_binary, start_server

MODES = ["binary", "json"]
WORDS = ["seven", "cat", "", "zero", "ünïcode", "nine"]
WORD_IDS = [7, -1, -1, 0, -1, 9]


def session(model_file: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(MODELS / model_file), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=BACKENDS)
def fp16_server(request, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("fp16"), request.param, "digits-cnn-fp16.onnx",
                          ["--max-batch", "8", "--max-delay", "1ms"])
    yield server
    assert server.stop() == 0, server.log_tail()


@pytest.fixture(scope="module")
def words_server(tmp_path_factory):
    if "ort" not in BACKENDS:
        pytest.skip("BYTES models run on ONNX Runtime only, and BACKENDS leaves it out")
    server = start_server(tmp_path_factory.mktemp("words"), "ort", "words.onnx", [])
    yield server
    assert server.stop() == 0, server.log_tail()


def client_of(served) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(served.url, network_timeout=20.0)


@pytest.mark.parametrize("mode", MODES)
def test_fp16_in_and_out(fp16_server, held_out, mode):
    binary = mode == "binary"
    rows = held_out[0][:32].reshape(-1, 1, 8, 8).astype(np.float16)
    tensor = httpclient.InferInput("input", list(rows.shape), "FP16")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("label", "probabilities")]
    client = client_of(fp16_server)
    try:
        result = client.infer("digits", [tensor], outputs=outputs)
    finally:
        client.close()
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float16 and probabilities.shape == (32, 10)
    assert result.get_output("probabilities")["datatype"] == "FP16"
    labels_in_process, probabilities_in_process = session("digits-cnn-fp16.onnx").run(None, {"input": rows})
    # Same graph, same FP16 rounding at both ends: equal to a float32 engine's error, rounded to FP16.
    np.testing.assert_allclose(probabilities.astype(np.float32), probabilities_in_process.astype(np.float32),
                               atol=1e-3, rtol=0)
    labels = result.as_numpy("label")
    float_probabilities = session("digits-cnn.onnx").run(None, {"input": rows.astype(np.float32)})[1]
    top2 = np.sort(float_probabilities, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.01
    assert np.array_equal(labels[clear], float_probabilities.argmax(axis=1)[clear])
    assert np.array_equal(labels, labels_in_process)


@pytest.mark.parametrize("mode", MODES)
def test_bytes_in_and_out(words_server, mode):
    binary = mode == "binary"
    text = np.array([w.encode() for w in WORDS], dtype=np.object_)
    tensor = httpclient.InferInput("text", [len(WORDS)], "BYTES")
    tensor.set_data_from_numpy(text, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("id", "echo")]
    client = client_of(words_server)
    try:
        result = client.infer("digits", [tensor], outputs=outputs)
    finally:
        client.close()
    assert result.as_numpy("id").tolist() == WORD_IDS
    echo = result.as_numpy("echo")
    assert result.get_output("echo")["datatype"] == "BYTES"
    # Binary BYTES come back as bytes objects, JSON ones as str.
    assert [e.decode() if isinstance(e, bytes) else e for e in echo.tolist()] == WORDS


def test_fp16_over_grpc(fp16_server, held_out):
    rows = held_out[0][:32].reshape(-1, 1, 8, 8).astype(np.float16)
    tensor = grpcclient.InferInput("input", list(rows.shape), "FP16")
    tensor.set_data_from_numpy(rows)
    client = grpcclient.InferenceServerClient(fp16_server.grpc_url)
    try:
        result = client.infer("digits", [tensor])
    finally:
        client.close()
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float16 and probabilities.shape == (32, 10)
    labels_in_process, probabilities_in_process = session("digits-cnn-fp16.onnx").run(None, {"input": rows})
    np.testing.assert_allclose(probabilities.astype(np.float32), probabilities_in_process.astype(np.float32),
                               atol=1e-3, rtol=0)
    assert np.array_equal(result.as_numpy("label"), labels_in_process)


def test_bytes_over_grpc(words_server):
    text = np.array([w.encode() for w in WORDS], dtype=np.object_)
    tensor = grpcclient.InferInput("text", [len(WORDS)], "BYTES")
    tensor.set_data_from_numpy(text)
    client = grpcclient.InferenceServerClient(words_server.grpc_url)
    try:
        result = client.infer("digits", [tensor])
        assert result.as_numpy("id").tolist() == WORD_IDS
        assert [e.decode() for e in result.as_numpy("echo").tolist()] == WORDS
        # A string that is not UTF-8 is INVALID_ARGUMENT, and the server keeps serving.
        bad = grpcclient.InferInput("text", [1], "BYTES")
        bad.set_data_from_numpy(np.array([b"\xff\xfe"], dtype=np.object_))
        with pytest.raises(InferenceServerException) as error:
            client.infer("digits", [bad])
        assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert "UTF-8" in error.value.message()
        assert client.is_model_ready("digits")
    finally:
        client.close()


def test_bytes_metadata_and_wrong_type(words_server):
    client = client_of(words_server)
    try:
        metadata = client.get_model_metadata("digits")
        assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        tensor = httpclient.InferInput("text", [1], "FP32")
        tensor.set_data_from_numpy(np.zeros(1, dtype=np.float32))
        with pytest.raises(InferenceServerException) as error:
            client.infer("digits", [tensor])
        assert error.value.status() == "400"
        assert "BYTES" in error.value.message()
    finally:
        client.close()


def test_tract_refuses_bytes_models(tmp_path):
    if "tract" not in BACKENDS:
        pytest.skip("BACKENDS leaves tract out")
    with pytest.raises(pytest.fail.Exception) as failure:
        start_server(tmp_path, "tract", "words.onnx", [])
    # start_server reports the log of a server that failed to load.
    assert "BYTES (strings)" in str(failure.value)
    assert "--backend ort" in str(failure.value)


def test_tract_not_ready_reason_is_served(tmp_path):
    """The readiness endpoint itself names the reason, for the pod's events."""
    if "tract" not in BACKENDS:
        pytest.skip("BACKENDS leaves tract out")
    port = free_port()
    process = subprocess.Popen(
        [str(server_binary()), "--model-name", "digits", "--model-uri", str(MODELS / "words.onnx"),
         "--host", "127.0.0.1", "--port", str(port), "--backend", "tract", "--cache-dir", str(tmp_path),
         "--drain", "0s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline and "BYTES" not in body:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1)
                pytest.fail("a BYTES model turned ready on tract")
            except urllib.error.HTTPError as e:
                assert e.code == 503
                body = json.loads(e.read())["error"]
            except OSError:
                pass
            time.sleep(0.05)
        assert "BYTES (strings)" in body, body
    finally:
        process.terminate()
        process.wait(timeout=30)
