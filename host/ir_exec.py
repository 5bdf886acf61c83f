"""Run a layer-IR graph: float32 host ops, quantised GEMMs bit-exact on the emulator (or a backend hook)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from hwgen.emulation import FloatFormat, IntFormat
from hwgen.emulation.errors import ConfigError
from hwgen.host import ops_float as _f
from hwgen.host.gemm_kernels import acc_decode, acc_encode, gemm_batched_values, gemm_values
from hwgen.host.ir import Graph, Node
from hwgen.host.quant_policy import LayerQuant, Policy
from hwgen.host.quantise import Operand, quantise_activation, quantise_weight

__all__ = ["GemmCall", "emulate_gemm", "run_graph"]


@dataclass(frozen=True)
class GemmCall:
    """One quantised GEMM as the accelerator sees it: integer operand codes in, accumulator codes out.

    Attributes
    ----------
    name : str
        Node name, e.g. ``"layer0.attn.q"``.
    a_codes : numpy.ndarray, shape (m, k)
        Codes of ``a_format`` (activations, rows = tokens).
    b_codes : numpy.ndarray, shape (k, n)
        Codes of ``b_format`` (weights, or the second activation of ``QK^T``/``AV``).
    a_format, b_format : FloatFormat or IntFormat
        Operand formats (the L-Mul format when ``mul`` is an LMul).
    acc_format : FloatFormat, IntFormat or "exact"
        Accumulator; ``"exact"`` codes are float64 bit patterns (uint64) of the exact sum
        rounded once.
    mul : "exact" or LMul
        ``"exact"``: exact products (an FMA-style MAC); where a float32 accumulator cannot
        hold the exact product (operands wider than 12 significant bits, e.g. float32),
        the product is rounded to float32 first.
    order : str
        ``"sequential"``, ``"pairwise"`` or ``"chunked"`` (see ``hwgen.emulation.ORDERS``).
    chunk : int or None
        ``W`` of ``order="chunked"``.
    index : int
        Position in the batch of a batched matmul (head-major), 0 for a linear layer.
    """

    name: str
    a_codes: np.ndarray
    b_codes: np.ndarray
    a_format: object
    b_format: object
    acc_format: object
    mul: object
    order: str
    chunk: int | None = None
    index: int = 0


def _decode(codes: np.ndarray, fmt) -> np.ndarray:
    return fmt.decode(codes) if isinstance(fmt, IntFormat) else fmt.decode(codes, np.float32)


def _check_call(call) -> tuple[np.ndarray, np.ndarray]:
    """The operand code arrays of ``call`` if they are 2-D and agree on K, and its formats and chunk are allowed."""
    if not isinstance(call, GemmCall):
        raise ConfigError("call", call, "a GemmCall")
    for field in ("a_format", "b_format"):
        if not isinstance(getattr(call, field), IntFormat | FloatFormat):
            raise ConfigError(field, getattr(call, field), "an IntFormat or FloatFormat")
    a, b = np.asarray(call.a_codes), np.asarray(call.b_codes)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ConfigError("a_codes @ b_codes", f"{a.shape} @ {b.shape}", "(m, k) @ (k, n) code matrices")
    chunk = call.chunk
    if call.order == "chunked" and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ConfigError("chunk", chunk, "an integer >= 1 with order='chunked'")
    return a, b


def emulate_gemm(call: GemmCall) -> np.ndarray:
    """Accumulator codes of ``a @ b`` exactly as the hardware computes them.

    Exact float64 BLAS where the sum is provably exact (``acc="exact"``, integer
    operands), otherwise :func:`hwgen.emulation.matmul` (sequential/pairwise/chunked
    rounding in the accumulator format, L-Mul products).

    Returns
    -------
    numpy.ndarray, shape (m, n)
        Codes of ``call.acc_format`` (uint64 float64 bit patterns for ``"exact"``).

    Raises
    ------
    ConfigError
        If ``call`` is not a GemmCall, an operand format is not an IntFormat or
        FloatFormat, the code arrays are not ``(m, k)`` and ``(k, n)``, or ``chunk`` is
        not a positive integer with ``order="chunked"``.
    FormatError
        If a code array is not integer or holds a code outside its format.
    """
    a, b = _check_call(call)
    a = _decode(a, call.a_format)
    b = _decode(b, call.b_format)
    vals = gemm_values(a, b, call.mul, call.acc_format, call.order, call.chunk, call.a_format, call.b_format)
    return acc_encode(vals, call.acc_format)


class _Runner:
    """State of one graph execution: values by name, quantised weights, calibration."""

    def __init__(self, graph: Graph, policy: Policy | None, hook, calibration, observe):
        self.graph, self.policy, self.hook = graph, policy, hook
        self.calibration = calibration or {}
        self.observe = observe
        self.values: dict[str, np.ndarray] = {}

    def run(self, node: Node) -> np.ndarray:
        args = [self.values[i] for i in node.inputs]
        if node.op == "linear":
            return self._linear(node, args[0])
        if node.op == "matmul":
            return self._matmul(node, *args)
        return _f.run_host_op(node, args)

    def _observe(self, name: str, *tensors) -> None:
        if self.observe is not None:
            old = self.observe.get(name, (0.0,) * len(tensors))
            new = [float(np.abs(t).max(initial=0)) for t in tensors]
            self.observe[name] = tuple(max(o, n) for o, n in zip(old, new, strict=True))

    def _linear(self, node: Node, x: np.ndarray) -> np.ndarray:
        w, bias = node.attrs["weight"], node.attrs.get("bias")
        if np.ndim(x) < 1 or np.shape(x)[-1] != w.shape[0]:
            raise ConfigError(f"{node.name} input shape", np.shape(x), f"(..., {w.shape[0]}) for weight {w.shape}")
        x2 = x.reshape(-1, x.shape[-1])
        self._observe(node.name, x2)
        if self.policy is None:
            y = x2 @ w
        else:
            q = self.policy.for_layer(node.name)
            amax = self.calibration.get(node.name, (None,))[0]
            a = quantise_activation(x2, q.a, amax, q.lmul)
            b = quantise_weight(w, q.w, q.nm, q.lmul)
            y = self._gemm(node.name, a, b, q)
        if bias is not None:
            y = y + bias
        return y.reshape(*x.shape[:-1], w.shape[1]).astype(np.float32, copy=False)

    def _matmul(self, node: Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if node.attrs.get("transpose_b"):
            b = np.swapaxes(b, -1, -2)
        scale = np.float32(node.attrs.get("scale", 1.0))
        lead = a.shape[:-2]
        a3 = a.reshape(-1, *a.shape[-2:])
        b3 = b.reshape(-1, *b.shape[-2:])
        self._observe(node.name, a3, b3)
        if self.policy is None:
            y = np.matmul(a3, b3)
        else:
            y = self._batched(node.name, a3, b3, self.policy.for_layer(node.name))
        return (y * scale).reshape(*lead, *y.shape[-2:]).astype(np.float32, copy=False)

    def _batched(self, name: str, a3: np.ndarray, b3: np.ndarray, q: LayerQuant) -> np.ndarray:
        cal = self.calibration.get(name, (None, None))
        # Both operands are activations: the policy's activation format for each, scaled per
        # tensor; MX blocks run along K (the last axis of a, the first of each b).
        a = quantise_activation(a3, q.a, cal[0], q.lmul, axis=-1)
        b = quantise_activation(b3, q.a, cal[1], q.lmul, axis=-2)
        if self.hook is None or a.codes is None or b.codes is None:
            av, bv = _operand_values(a, b, q)
            acc = gemm_batched_values(av, bv, q.lmul or "exact", q.acc, q.order, q.chunk, a.fmt, b.fmt)
            return _dequant(acc, a, b)
        out = [self._gemm(name, a.item(i), b.item(i), q, index=i) for i in range(a3.shape[0])]
        return np.stack(out)

    def _gemm(self, name: str, a: Operand, b: Operand, q: LayerQuant, index: int = 0) -> np.ndarray:
        mul = q.lmul or "exact"
        codes = None
        if self.hook is not None and a.codes is not None and b.codes is not None:
            call = GemmCall(name, a.codes, b.codes, a.fmt, b.fmt, q.acc, mul, q.order, q.chunk, index)
            codes = self.hook(call)
        if codes is None:
            av, bv = _operand_values(a, b, q)
            acc = gemm_values(av, bv, mul, q.acc, q.order, q.chunk, a.fmt, b.fmt)
        else:
            codes = np.asarray(codes)
            want = (a.values.shape[0], b.values.shape[1])
            if codes.shape != want:
                raise ConfigError(f"{name} hook result shape", codes.shape, f"{want} accumulator codes")
            acc = acc_decode(codes, q.acc)
        return _dequant(acc, a, b)


def _operand_values(a: Operand, b: Operand, q: LayerQuant):
    """Operand values in the dtype the kernel wants: float64 (cached per weight) for the exact BLAS path."""
    if q.acc == "exact" or isinstance(q.acc, IntFormat):
        return a.values64, b.values64
    return a.values, b.values


def _dequant(acc: np.ndarray, a: Operand, b: Operand) -> np.ndarray:
    """Accumulator values times the operand scales (per tensor for a, per column for b), as float32."""
    if a.scale is None and b.scale is None:
        return acc.astype(np.float32)
    y = acc.astype(np.float64)
    if a.scale is not None:
        y = y * a.scale
    if b.scale is not None:
        y = y * b.scale
    return y.astype(np.float32)


def _check_inputs(graph: Graph, inputs: dict) -> None:
    if not isinstance(graph, Graph):
        raise ConfigError("graph", graph, "a Graph")
    if not isinstance(inputs, Mapping):
        raise ConfigError("inputs", inputs, f"a dict with values for {', '.join(graph.inputs)}")
    for name in graph.inputs:
        if name in inputs and np.asarray(inputs[name]).dtype.kind not in "biuf":
            kind = np.asarray(inputs[name]).dtype
            raise ConfigError(f"inputs[{name!r}]", f"array of dtype {kind}", "a bool, integer or float array")
    missing = [n for n in graph.inputs if n not in inputs]
    if missing:
        raise ConfigError("inputs", sorted(inputs), f"values for {', '.join(graph.inputs)}")


def run_graph(
    graph: Graph,
    inputs: dict[str, np.ndarray],
    policy: Policy | None,
    gemm_hook: Callable[[GemmCall], np.ndarray | None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    calibration: dict[str, tuple] | None = None,
    observe: dict[str, tuple] | None = None,
) -> dict[str, np.ndarray]:
    """Execute ``graph`` on the emulator with a quantisation policy.

    Parameters
    ----------
    graph : Graph
    inputs : dict of str to numpy.ndarray
        A value for every name in ``graph.inputs``.
    policy : Policy or None
        None: the float32 NumPy reference (GEMMs in float32 BLAS, no hook).
    gemm_hook : callable, optional
        ``gemm_hook(call: GemmCall)`` returns accumulator codes (used instead of
        :func:`emulate_gemm`) or None (the emulator runs it). It is not called for
        GEMMs whose operands carry block scales (MX formats): their codes alone do
        not define the values, so the emulator runs them.
    progress : callable, optional
        ``progress(node_name, done, total)`` after every node.
    calibration : dict, optional
        ``{node_name: (amax_a, amax_b)}`` activation maxima for integer formats
        (from ``observe`` of a float32 run); without it each tensor uses its own max.
    observe : dict, optional
        Filled with ``{node_name: (amax_a[, amax_b])}`` of every GEMM's float inputs.

    Returns
    -------
    dict of str to numpy.ndarray
        The values of ``graph.outputs``.

    Raises
    ------
    ConfigError
        If ``graph`` is not a Graph, an input is missing or not a real (or bool) array,
        an embedding id is outside its table, or a linear layer's input does not fit its weight.
    """
    _check_inputs(graph, inputs)
    runner = _Runner(graph, policy, gemm_hook, calibration, observe)
    runner.values.update(inputs)
    total = len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        runner.values[node.name] = runner.run(node)
        if progress is not None:
            progress(node.name, i + 1, total)
    return {name: runner.values[name] for name in graph.outputs}
