"""Held-out accuracy of every test model, measured through the running server.

The 450 held-out digits go through HTTP two ways: as batched requests and as
single-row requests sent concurrently, so the dynamic batcher (--max-batch 8)
merges rows from different requests. Accuracy must be at least 0.95 both
ways, and every row must come back with its own prediction: the rows are
distinct, so a mix-up under batching would show as a disagreement with the
in-process reference.
"""

from __future__ import annotations

import numpy as np
import tritonclient.http as httpclient

MIN_ACCURACY = 0.95
CONCURRENCY = 16


def request(served, rows):
    batch = served.shaped(rows)
    tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=False)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")]
    return [tensor], outputs


def test_held_out_accuracy_in_batches(served, held_out, expected):
    x, y = held_out
    client = httpclient.InferenceServerClient(served.url, network_timeout=20.0)
    try:
        labels, probabilities = [], []
        for start in range(0, len(x), 64):
            inputs, outputs = request(served, x[start : start + 64])
            result = client.infer("digits", inputs, outputs=outputs)
            labels.append(result.as_numpy("label"))
            probabilities.append(result.as_numpy("probabilities"))
    finally:
        client.close()
    labels, probabilities = np.concatenate(labels), np.concatenate(probabilities)
    accuracy = float((labels == y).mean())
    assert accuracy >= MIN_ACCURACY, f"{served.model_file} on {served.backend}: accuracy {accuracy:.4f}"
    expected(served).check(labels, probabilities)


def test_held_out_accuracy_concurrent_single_rows(served, held_out, expected):
    x, y = held_out
    client = httpclient.InferenceServerClient(served.url, concurrency=CONCURRENCY, network_timeout=20.0)
    try:
        pending = []
        for i in range(len(x)):
            inputs, outputs = request(served, x[i : i + 1])
            pending.append(client.async_infer("digits", inputs, outputs=outputs, request_id=f"row-{i}"))
        results = [p.get_result() for p in pending]
    finally:
        client.close()
    for i, result in enumerate(results):
        assert result.get_response()["id"] == f"row-{i}"
    labels = np.concatenate([r.as_numpy("label") for r in results])
    probabilities = np.concatenate([r.as_numpy("probabilities") for r in results])
    accuracy = float((labels == y).mean())
    assert accuracy >= MIN_ACCURACY, f"{served.model_file} on {served.backend}: accuracy {accuracy:.4f}"
    expected(served).check(labels, probabilities)
