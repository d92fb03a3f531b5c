"""The Python tritonclient[http] client against model-server.

Triton's own client must work unchanged: health, server and model metadata,
and inference whose results equal in-process onnxruntime on the same rows
(float models) or lie within the bounds of conftest.Expected (int8 models).
Runs once per backend and model (see conftest.py), and each inference test
once with the client's defaults (binary tensor data both ways, the binary
tensor data extension) and once with JSON tensors.
"""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import Served


MODES = ["binary", "json"]


def tensor_of(batch: np.ndarray, mode: str) -> httpclient.InferInput:
    tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
    if mode == "binary":
        tensor.set_data_from_numpy(batch)  # the client's default: binary_data=True
    else:
        tensor.set_data_from_numpy(batch, binary_data=False)
    return tensor


def requested_output(name: str, mode: str) -> httpclient.InferRequestedOutput:
    if mode == "binary":
        return httpclient.InferRequestedOutput(name)  # the client's default: binary_data=True
    return httpclient.InferRequestedOutput(name, binary_data=False)


def infer(client, served: Served, rows: np.ndarray, mode: str, outputs=("label", "probabilities"), request_id=""):
    requested = [requested_output(name, mode) for name in outputs]
    return client.infer("digits", [tensor_of(served.shaped(rows), mode)], outputs=requested,
                        request_id=request_id)


@pytest.fixture(params=MODES)
def mode(request) -> str:
    """How tensors travel: "binary" (tritonclient's default) or "json"."""
    return request.param


@pytest.fixture
def client(served):
    client = httpclient.InferenceServerClient(served.url, network_timeout=20.0)
    yield client
    client.close()


def test_health_and_readiness(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("digits")


def test_server_metadata(client):
    metadata = client.get_server_metadata()
    assert metadata["name"]
    assert "version" in metadata
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_has_symbolic_batch(client, served):
    metadata = client.get_model_metadata("digits")
    assert metadata["name"] == "digits"
    [tensor] = metadata["inputs"]
    assert tensor["name"] == "input"
    assert tensor["datatype"] == "FP32"
    assert tensor["shape"] == ([-1, 1, 8, 8] if served.is_cnn else [-1, 64])
    outputs = {o["name"]: o for o in metadata["outputs"]}
    assert outputs["label"]["datatype"] == "INT64"
    assert outputs["label"]["shape"] == [-1]
    assert outputs["probabilities"]["datatype"] == "FP32"
    assert outputs["probabilities"]["shape"] == [-1, 10]


def test_infer_equals_in_process(client, served, held_out, expected, mode):
    rows = slice(0, 16)
    result = infer(client, served, held_out[0][rows], mode, request_id="req-16")
    assert result.get_response()["id"] == "req-16"
    labels, probabilities = result.as_numpy("label"), result.as_numpy("probabilities")
    assert labels.dtype == np.int64 and labels.shape == (16,)
    assert probabilities.dtype == np.float32 and probabilities.shape == (16, 10)
    expected(served).check(labels, probabilities, rows)
    # The answer came in the form asked for.
    output = result.get_output("probabilities")
    if mode == "binary":
        assert output["parameters"]["binary_data_size"] == 16 * 10 * 4
        assert "data" not in output
    else:
        assert "parameters" not in output and len(output["data"]) == 16 * 10


def test_client_defaults_without_outputs_return_all_binary(client, served, held_out, expected):
    """No outputs named: the client asks for every output in binary (binary_data_output)."""
    rows = slice(20, 28)
    result = client.infer("digits", [tensor_of(served.shaped(held_out[0][rows]), "binary")])
    for name in ("label", "probabilities"):
        assert "binary_data_size" in result.get_output(name)["parameters"]
    expected(served).check(result.as_numpy("label"), result.as_numpy("probabilities"), rows)


def test_single_row(client, served, held_out, expected, mode):
    rows = slice(3, 4)
    result = infer(client, served, held_out[0][rows], mode)
    expected(served).check(result.as_numpy("label"), result.as_numpy("probabilities"), rows)


def test_requested_outputs_only(client, served, held_out, mode):
    result = infer(client, served, held_out[0][:2], mode, outputs=("probabilities",))
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert names == ["probabilities"]
    assert result.as_numpy("label") is None


def test_unknown_model_is_404(client, served, held_out, mode):
    tensor = tensor_of(served.shaped(held_out[0][:1]), mode)
    with pytest.raises(InferenceServerException) as error:
        client.infer("no-such-model", [tensor], outputs=[requested_output("label", mode)])
    assert error.value.status() == "404"
    assert error.value.message()


def test_wrong_shape_is_400_and_server_keeps_serving(client, served, held_out, mode):
    tensor = tensor_of(np.zeros((1, 63), dtype=np.float32), mode)
    with pytest.raises(InferenceServerException) as error:
        client.infer("digits", [tensor], outputs=[requested_output("label", mode)])
    assert error.value.status() == "400"
    assert infer(client, served, held_out[0][:1], mode).as_numpy("label").shape == (1,)
