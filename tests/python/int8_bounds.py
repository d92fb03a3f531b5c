"""How far an int8 model's outputs may lie from another engine's and from the
float model's, derived from the model's own quantization scales.

The int8 test models are QDQ graphs: float operators between
QuantizeLinear/DequantizeLinear pairs. This module evaluates such a graph two
ways, and neither is fitted to observed outputs.

engine_bounds: what any correct int8 engine may output (a sound bound).
  The graph runs in float64 interval arithmetic: every tensor is an interval
  [lo, hi] per element, and every operator maps intervals to intervals that
  hold every value it can produce from values inside them.
  * Inputs are exact, and every weight is the exact dequantized int8 value.
  * A linear operator (MatMul, Gemm, Conv) may be summed in any order in
    float32, or exactly in int32 and rescaled once. Its error is at most
    (K + 2) * u * sum(|a| * |w|) with u = 2**-24 and K products per sum: the
    textbook bound for a K-term float32 sum, plus one rounding of the rescale.
    The interval is widened by that much.
  * QuantizeLinear rounds to the nearest step. A value whose interval touches
    a rounding boundary may go either way, so the result holds both codes.
    Anywhere else it is the one code every engine must produce.
  * Softmax, evaluated in float32 with the engine's own exp, is widened by
    SOFTMAX_SLACK (about a hundred float32 ulps at 1.0).
  So engines may differ only where a value sits on a rounding boundary, and
  the interval carries both choices from there to the output. Two engines
  inside it differ by at most its width. An engine whose integer sums
  overflow (uint8 x int8 pairs saturating an int16, as onnxruntime's
  VPMADDUBSW kernels do on CPUs without VNNI when weights use all 8 bits)
  falls outside it.

float_deviation: how far the int8 model may lie from the float model (a
  statistical bound). A worst-case interval is useless here: through the
  CNN's 512-wide layers it grows past 100 logits. The standard quantization
  noise model is used instead. Every rounding of a value to a step s (the
  input, each activation, each weight) adds an independent error, uniform on
  [-s/2, s/2], of variance s**2 / 12. To first order a logit moves by the sum
  of those errors times its derivative with respect to each, so its variance
  is sum(J**2 * s**2 / 12), with J from back-propagation through the
  computation at the row's own input. The same holds for the difference of
  two logits, with J of the difference. The sum has thousands of small
  independent terms, so it is close to Gaussian, and SIGMAS standard
  deviations leave a chance of about 2e-9 per comparison.
  * Two classes are "clearly apart" when the float model's gap between them
    is more than SIGMAS standard deviations of the int8 model's deviation in
    that gap. There the int8 label must be the float label.
  * If every logit moves by at most d, each probability moves by at most
    d / 2: a probability's change is at most a quarter of the spread of the
    logit changes, and the spread is at most 2d.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

U = 2.0**-24  # float32 unit roundoff
SOFTMAX_SLACK = 1e-5
SIGMAS = 6.0
LABEL_OPS = ("ArgMax", "ArrayFeatureExtractor", "Reshape")


# ---------------------------------------------------------------- public


@dataclass
class Interval:
    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def exact(values: np.ndarray) -> Interval:
        values = np.asarray(values, dtype=np.float64)
        return Interval(values, values.copy())

    @staticmethod
    def around(center: np.ndarray, radius: np.ndarray) -> Interval:
        return Interval(center - radius, center + radius)

    @property
    def center(self) -> np.ndarray:
        return (self.lo + self.hi) / 2

    @property
    def radius(self) -> np.ndarray:
        return (self.hi - self.lo) / 2

    @property
    def magnitude(self) -> np.ndarray:
        return np.maximum(np.abs(self.lo), np.abs(self.hi))

    def map(self, f) -> Interval:
        """Apply a monotonically non-decreasing function to both ends."""
        return Interval(f(self.lo), f(self.hi))

    def contains(self, values: np.ndarray) -> np.ndarray:
        return (values >= self.lo) & (values <= self.hi)


@dataclass
class EngineBounds:
    logits: Interval  # the Softmax input
    probabilities: Interval

    def decided(self) -> np.ndarray:
        """Rows whose arg-max class is the same for every value in the bound."""
        top = np.argmax(self.logits.center, axis=1)
        rows = np.arange(len(top))
        others = self.logits.hi.copy()
        others[rows, top] = -np.inf
        return self.logits.lo[rows, top] > others.max(axis=1)

    def labels(self) -> np.ndarray:
        return np.argmax(self.logits.center, axis=1)


@dataclass
class FloatDeviation:
    float_probabilities: np.ndarray  # the float model's own output [n, classes]
    sigma: np.ndarray  # standard deviation of each int8 logit's deviation [n, classes]
    gap_sigma: np.ndarray  # ... of the deviation of the float model's top minus runner-up [n]

    def clearly_apart(self) -> np.ndarray:
        """Rows where the float model's top two classes are more than SIGMAS deviations apart.

        The gap is the float model's own: the log-ratio of two of its
        probabilities is the difference of their logits.
        """
        ranked = np.sort(self.float_probabilities, axis=1)
        gap = np.log(ranked[:, -1]) - np.log(ranked[:, -2])
        return gap > SIGMAS * self.gap_sigma

    def labels(self) -> np.ndarray:
        return np.argmax(self.float_probabilities, axis=1)

    def probability_bound(self) -> np.ndarray:
        """Per row: the most any probability may move, SIGMAS deviations out."""
        return SIGMAS * self.sigma.max(axis=1) / 2 + SOFTMAX_SLACK


def engine_bounds(model_path: Path, inputs: np.ndarray) -> EngineBounds:
    graph = _Graph(model_path)
    values: dict[str, Interval] = {graph.input: Interval.exact(inputs)}
    for node in graph.nodes:
        out = _interval_step(graph, node, values)
        for name in node.output:
            values[name] = out
    logits = values[graph.softmax.input[0]]
    return EngineBounds(logits, values[graph.softmax.output[0]])


def sampled_logits(model_path: Path, inputs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The logits with one draw of the noise model's rounding errors."""
    graph = _Graph(model_path)
    return _forward(graph, inputs, rng).values[graph.softmax.input[0]]


def float_deviation(model_path: Path, inputs: np.ndarray, float_probabilities: np.ndarray) -> FloatDeviation:
    """The noise model's deviations of the int8 model from the float model, whose output is given."""
    graph = _Graph(model_path)
    tape = _forward(graph, inputs)
    n, classes = float_probabilities.shape
    rows = np.arange(n)
    # One backward pass for all seeds: each class alone, then top minus runner-up.
    order = np.argsort(float_probabilities, axis=1)
    seeds = np.zeros((n, classes + 1, classes))
    seeds[:, np.arange(classes), np.arange(classes)] = 1.0
    seeds[rows, classes, order[:, -1]] = 1.0
    seeds[rows, classes, order[:, -2]] = -1.0
    sigma = np.sqrt(_backward(graph, tape, seeds))
    return FloatDeviation(float_probabilities, sigma[:, :classes], sigma[:, classes])


# ---------------------------------------------------------------- the graph


class _Graph:
    """The operators up to Softmax; the label path is checked against the logits instead."""

    def __init__(self, model_path: Path):
        self.name = model_path.name
        model = onnx.load(str(model_path))
        self.consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.input = model.graph.input[0].name
        self.nodes = []
        self.softmax = None
        for node in model.graph.node:
            if node.op_type in LABEL_OPS or (node.op_type == "Cast" and _attrs(node).get("to") != onnx.TensorProto.FLOAT):
                continue
            self.nodes.append(node)
            if node.op_type == "Softmax":
                self.softmax = node
                break
        if self.softmax is None:
            raise ValueError(f"{self.name}: no Softmax, so no probabilities to bound")

    def scale_zero(self, node) -> tuple[np.ndarray, np.ndarray]:
        scale = self.consts[node.input[1]].astype(np.float64)
        zero = self.consts[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros(())
        if scale.size == 1 and zero.size == 1:
            return scale.reshape(()), zero.reshape(())
        raise ValueError(f"{self.name}: per-axis scale on {node.input[0]} is not supported")

    def dequantized(self, node) -> np.ndarray:
        scale, zero = self.scale_zero(node)
        return (self.consts[node.input[0]].astype(np.float64) - zero) * scale

    def code_range(self, node) -> tuple[int, int]:
        dtype = self.consts[node.input[2]].dtype if len(node.input) > 2 else np.uint8
        return np.iinfo(dtype).min, np.iinfo(dtype).max

    def unsupported(self, node):
        return ValueError(f"{self.name}: operator {node.op_type} {_attrs(node)} has no rule here")


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# ---------------------------------------------------------------- intervals


def _interval_step(graph: _Graph, node, values: dict[str, Interval]) -> Interval:
    def get(name: str) -> Interval:
        return values[name] if name in values else Interval.exact(graph.consts[name])

    op, attrs = node.op_type, _attrs(node)
    if op == "DequantizeLinear" and node.input[0] in graph.consts:
        return Interval.exact(graph.dequantized(node))
    if op == "QuantizeLinear":
        x = get(node.input[0])
        scale, zero = graph.scale_zero(node)
        qmin, qmax = graph.code_range(node)
        lo = np.ceil(x.lo / scale - 0.5) + zero  # the lowest code any rounding gives
        hi = np.floor(x.hi / scale + 0.5) + zero
        return Interval(np.clip(lo, qmin, qmax), np.clip(hi, qmin, qmax))
    if op == "DequantizeLinear":
        scale, zero = graph.scale_zero(node)
        return get(node.input[0]).map(lambda q: (q - zero) * scale)
    if op in ("Cast", "Identity"):
        return get(node.input[0])
    if op == "Flatten":
        return get(node.input[0]).map(lambda v: _flatten(v, attrs))
    if op == "Relu":
        return get(node.input[0]).map(lambda v: np.maximum(v, 0.0))
    if op == "MaxPool":
        return get(node.input[0]).map(lambda v: _maxpool(graph, node, v)[0])
    if op == "Add":
        a, b = get(node.input[0]), get(node.input[1])
        return Interval(a.lo + b.lo, a.hi + b.hi)
    if op in ("MatMul", "Gemm", "Conv"):
        a, w = get(node.input[0]), get(node.input[1])
        f, terms = _linear_map(graph, node, w.lo.shape)
        center = f(a.center, w.center)
        radius = f(np.abs(a.center), w.radius) + f(a.radius, np.abs(w.center)) + f(a.radius, w.radius)
        radius += (terms + 2) * U * f(a.magnitude, w.magnitude)
        out = Interval.around(center, radius)
        if op != "MatMul" and len(node.input) > 2:
            bias = get(node.input[2])
            shape = _bias_shape(center)
            out = Interval(out.lo + bias.lo.reshape(shape), out.hi + bias.hi.reshape(shape))
        return out
    if op == "Softmax":
        z = get(node.input[0])
        lo, hi = np.empty_like(z.lo), np.empty_like(z.hi)
        for i in range(z.lo.shape[1]):
            others = np.delete(np.arange(z.lo.shape[1]), i)
            # p_i is smallest when z_i is lowest and every other logit highest.
            lo[:, i] = 1.0 / (1.0 + np.exp(z.hi[:, others] - z.lo[:, [i]]).sum(axis=1))
            hi[:, i] = 1.0 / (1.0 + np.exp(z.lo[:, others] - z.hi[:, [i]]).sum(axis=1))
        return Interval(lo - SOFTMAX_SLACK, hi + SOFTMAX_SLACK)
    raise graph.unsupported(node)


# ---------------------------------------------------------------- noise model


@dataclass
class _Tape:
    values: dict[str, np.ndarray]  # every tensor of the float computation
    noise: dict[str, float]  # tensor -> variance of the rounding error added to it
    rows: set[str]  # the tensors computed from the input, one entry per row


def _forward(graph: _Graph, inputs: np.ndarray, rng: np.random.Generator | None = None) -> _Tape:
    """The graph without rounding: QuantizeLinear/DequantizeLinear pass values through.

    With rng, each rounding site instead adds a draw of the noise model's
    error (uniform on half a step either way), for checking the model.
    """
    values: dict[str, np.ndarray] = {graph.input: np.asarray(inputs, dtype=np.float64)}
    noise: dict[str, float] = {}
    rows = {graph.input}

    def get(name: str) -> np.ndarray:
        return values[name] if name in values else graph.consts[name].astype(np.float64)

    for node in graph.nodes:
        op, attrs = node.op_type, _attrs(node)
        if op == "QuantizeLinear" or (op == "DequantizeLinear" and node.input[0] in graph.consts):
            out = get(node.input[0]) if op == "QuantizeLinear" else graph.dequantized(node)
            step = float(graph.scale_zero(node)[0])
            noise[node.output[0]] = step**2 / 12
            if rng is not None:
                out = out + rng.uniform(-step / 2, step / 2, size=out.shape)
        elif op in ("DequantizeLinear", "Cast", "Identity"):
            out = get(node.input[0])
        elif op == "Flatten":
            out = _flatten(get(node.input[0]), attrs)
        elif op == "Relu":
            out = np.maximum(get(node.input[0]), 0.0)
        elif op == "MaxPool":
            out = _maxpool(graph, node, get(node.input[0]))[0]
        elif op == "Add":
            out = get(node.input[0]) + get(node.input[1])
        elif op in ("MatMul", "Gemm", "Conv"):
            w = get(node.input[1])
            f, _ = _linear_map(graph, node, w.shape)
            out = f(get(node.input[0]), w)
            if op != "MatMul" and len(node.input) > 2:
                out = out + get(node.input[2]).reshape(_bias_shape(out))
        elif op == "Softmax":
            z = get(node.input[0])
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        else:
            raise graph.unsupported(node)
        for name in node.output:
            values[name] = out
            if any(i in rows for i in node.input):
                rows.add(name)
    return _Tape(values, noise, rows)


def _backward(graph: _Graph, tape: _Tape, seeds: np.ndarray) -> np.ndarray:
    """Variance of each seed's combination of logits under the noise model.

    seeds [n, m, classes]: m combinations per row. Gradients of a row's
    tensors have the shape [n, m, *shape per row]. A weight's gradient sums
    over every position the weight is used at, because one rounded weight
    moves all of them.
    """
    n, m = seeds.shape[:2]
    grads: dict[str, np.ndarray] = {graph.softmax.input[0]: seeds}
    variance = np.zeros((n, m))

    def add(name: str, g: np.ndarray) -> None:
        if name in tape.rows:  # constants have no gradient to pass on
            grads[name] = grads[name] + g if name in grads else g

    def weight_noise(name: str, sum_of_squares: np.ndarray) -> None:
        nonlocal variance
        if name in tape.noise:
            variance = variance + tape.noise[name] * sum_of_squares

    for node in reversed(graph.nodes[:-1]):  # the Softmax's input is the seed
        out = node.output[0]
        if out not in grads:
            continue
        g = grads.pop(out)
        if out in tape.noise:  # a rounded activation: its error enters here
            variance = variance + tape.noise[out] * (g**2).reshape(n, m, -1).sum(axis=2)
        op, attrs = node.op_type, _attrs(node)
        x_name = node.input[0]
        x = tape.values.get(x_name)
        if op in ("QuantizeLinear", "DequantizeLinear", "Cast", "Identity"):
            add(x_name, g)
        elif op == "Flatten":
            add(x_name, g.reshape((n, m) + x.shape[1:]))
        elif op == "Relu":
            add(x_name, g * (x > 0)[:, None])
        elif op == "MaxPool":
            _, chosen = _maxpool(graph, node, x)
            kh, kw = attrs["kernel_shape"]
            spread = np.repeat(np.repeat(g, kh, axis=-2), kw, axis=-1)
            add(x_name, spread * chosen[:, None])
        elif op == "Add":
            for name in node.input:
                if name in tape.noise:
                    raise graph.unsupported(node)
                add(name, g)
        elif op in ("MatMul", "Gemm", "Conv"):
            w_name = node.input[1]
            gx, weight_sq = _linear_backward(graph, node, g, x, tape.values[w_name])
            add(x_name, gx)
            weight_noise(w_name, weight_sq)
            if op != "MatMul" and len(node.input) > 2:
                gb = g.sum(axis=(3, 4)) if op == "Conv" else g
                weight_noise(node.input[2], (gb**2).sum(axis=2))
        else:
            raise graph.unsupported(node)
    return variance


# ---------------------------------------------------------------- operators


def _linear_map(graph: _Graph, node, w_shape: tuple) -> tuple:
    """(f(a, w), products per output sum) of a MatMul, Gemm or Conv node."""
    attrs = _attrs(node)
    if node.op_type == "MatMul":
        return (lambda a, w: a @ w), w_shape[0]
    if node.op_type == "Gemm":
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise graph.unsupported(node)
        trans_b = attrs.get("transB", 0)
        return (lambda a, w: a @ (w.T if trans_b else w)), w_shape[1 if trans_b else 0]
    if attrs.get("group", 1) != 1 or any(v != 1 for v in attrs.get("strides", [1, 1]) + attrs.get("dilations", [1, 1])):
        raise graph.unsupported(node)
    return (lambda a, w: _conv(a, w, attrs)), int(np.prod(w_shape[1:]))


def _bias_shape(out: np.ndarray) -> tuple:
    return (1, -1, 1, 1) if out.ndim == 4 else (1, -1)


def _windows(x: np.ndarray, attrs: dict, kh: int, kw: int) -> np.ndarray:
    """[N, C, H, W] -> [N, H, W, C*kh*kw] (channel, ky, kx), zero padding as the node says."""
    top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    n, c, h, w = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, h, w, c * kh * kw)


def _conv(x: np.ndarray, w: np.ndarray, attrs: dict) -> np.ndarray:
    cols = _windows(x, attrs, w.shape[2], w.shape[3])
    return (cols @ w.reshape(w.shape[0], -1).T).transpose(0, 3, 1, 2)


def _linear_backward(graph: _Graph, node, g: np.ndarray, x: np.ndarray, w: np.ndarray):
    """(gradient w.r.t. the input [n, m, ...], sum of squared gradients w.r.t. the weight [n, m])."""
    n, m = g.shape[:2]
    if node.op_type == "Conv":
        attrs = _attrs(node)
        o, c, kh, kw = w.shape
        h, wd = x.shape[2], x.shape[3]
        cols = _windows(x, attrs, kh, kw).reshape(n, h * wd, c * kh * kw)
        gflat = g.transpose(0, 1, 3, 4, 2).reshape(n, m, h * wd, o)
        weight_sq = (np.einsum("nmpo,npk->nmok", gflat, cols) ** 2).sum(axis=(2, 3))
        gcols = (gflat @ w.reshape(o, -1)).reshape(n * m, h, wd, c, kh, kw)
        top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
        gpad = np.zeros((n * m, c, h + top + bottom, wd + left + right))
        for ky in range(kh):
            for kx in range(kw):
                gpad[:, :, ky : ky + h, kx : kx + wd] += gcols[:, :, :, :, ky, kx].transpose(0, 3, 1, 2)
        gx = gpad[:, :, top : top + h, left : left + wd].reshape((n, m) + x.shape[1:])
        return gx, weight_sq
    trans_b = node.op_type == "Gemm" and _attrs(node).get("transB", 0)
    wm = w.T if trans_b else w  # [K, O]
    # d(out_o)/d(w_ko) = x_k, so the squared weight gradient factorises.
    weight_sq = (x**2).sum(axis=1)[:, None] * (g**2).sum(axis=2)
    return g @ wm.T, weight_sq


def _flatten(x: np.ndarray, attrs: dict) -> np.ndarray:
    axis = attrs.get("axis", 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _maxpool(graph: _Graph, node, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pooled, mask of the element each window chose) for non-overlapping windows."""
    attrs = _attrs(node)
    kh, kw = attrs["kernel_shape"]
    if tuple(attrs.get("strides", [kh, kw])) != (kh, kw) or any(attrs.get("pads", [0, 0, 0, 0])):
        raise graph.unsupported(node)
    n, c, h, w = x.shape
    if h % kh or w % kw:
        raise graph.unsupported(node)
    blocks = x.reshape(n, c, h // kh, kh, w // kw, kw)
    pooled = blocks.max(axis=(3, 5))
    chosen = (blocks == pooled[:, :, :, None, :, None]).reshape(n, c, h, w)
    return pooled, chosen
