"""Asks the served digits model for every held-out digit, over HTTP under
the route's path prefix and over gRPC with Triton's client, and requires
at least --min-accuracy on both (ci/e2e.sh, through kubectl port-forward).

  predict.py --http 127.0.0.1:PORT --prefix /digits --grpc 127.0.0.1:PORT \
             --test tests/fixtures/models/digits-test.json --min-accuracy 0.9
"""

import argparse
import json
import sys
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient

BATCH = 50


def http_labels(base: str, model: str, inputs: np.ndarray) -> list[int]:
    labels: list[int] = []
    for start in range(0, len(inputs), BATCH):
        chunk = inputs[start : start + BATCH]
        body = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": list(chunk.shape),
                        "datatype": "FP32",
                        "data": chunk.ravel().tolist(),
                    }
                ],
                "outputs": [{"name": "label"}],
            }
        ).encode()
        request = urllib.request.Request(
            f"{base}/v2/models/{model}/infer",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        (label,) = [o for o in answer["outputs"] if o["name"] == "label"]
        labels.extend(int(v) for v in label["data"])
    return labels


def grpc_labels(address: str, model: str, inputs: np.ndarray) -> list[int]:
    client = grpcclient.InferenceServerClient(address)
    if not client.is_model_ready(model):
        sys.exit(f"predict: {model} is not ready over gRPC at {address}")
    labels: list[int] = []
    for start in range(0, len(inputs), BATCH):
        chunk = inputs[start : start + BATCH]
        tensor = grpcclient.InferInput("input", list(chunk.shape), "FP32")
        tensor.set_data_from_numpy(chunk)
        result = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput("label")])
        labels.extend(int(v) for v in result.as_numpy("label"))
    return labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", default="digits")
    parser.add_argument("--test", required=True)
    parser.add_argument("--min-accuracy", type=float, default=0.9)
    args = parser.parse_args()
    test = json.load(open(args.test))
    inputs = np.array(test["inputs"], dtype=np.float32)
    truth = np.array(test["labels"])
    failed = False
    for way, labels in (
        (f"HTTP {args.prefix or '/'}", http_labels(f"http://{args.http}{args.prefix}", args.model, inputs)),
        ("gRPC", grpc_labels(args.grpc, args.model, inputs)),
    ):
        accuracy = float((np.array(labels) == truth).mean())
        print(f"predict: {way}: {len(labels)} digits, accuracy {accuracy:.4f}")
        failed |= len(labels) != len(truth) or accuracy < args.min_accuracy
    if failed:
        sys.exit(f"predict: below the accuracy bar of {args.min_accuracy}")


if __name__ == "__main__":
    main()
