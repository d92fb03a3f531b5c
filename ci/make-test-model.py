#!/usr/bin/env python3
"""Train the digits test models and export them as ONNX fixtures.

Writes into tests/fixtures/models/ (or --out):

  digits-mlp.onnx        scikit-learn MLPClassifier exported with skl2onnx,
                         input "input" float32 [batch, 64]
  digits-mlp-int8.onnx   the same model quantized to int8 (QDQ format)
  digits-cnn.onnx        a small convolutional network trained with numpy,
                         input "input" float32 [batch, 1, 8, 8]
  digits-cnn-int8.onnx   the same model quantized to int8 (QDQ format)
  digits-cnn-wide.onnx   the same architecture with wider layers (64/128
                         channels), for benchmarks that need a model whose
                         compute outweighs request handling
  digits-cnn-fp16.onnx   digits-cnn taking and returning FP16: input "input"
                         float16 [batch, 1, 8, 8], "probabilities" float16
                         (computed in float32 between two Casts)
  words.onnx             a string-input graph: input "text" string [batch],
                         outputs "id" int64 [batch] (the digit a word names,
                         "zero" to "nine", else -1) and "echo" string [batch]
  digits-test.json       the held-out split: pixel values scaled to [0, 1]
                         and the true labels

Every digits model has two outputs: "label" int64 [batch] and
"probabilities" float32 [batch, 10] (float16 for digits-cnn-fp16). The batch
dimension is symbolic ("batch"), so one loaded plan serves every batch size.

Everything is seeded, so running the script twice gives the same models.
Each model is checked under onnxruntime before it is written: only
standard-domain operators (plus ai.onnx.ml for the scikit-learn label lookup),
never onnxruntime's com.microsoft operators, and held-out accuracy >= 0.95.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
OPSET = 17
MIN_ACCURACY = 0.95
ALLOWED_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}
BATCH_DIM = "batch"


# ---------------------------------------------------------------- data


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bundled 8x8 digits, pixels scaled from 0..16 to 0..1, split 75/25."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)


# ---------------------------------------------------------------- MLP


def train_mlp(x: np.ndarray, y: np.ndarray) -> onnx.ModelProto:
    clf = MLPClassifier(
        hidden_layer_sizes=(64,),
        max_iter=400,
        random_state=SEED,
        tol=1e-5,
    )
    with warnings.catch_warnings():
        # A fixed iteration budget is the point (reproducible weights); the
        # accuracy check below is what decides whether the model is good enough.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    model = convert_sklearn(
        clf,
        name="digits-mlp",
        initial_types=[("input", FloatTensorType([None, 64]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    return model


# ---------------------------------------------------------------- CNN


def im2col(x: np.ndarray) -> np.ndarray:
    """[N, C, 8, 8] -> [N*64, C*9], 3x3 windows with zero padding 1.

    Columns are ordered (channel, ky, kx), matching an ONNX Conv weight
    [out, in, 3, 3] reshaped to [out, in*9].
    """
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)


def col2im(cols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The adjoint of im2col: scatter-add window gradients back to pixels."""
    n, c, h, w = shape
    g = cols.reshape(n, h, w, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, w + 2), dtype=cols.dtype)
    for ky in range(3):
        for kx in range(3):
            dxp[:, :, ky : ky + h, kx : kx + w] += g[:, :, :, :, ky, kx].transpose(
                0, 3, 1, 2
            )
    return dxp[:, :, 1:-1, 1:-1]


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, _, h, wd = x.shape
    cols = im2col(x)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def conv_backward(
    dout: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = w.shape[0]
    d = dout.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dx = col2im(d @ w.reshape(o, -1), x_shape)
    return dx, dw, db


class Cnn:
    """Conv(c1) ReLU Conv(c2) ReLU MaxPool2 Flatten Dense(hidden) ReLU Dense(10).

    digits-cnn is (16, 32, 64); digits-cnn-wide, (64, 128, 32), has about
    16 times the multiply-adds per sample.
    """

    def __init__(self, rng: np.random.Generator, c1: int = 16, c2: int = 32, hidden: int = 64):
        def he(shape, fan_in):
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)

        self.c2 = c2
        self.p = {
            "conv1.w": he((c1, 1, 3, 3), 9),
            "conv1.b": np.zeros(c1),
            "conv2.w": he((c2, c1, 3, 3), c1 * 9),
            "conv2.b": np.zeros(c2),
            "fc1.w": he((hidden, c2 * 16), c2 * 16),
            "fc1.b": np.zeros(hidden),
            "fc2.w": he((10, hidden), hidden),
            "fc2.b": np.zeros(10),
        }

    def forward(self, x: np.ndarray, keep: bool = False):
        p = self.p
        z1, c1 = conv(x, p["conv1.w"], p["conv1.b"])
        a1 = np.maximum(z1, 0)
        z2, c2 = conv(a1, p["conv2.w"], p["conv2.b"])
        a2 = np.maximum(z2, 0)
        n = x.shape[0]
        blocks = a2.reshape(n, self.c2, 4, 2, 4, 2)
        pooled = blocks.max(axis=(3, 5))
        f = pooled.reshape(n, self.c2 * 16)
        z3 = f @ p["fc1.w"].T + p["fc1.b"]
        a3 = np.maximum(z3, 0)
        logits = a3 @ p["fc2.w"].T + p["fc2.b"]
        if not keep:
            return logits
        cache = (x, z1, c1, a1, z2, c2, a2, blocks, pooled, f, z3, a3)
        return logits, cache

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
        p = self.p
        logits, cache = self.forward(x, keep=True)
        x, z1, c1, a1, z2, c2, a2, blocks, pooled, f, z3, a3 = cache
        n = x.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(shifted)
        prob /= prob.sum(axis=1, keepdims=True)
        loss = -np.log(prob[np.arange(n), y] + 1e-12).mean()
        g = {}
        dlogits = prob
        dlogits[np.arange(n), y] -= 1.0
        dlogits /= n
        g["fc2.w"] = dlogits.T @ a3
        g["fc2.b"] = dlogits.sum(axis=0)
        dz3 = (dlogits @ p["fc2.w"]) * (z3 > 0)
        g["fc1.w"] = dz3.T @ f
        g["fc1.b"] = dz3.sum(axis=0)
        dpooled = (dz3 @ p["fc1.w"]).reshape(pooled.shape)
        mask = blocks == pooled[:, :, :, None, :, None]
        da2 = (mask * dpooled[:, :, :, None, :, None]).reshape(a2.shape)
        dz2 = da2 * (z2 > 0)
        da1, g["conv2.w"], g["conv2.b"] = conv_backward(dz2, c2, p["conv2.w"], a1.shape)
        dz1 = da1 * (z1 > 0)
        _, g["conv1.w"], g["conv1.b"] = conv_backward(dz1, c1, p["conv1.w"], x.shape)
        return float(loss), g


def train_cnn(x: np.ndarray, y: np.ndarray, epochs: int = 30, **widths: int) -> Cnn:
    """Mini-batch Adam on the 8x8 images, in float64 for reproducibility."""
    rng = np.random.default_rng(SEED)
    net = Cnn(rng, **widths)
    images = x.reshape(-1, 1, 8, 8).astype(np.float64)
    m = {k: np.zeros_like(v) for k, v in net.p.items()}
    v = {k: np.zeros_like(v) for k, v in net.p.items()}
    lr, b1, b2, eps, step = 2e-3, 0.9, 0.999, 1e-8, 0
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        total = 0.0
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            loss, grads = net.gradients(images[idx], y[idx])
            total += loss * len(idx)
            step += 1
            for k, gk in grads.items():
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                mhat = m[k] / (1 - b1**step)
                vhat = v[k] / (1 - b2**step)
                net.p[k] -= lr * mhat / (np.sqrt(vhat) + eps)
        if (epoch + 1) % 10 == 0:
            print(f"  cnn epoch {epoch + 1}: loss {total / len(images):.4f}")
    return net


def cnn_to_onnx(net: Cnn, name: str) -> onnx.ModelProto:
    p = {k: numpy_helper.from_array(v.astype(np.float32), k) for k, v in net.p.items()}
    nodes = [
        helper.make_node("Conv", ["input", "conv1.w", "conv1.b"], ["conv1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv1"], ["relu1"]),
        helper.make_node("Conv", ["relu1", "conv2.w", "conv2.b"], ["conv2"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv2"], ["relu2"]),
        helper.make_node("MaxPool", ["relu2"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc1.w", "fc1.b"], ["fc1"], transB=1),
        helper.make_node("Relu", ["fc1"], ["relu3"]),
        helper.make_node("Gemm", ["relu3", "fc2.w", "fc2.b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH_DIM, 1, 8, 8])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [BATCH_DIM]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [BATCH_DIM, 10]),
        ],
        initializer=list(p.values()),
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="modelctl-ci",
        ir_version=8,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


# ---------------------------------------------------------------- FP16 and strings

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def fp16_variant(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """`model` taking "input" and returning "probabilities" as float16: a Cast
    to float32 in front, the float graph unchanged, a Cast back behind."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    graph.name = name
    for node in graph.node:
        node.input[:] = ["input.f32" if i == "input" else i for i in node.input]
        node.output[:] = ["probabilities.f32" if o == "probabilities" else o for o in node.output]
    graph.node.insert(0, helper.make_node("Cast", ["input"], ["input.f32"], to=TensorProto.FLOAT))
    graph.node.append(helper.make_node("Cast", ["probabilities.f32"], ["probabilities"], to=TensorProto.FLOAT16))
    graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    for value in graph.output:
        if value.name == "probabilities":
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(out, full_check=True)
    return out


def words_model() -> onnx.ModelProto:
    """A string-input graph: the digit each word names (-1 for any other
    word), and the words echoed back."""
    nodes = [
        helper.make_node(
            "LabelEncoder",
            ["text"],
            ["id"],
            domain="ai.onnx.ml",
            keys_strings=WORDS,
            values_int64s=list(range(len(WORDS))),
            default_int64=-1,
        ),
        helper.make_node("Identity", ["text"], ["echo"]),
    ]
    graph = helper.make_graph(
        nodes,
        "words",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [BATCH_DIM])],
        [
            helper.make_tensor_value_info("id", TensorProto.INT64, [BATCH_DIM]),
            helper.make_tensor_value_info("echo", TensorProto.STRING, [BATCH_DIM]),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="modelctl-ci",
        ir_version=8,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def check_fp16(name: str, model: onnx.ModelProto, x: np.ndarray, y: np.ndarray) -> None:
    """Float16 in and out, labels the argmax of the probabilities, held-out
    accuracy at least MIN_ACCURACY."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {"input": x.reshape(-1, 1, 8, 8).astype(np.float16)})
    if probabilities.dtype != np.float16 or labels.dtype != np.int64:
        sys.exit(f"{name}: unexpected outputs {labels.dtype} {probabilities.dtype}")
    # The label is the float32 argmax; rounded to float16 it may tie with another.
    picked = probabilities[np.arange(len(labels)), labels]
    if np.any(picked != probabilities.max(axis=1)):
        sys.exit(f"{name}: label is not a largest probability")
    accuracy = float((labels == y).mean())
    print(f"{name}: accuracy {accuracy:.4f}")
    if accuracy < MIN_ACCURACY:
        sys.exit(f"{name}: accuracy {accuracy:.4f} is below {MIN_ACCURACY}")


def check_words(name: str, model: onnx.ModelProto) -> None:
    """Every word maps to its digit, anything else to -1, and comes back unchanged."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    text = np.array(WORDS + ["", "Seven", "eleven"], dtype=object)
    ids, echo = session.run(None, {"text": text})
    if ids.tolist() != list(range(10)) + [-1, -1, -1] or echo.tolist() != text.tolist():
        sys.exit(f"{name}: unexpected outputs {ids.tolist()} {echo.tolist()}")
    print(f"{name}: {len(text)} words mapped")


# ---------------------------------------------------------------- export


def name_batch_dim(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give the first dimension of every graph input and output the name "batch"."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = BATCH_DIM
    return model


class Calibration(CalibrationDataReader):
    """Feeds training rows to the static quantizer, 16 at a time."""

    def __init__(self, x: np.ndarray):
        self.batches = [x[i : i + 16] for i in range(0, len(x), 16)]
        self.pos = 0

    def get_next(self):
        if self.pos >= len(self.batches):
            return None
        self.pos += 1
        return {"input": self.batches[self.pos - 1]}

    def rewind(self):
        self.pos = 0


def quantize(model: onnx.ModelProto, calibration: np.ndarray) -> onnx.ModelProto:
    """Static int8 quantization in QDQ format (standard QuantizeLinear/DequantizeLinear).

    Weights use 7 bits (reduce_range, -64..64). On x86 CPUs without VNNI,
    onnxruntime multiplies uint8 activations by int8 weights with VPMADDUBSW,
    which adds two products into a saturating int16: 255 * 127 * 2 overflows
    it, so the same model gives different answers on different CPUs. With
    |w| <= 64 the largest pair, 255 * 64 * 2 = 32640, fits, and every engine
    on every CPU computes the same integer sums (see check_no_saturation).
    """
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        quantize_static(
            str(src),
            str(dst),
            Calibration(calibration),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=False,
            op_types_to_quantize=["Conv", "MatMul", "Gemm"],
            calibrate_method=CalibrationMethod.MinMax,
            reduce_range=True,
        )
        return onnx.load(dst)


def check_no_saturation(name: str, model: onnx.ModelProto) -> None:
    """Every int8 weight satisfies 255 * 2 * |w| <= 32767 (the int16 pair sum).

    Guards the property quantize() relies on, so a model that some CPUs would
    compute differently is never written.
    """
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        values = initializers.get(node.input[0])
        if values is None or values.dtype != np.int8:
            continue
        widest = int(np.abs(values.astype(np.int32)).max())
        if 255 * 2 * widest > np.iinfo(np.int16).max:
            sys.exit(f"{name}: int8 weight {node.input[0]} reaches {widest}; "
                     "uint8 x int8 pair sums would saturate int16 on CPUs without VNNI")


def write_manifest(out: Path, names: list[str]) -> Path:
    """SHA256SUMS beside the files, in `sha256sum -c` format."""
    lines = []
    for name in sorted(names):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}\n")
    path = out / "SHA256SUMS"
    path.write_text("".join(lines))
    return path


def check(name: str, model: onnx.ModelProto, x: np.ndarray, y: np.ndarray) -> float:
    """Run the model under onnxruntime on the held-out split; returns accuracy."""
    onnx.checker.check_model(model)
    domains = {node.domain for node in model.graph.node}
    foreign = domains - ALLOWED_DOMAINS
    if foreign:
        sys.exit(f"{name}: operators from non-standard domains {sorted(foreign)}")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    outputs = [o.name for o in session.get_outputs()]
    if [i.name for i in inputs] != ["input"] or outputs != ["label", "probabilities"]:
        sys.exit(f"{name}: unexpected signature {[i.name for i in inputs]} -> {outputs}")
    if inputs[0].shape[0] != BATCH_DIM:
        sys.exit(f"{name}: batch dimension is {inputs[0].shape[0]!r}, not symbolic")
    feed = x.reshape([len(x)] + [int(d) for d in inputs[0].shape[1:]])
    labels, probabilities = session.run(None, {"input": feed})
    if labels.dtype != np.int64 or probabilities.shape != (len(x), 10):
        sys.exit(f"{name}: unexpected outputs {labels.dtype} {probabilities.shape}")
    if not np.array_equal(labels, probabilities.argmax(axis=1)):
        sys.exit(f"{name}: label disagrees with argmax(probabilities)")
    # A single row must give the same answer as the same row inside a batch.
    one, _ = session.run(None, {"input": feed[:1]})
    if one[0] != labels[0]:
        sys.exit(f"{name}: batch of 1 disagrees with batch of {len(x)}")
    accuracy = float((labels == y).mean())
    ops = sorted({node.op_type for node in model.graph.node})
    print(f"{name}: accuracy {accuracy:.4f}, ops {', '.join(ops)}")
    if accuracy < MIN_ACCURACY:
        sys.exit(f"{name}: accuracy {accuracy:.4f} is below {MIN_ACCURACY}")
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "models")
    args = parser.parse_args()
    # onnxruntime.quantization logs a pre-processing hint on the root logger.
    logging.getLogger().setLevel(logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)

    x_train, x_test, y_train, y_test = load_split()
    calibration = x_train[:256]

    mlp = name_batch_dim(train_mlp(x_train, y_train))
    cnn_net = train_cnn(x_train, y_train)
    cnn = cnn_to_onnx(cnn_net, "digits-cnn")
    # A wider CNN for the served benchmark: enough compute per sample that
    # batching, not request handling, decides the throughput.
    wide_net = train_cnn(x_train, y_train, epochs=20, c1=64, c2=128, hidden=32)
    wide = cnn_to_onnx(wide_net, "digits-cnn-wide")
    models = {
        "digits-mlp": mlp,
        "digits-mlp-int8": quantize(mlp, calibration),
        "digits-cnn": cnn,
        "digits-cnn-int8": quantize(cnn, calibration.reshape(-1, 1, 8, 8)),
        "digits-cnn-wide": wide,
    }

    # The exported CNNs must compute what numpy trained.
    images = x_test.reshape(-1, 1, 8, 8)
    for name, net, model in [("digits-cnn", cnn_net, cnn), ("digits-cnn-wide", wide_net, wide)]:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        _, probs = session.run(None, {"input": images})
        logits = net.forward(images.astype(np.float64))
        if not np.array_equal(probs.argmax(axis=1), logits.argmax(axis=1)):
            sys.exit(f"{name}: onnxruntime disagrees with the numpy forward pass")

    for name, model in models.items():
        check(name, model, x_test, y_test)
        if name.endswith("-int8"):
            check_no_saturation(name, model)
        path = args.out / f"{name}.onnx"
        onnx.save(model, path)
        print(f"  wrote {path.relative_to(root) if path.is_relative_to(root) else path} ({path.stat().st_size} bytes)")

    # FP16 and string tensors, for the server's FP16 and BYTES datatypes.
    extra = {"digits-cnn-fp16": fp16_variant(cnn, "digits-cnn-fp16"), "words": words_model()}
    check_fp16("digits-cnn-fp16", extra["digits-cnn-fp16"], x_test, y_test)
    check_words("words", extra["words"])
    for name, model in extra.items():
        path = args.out / f"{name}.onnx"
        onnx.save(model, path)
        print(f"  wrote {path.relative_to(root) if path.is_relative_to(root) else path} ({path.stat().st_size} bytes)")
    models.update(extra)

    test = {
        "description": "held-out split of scikit-learn's digits (25 %, stratified, seed 0); "
        "pixels divided by 16; reshape a row to [1, 8, 8] for the CNN",
        "shape": [64],
        "labels": [int(v) for v in y_test],
        "inputs": [[float(v) for v in row] for row in x_test],
    }
    path = args.out / "digits-test.json"
    path.write_text(json.dumps(test, separators=(",", ":")) + "\n")
    print(f"  wrote {path.relative_to(root) if path.is_relative_to(root) else path} ({path.stat().st_size} bytes, {len(y_test)} rows)")
    manifest = write_manifest(args.out, [f"{name}.onnx" for name in models] + [path.name])
    print(f"  wrote {manifest.relative_to(root) if manifest.is_relative_to(root) else manifest}")


if __name__ == "__main__":
    main()
