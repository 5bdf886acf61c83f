"""Layer IR graphs and the executor: bit-exact GEMM kernels against hwgen.emulation.matmul, hooks, host ops."""

import math

import numpy as np
import pytest

from hwgen.emulation import LMul, bfloat16, float8_e4m3fn, float8_e5m2, float32, int8, int32, matmul
from hwgen.emulation.errors import ConfigError
from hwgen.host.decoder import DecoderConfig, decoder_graph
from hwgen.host.gemm_kernels import acc_decode, acc_encode, gemm_batched_values
from hwgen.host.ir import Graph, Node
from hwgen.host.ir_exec import GemmCall, emulate_gemm, run_graph
from hwgen.host.ops_float import erf, softmax
from hwgen.host.quant_policy import lmul_format, parse_policy
from hwgen.host.workload import Elementwise, Gemm

RNG = np.random.default_rng(7)


def _codes(fmt, shape, scale=1.0):
    x = RNG.standard_normal(shape) * scale
    if fmt.name.startswith("int"):
        return fmt.encode(np.clip(np.rint(x * 40), -127, 127))
    return fmt.encode(np.clip(x, -fmt.max_finite, fmt.max_finite))


def _decode(fmt, codes):
    return fmt.decode(codes) if fmt.name.startswith("int") else fmt.decode(codes, np.float64)


CASES = [
    (float8_e4m3fn, float32, "exact", "sequential", None),
    (float8_e4m3fn, "exact", "exact", "sequential", None),
    (float8_e5m2, bfloat16, "exact", "sequential", None),
    (float8_e4m3fn, float32, "exact", "pairwise", None),
    (float8_e4m3fn, float32, "exact", "chunked", 8),
    (int8, int32, "exact", "sequential", None),
    (bfloat16, float32, "exact", "sequential", None),
    (lmul_format(3), float32, LMul(lmul_format(3)), "sequential", None),
    (lmul_format(4), float32, LMul(lmul_format(4), "formula"), "sequential", None),
]


@pytest.mark.parametrize(("fmt", "acc", "mul", "order", "chunk"), CASES)
def test_emulate_gemm_codes_equal_the_emulator(fmt, acc, mul, order, chunk):
    a, b = _codes(fmt, (5, 40)), _codes(fmt, (40, 9), 0.3)
    call = GemmCall("t", a, b, fmt, fmt, acc, mul, order, chunk)
    want = matmul(_decode(fmt, a), _decode(fmt, b), mul, acc, order, chunk)
    want_codes = np.asarray(want, np.float64).view(np.uint64) if acc == "exact" else acc.encode(want)
    got = emulate_gemm(call)
    assert got.dtype.kind == "u" and np.array_equal(got, want_codes)
    assert np.array_equal(acc_encode(acc_decode(got, acc), acc), got)


@pytest.mark.parametrize(("fmt", "acc", "mul", "order", "chunk"), [c for c in CASES if c[3] == "sequential"])
def test_batched_kernels_equal_the_emulator_per_item(fmt, acc, mul, order, chunk):
    # Shapes like attention heads: narrow outputs (N < 8) and K both short and long.
    for m, k, n in ((3, 7, 5), (4, 33, 12)):
        a = np.stack([_decode(fmt, _codes(fmt, (m, k))) for _ in range(3)])
        b = np.stack([_decode(fmt, _codes(fmt, (k, n), 0.5)) for _ in range(3)])
        got = gemm_batched_values(a, b, mul, acc, order, chunk, fmt, fmt)
        for i in range(3):
            want = matmul(a[i], b[i], mul, acc, order, chunk)
            assert np.array_equal(acc_encode(got[i], acc), acc_encode(np.asarray(want, got.dtype), acc))


def test_exact_path_falls_back_when_float64_cannot_prove_exactness():
    # bfloat16 spans 2**-133..2**127: no float64 product is provably exact, so the emulator's
    # exact summation runs, and cancellation shows the difference from a plain BLAS product.
    a = np.array([[2.0**100, 1.0, -(2.0**100)]])
    b = np.array([[1.0], [2.0**-30], [1.0]])
    call = GemmCall("t", bfloat16.encode(a), bfloat16.encode(b), bfloat16, bfloat16, "exact", "exact", "sequential")
    assert acc_decode(emulate_gemm(call), "exact")[0, 0] == 2.0**-30


def _tiny_graph():
    w = np.eye(3, dtype=np.float32) * 2
    nodes = [
        Node("lin", "linear", ("x",), {"weight": w, "bias": None, "m": 2, "k": 3, "n": 3}),
        Node("act", "gelu", ("lin",), {"elements": 6}),
    ]
    return Graph("tiny", ("x",), nodes, ("act",))


def test_graph_validation_and_workloads():
    g = _tiny_graph()
    assert g.workloads() == [Gemm("lin", 2, 3, 3, 1, True), Elementwise("act", "gelu", 6, 8)]
    assert g.macs == 18 and len(g) == 2 and g.node("lin").op == "linear"
    with pytest.raises(ConfigError, match="earlier node"):
        Graph("bad", ("x",), [Node("a", "gelu", ("y",))], ("a",))
    with pytest.raises(ConfigError, match="not used before"):
        Graph("bad", ("x",), [Node("x", "gelu", ("x",))], ("x",))
    with pytest.raises(ConfigError, match="linear"):
        Node("a", "conv", ("x",))
    with pytest.raises(ConfigError, match="values for x"):
        run_graph(g, {}, None)


def test_decoder_graph_hook_replaces_and_skips_block_formats():
    cfg = DecoderConfig(vocab=64, d_model=32, heads=2, layers=1, d_ff=64)
    g = decoder_graph(cfg, "prefill", tokens=6)
    ids = {"input_ids": RNG.integers(0, 64, (2, 6))}
    policy = parse_policy("w=float8_e4m3fn,a=float8_e4m3fn")
    plain = run_graph(g, ids, policy)["logits"]
    calls = []

    def same(call):
        calls.append(call)
        return emulate_gemm(call)

    assert np.array_equal(run_graph(g, ids, policy, same)["logits"], plain)
    names = {c.name for c in calls}
    assert names == {n.name for n in g.gemm_nodes()}
    qk = [c for c in calls if c.name == "layer0.attn.qk"]
    assert len(qk) == 2 * cfg.heads and sorted(c.index for c in qk) == list(range(4))
    assert qk[0].a_codes.shape == (6, 16) and qk[0].b_codes.shape == (16, 6)
    zeroed = run_graph(g, ids, policy, lambda c: np.zeros(np.shape(emulate_gemm(c)), np.uint32))["logits"]
    assert not np.array_equal(zeroed, plain)
    with pytest.raises(ConfigError, match="hook result shape"):
        run_graph(g, ids, policy, lambda c: np.zeros((1, 1), np.uint32))
    calls.clear()
    run_graph(g, ids, parse_policy("w=mxfp8_e4m3,a=mxfp8_e4m3"), same)
    assert calls == []  # block-scaled operands are not handed to the hook


def test_observe_and_calibration_fix_integer_scales():
    cfg = DecoderConfig(vocab=64, d_model=32, heads=2, layers=1, d_ff=64)
    g = decoder_graph(cfg, "prefill", tokens=4)
    ids = {"input_ids": RNG.integers(0, 64, (1, 4))}
    seen = {}
    run_graph(g, ids, None, observe=seen)
    assert set(seen) == {n.name for n in g.gemm_nodes()} and len(seen["layer0.attn.qk"]) == 2
    policy = parse_policy("w=int8,a=int8")
    doubled = {k: tuple(2 * v for v in vals) for k, vals in seen.items()}
    calibrated = run_graph(g, ids, policy, calibration=seen)["logits"]
    # Static scales from the float32 run differ from each quantised tensor's own max, and matter.
    assert not np.array_equal(calibrated, run_graph(g, ids, policy)["logits"])
    assert not np.array_equal(calibrated, run_graph(g, ids, policy, calibration=doubled)["logits"])
    assert np.array_equal(calibrated, run_graph(g, ids, policy, calibration=seen)["logits"])


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-300, 30.0, -30.0]])
    want = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - want).max() < 4e-15


def test_softmax_masks_and_causal_offset():
    s = RNG.standard_normal((1, 1, 2, 4)).astype(np.float32)
    p = softmax(s, mask=np.array([[1, 1, 1, 0]]), causal=True)
    assert p[0, 0, 0, 3] == 0 and p[0, 0, 1, 3] == 0  # padded key
    assert p[0, 0, 0, 2] > 0 and p[0, 0, 0, 3] == 0  # query 0 sits at position 2 of 4 keys
    assert np.allclose(p.sum(-1), 1)


def test_prune_weights_keeps_the_two_largest_of_every_four_along_k():
    from hwgen.host.quantise import prune_weights

    w = RNG.standard_normal((8, 5)).astype(np.float32)
    p = prune_weights(w, 2, 4)
    blocks = p.T.reshape(5, 2, 4)
    assert ((blocks != 0).sum(-1) == 2).all()
    orig = np.abs(w.T.reshape(5, 2, 4))
    kept_min = np.where(blocks != 0, orig, np.inf).min(-1)
    dropped_max = np.where(blocks == 0, orig, -np.inf).max(-1)
    assert (kept_min >= dropped_max).all() and np.array_equal(p[p != 0], w[p != 0])


def test_integer_operands_scale_per_column_and_per_tensor():
    from hwgen.host.quantise import quantise_activation, quantise_weight

    w = RNG.standard_normal((16, 3)).astype(np.float32) * np.array([1, 10, 100], np.float32)
    q = quantise_weight(w, int8)
    assert np.allclose(q.scale, np.abs(w).max(0) / 127) and np.abs(q.values).max(0).tolist() == [127] * 3
    assert np.array_equal(int8.decode(q.codes), q.values)
    assert np.abs(q.values * q.scale - w).max() <= q.scale.max() / 2 + 1e-6
    a = quantise_activation(w, int8, amax=50.0)  # calibrated max: larger values saturate
    assert a.scale == 50.0 / 127 and a.values.max() == 127


def test_chunked_float32_order_rounds_once_per_chunk():
    # Wide-range FP8 data: chunk sums need more than float32's 24 bits. The emulator's generic
    # float path (a float32 twin without the float32 fast path: it saturates instead of
    # overflowing, which these values never reach) gives the reference semantics.
    from dataclasses import replace

    twin = replace(float32, overflow="saturate")

    def wide(shape):  # magnitudes spread over 2**-9 .. 2**8
        x = RNG.standard_normal(shape) * 2.0 ** RNG.integers(-9, 8, shape)
        return float8_e4m3fn.quantise(np.clip(x, -448, 448))

    a, b = wide((2, 4, 50)), wide((2, 50, 9))
    got = gemm_batched_values(a, b, "exact", float32, "chunked", 8, float8_e4m3fn, float8_e4m3fn)
    seq = gemm_batched_values(a, b, "exact", float32, "sequential", None, float8_e4m3fn, float8_e4m3fn)
    assert not np.array_equal(got, seq)  # the order matters on this data
    for i in range(2):
        want = matmul(a[i], b[i], "exact", twin, "chunked", 8)
        assert np.array_equal(got[i].view(np.uint32), want.astype(np.float32).view(np.uint32))
