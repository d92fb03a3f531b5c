"""Trains a digit classifier for the end-to-end walk (ci/e2e.sh).

Logistic regression on scikit-learn's bundled 8x8 digits, regularised by
$C (the sweep's `c`), written to $MODEL_DIR as model.onnx with the
server's test-model interface (input "input" float32 [batch, 64], outputs
"label" int64 [batch] and "probabilities" float32 [batch, 10]) and
metrics.json with the held-out accuracy. FAIL=yes makes the trial fail
after it has printed its first lines, as a crashing training would.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

run = os.environ.get("MODELCTL_RUN", "?")
c = float(os.environ.get("C", "1.0"))
print(f"train: run {run}, C={c}", flush=True)

if os.environ.get("FAIL") == "yes":
    print("train: the data loader lost its shard (FAIL=yes)", flush=True)
    sys.exit(1)

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype(np.float32)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, random_state=0, stratify=y
)
model = LogisticRegression(C=c, max_iter=300).fit(x_train, y_train)
accuracy = float(model.score(x_test, y_test))
print(f"train: held-out accuracy {accuracy:.4f}", flush=True)

weights = model.coef_.T.astype(np.float32)  # [64, 10]
bias = model.intercept_.astype(np.float32)  # [10]
graph = helper.make_graph(
    [
        helper.make_node("MatMul", ["input", "weights"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ],
    "digits",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
    [
        helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
    ],
    [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
)
onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
onnx_model.ir_version = 8
onnx.checker.check_model(onnx_model)

out = os.environ["MODEL_DIR"]
os.makedirs(out, exist_ok=True)
onnx.save(onnx_model, os.path.join(out, "model.onnx"))
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"accuracy": accuracy}, f)
print(f"train: wrote model.onnx and metrics.json to {out}", flush=True)
