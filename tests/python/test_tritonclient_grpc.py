"""The Python tritonclient[grpc] client against model-server's gRPC port.

Triton's own gRPC client must work unchanged, as its HTTP client does
(test_tritonclient.py): health, server and model metadata, and inference
(raw tensor contents, which is what tritonclient sends) whose results equal
in-process onnxruntime on the same rows (float models) or lie within the
bounds of conftest.Expected (int8 models); concurrent clients batched
together without mixing rows up; errors with their gRPC status codes.
Runs once per backend and model (see conftest.py).
"""

from __future__ import annotations

import threading
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from conftest import Served


def infer(client, served: Served, rows: np.ndarray, outputs=("label", "probabilities"), request_id=""):
    batch = served.shaped(rows)
    tensor = grpcclient.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
    return client.infer("digits", [tensor], outputs=requested, request_id=request_id)


@pytest.fixture
def client(served):
    client = grpcclient.InferenceServerClient(served.grpc_url)
    yield client
    client.close()


def test_health_and_readiness(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("digits")
    assert client.is_model_ready("digits", "1")


def test_server_metadata(client):
    metadata = client.get_server_metadata()
    assert metadata.name == "model-server"
    assert metadata.version


def test_model_metadata_has_symbolic_batch(client, served):
    metadata = client.get_model_metadata("digits")
    assert metadata.name == "digits"
    assert list(metadata.versions) == ["1"]
    [tensor] = metadata.inputs
    assert tensor.name == "input"
    assert tensor.datatype == "FP32"
    assert list(tensor.shape) == ([-1, 1, 8, 8] if served.is_cnn else [-1, 64])
    outputs = {o.name: o for o in metadata.outputs}
    assert outputs["label"].datatype == "INT64"
    assert list(outputs["label"].shape) == [-1]
    assert outputs["probabilities"].datatype == "FP32"
    assert list(outputs["probabilities"].shape) == [-1, 10]


def test_infer_equals_in_process(client, served, held_out, expected):
    rows = slice(0, 16)
    result = infer(client, served, held_out[0][rows], request_id="req-16")
    assert result.get_response().id == "req-16"
    assert result.get_response().model_name == "digits"
    labels, probabilities = result.as_numpy("label"), result.as_numpy("probabilities")
    assert labels.dtype == np.int64 and labels.shape == (16,)
    assert probabilities.dtype == np.float32 and probabilities.shape == (16, 10)
    expected(served).check(labels, probabilities, rows)


def test_single_row(client, served, held_out, expected):
    rows = slice(3, 4)
    result = infer(client, served, held_out[0][rows])
    expected(served).check(result.as_numpy("label"), result.as_numpy("probabilities"), rows)


def test_every_held_out_row(client, served, held_out, expected):
    result = infer(client, served, held_out[0])
    expected(served).check(result.as_numpy("label"), result.as_numpy("probabilities"))


def test_requested_outputs_only(client, served, held_out):
    result = infer(client, served, held_out[0][:2], outputs=("probabilities",))
    names = [o.name for o in result.get_response().outputs]
    assert names == ["probabilities"]
    assert result.as_numpy("label") is None


def batch_counts(served: Served) -> tuple[float, float]:
    """(_sum, _count) of the batch size histogram in /metrics."""
    with urllib.request.urlopen(f"{served.base}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        for part in ("sum", "count"):
            if line.startswith(f"model_server_batch_size_{part} "):
                found[part] = float(line.split()[-1])
    return found["sum"], found["count"]


def test_concurrent_clients_are_batched_and_get_their_own_rows(served, held_out, expected):
    """32 clients, one row each, all in flight at once (the server runs
    --max-batch 8): each gets exactly its own row's answer, and the server
    ran fewer model calls than requests. Bursts repeat until batches form,
    as the scheduler decides when the engine picks requests up."""
    count = 32
    rows = held_out[0][:count]
    clients = [grpcclient.InferenceServerClient(served.grpc_url) for _ in range(count)]
    try:
        for burst in range(5):
            sum_before, count_before = batch_counts(served)
            results: list = [None] * count
            start = threading.Barrier(count)

            def call(i: int) -> None:
                start.wait()
                results[i] = infer(clients[i], served, rows[i:i + 1])

            threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for i, result in enumerate(results):
                assert result is not None, f"request {i} got no answer"
                expected(served).check(result.as_numpy("label"), result.as_numpy("probabilities"), slice(i, i + 1))
            rows_run, calls = (after - before for after, before in zip(batch_counts(served), (sum_before, count_before)))
            assert rows_run == count, f"the model ran {rows_run} rows for {count} single-row requests"
            if calls < count:
                return
        pytest.fail(f"5 bursts of {count} concurrent requests never formed a batch")
    finally:
        for client in clients:
            client.close()


def test_unknown_model_is_not_found(client, served, held_out):
    batch = served.shaped(held_out[0][:1])
    tensor = grpcclient.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    with pytest.raises(InferenceServerException) as error:
        client.infer("no-such-model", [tensor])
    assert error.value.status() == "StatusCode.NOT_FOUND"
    assert "no-such-model" in error.value.message()


def test_wrong_shape_is_invalid_argument_and_server_keeps_serving(client, served, held_out):
    wrong = np.zeros((1, 63), dtype=np.float32)
    tensor = grpcclient.InferInput("input", [1, 63], "FP32")
    tensor.set_data_from_numpy(wrong)
    with pytest.raises(InferenceServerException) as error:
        client.infer("digits", [tensor])
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "shape" in error.value.message()
    assert infer(client, served, held_out[0][:1]).as_numpy("label").shape == (1,)


def test_wrong_datatype_is_invalid_argument(client, served, held_out):
    batch = served.shaped(held_out[0][:1]).astype(np.float64)
    tensor = grpcclient.InferInput("input", list(batch.shape), "FP64")
    tensor.set_data_from_numpy(batch)
    with pytest.raises(InferenceServerException) as error:
        client.infer("digits", [tensor])
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "FP64 but the model expects FP32" in error.value.message()


def test_rpcs_not_served_are_unimplemented_with_a_message(client):
    with pytest.raises(InferenceServerException) as error:
        client.get_model_config("digits")
    assert error.value.status() == "StatusCode.UNIMPLEMENTED"
    assert "ModelConfig is not implemented" in error.value.message()
