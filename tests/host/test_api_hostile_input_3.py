"""Hostile input at the host's N:M streams, PIM mapping, quantiser, GEMM kernels, float ops and layer IR."""

import numpy as np
import pytest

from hwgen.emulation import float32, int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import QUICK_TIMING, PimConfig
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.host.gemm_kernels import acc_decode, acc_encode, gemm_batched_values, gemm_values
from hwgen.host.ir import Graph, Node
from hwgen.host.ir_exec import run_graph
from hwgen.host.nm_sparsity import (
    NMWeights,
    act_stream,
    compress_nm,
    decode_nm_stream,
    encode_nm_stream,
    expand_nm,
    gather_outputs,
    prune_nm,
)
from hwgen.host.ops_float import erf, gelu, layernorm, softmax
from hwgen.host.pim_mapping import calibration_commands, plan_gemv, unpack_output
from hwgen.host.quantise import quantise_activation, quantise_weight

_CHAIN = SparseChainConfig(length=8, group_size=4, sparse_modes=((2, 4),))
_MODE = _CHAIN.mode_code(2, 4)
_PIM = PimConfig(banks=2, rows=16, cols=4, lanes=4, acc="int32", timing=QUICK_TIMING)
_PIM_BF16 = PimConfig(banks=2, rows=16, cols=4, lanes=4, dtype="bfloat16", acc="float32", timing=QUICK_TIMING)
_X = np.ones((1, 16), np.int64)
_OUT = [np.ones((1, _CHAIN.lanes), np.int64)]
_BIG = np.uint64(2**63 + 5)  # wrapped to a negative int64 by astype

# -- nm_sparsity ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: act_stream(_CHAIN, _X, -3, _MODE),  # [] (a negative count gave an empty stream)
        lambda: act_stream(_CHAIN, _X, True, _MODE),  # taken as 1
        lambda: act_stream(_CHAIN, _X, 1.5, _MODE),  # TypeError from list * float
        lambda: act_stream(_CHAIN, _X, 10**12, _MODE),  # MemoryError building the list
        lambda: act_stream(_CHAIN, np.full((1, 16), 1.5), 4, _MODE),  # truncated to 1
        lambda: act_stream(_CHAIN, [["1"] * 16], 4, _MODE),  # strings parsed by int()
        lambda: act_stream(_CHAIN, np.full((1, 16), _BIG), 4, _MODE),  # wrapped into int64
        lambda: act_stream(_CHAIN, np.full((1, 16), 300), 4, _MODE),  # beyond int8 activations
        lambda: gather_outputs(_CHAIN, _OUT, -1, _MODE),  # y[:, :-1]: one row silently dropped
        lambda: gather_outputs(_CHAIN, _OUT, True, _MODE),
        lambda: gather_outputs(_CHAIN, _OUT, 1.5, _MODE),  # TypeError from slicing
        lambda: gather_outputs(_CHAIN, [np.full((1, _CHAIN.lanes), 1.5)], 2, _MODE),  # truncated
        lambda: gather_outputs(_CHAIN, [np.ones((3, _CHAIN.lanes), np.int64)], 2, _MODE),  # 3 tokens taken
        lambda: gather_outputs(_CHAIN, [np.ones(_CHAIN.lanes, np.int64)], 2, _MODE),  # IndexError
        lambda: gather_outputs(_CHAIN, None, 2, _MODE),  # TypeError
        lambda: prune_nm(np.full((1, 4), _BIG), 2, 4),  # wrapped into int64
        lambda: compress_nm(np.array([[_BIG, 0, 0, 0]]), 2, 4),
        lambda: expand_nm(None),  # AttributeError
        lambda: expand_nm(NMWeights(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), 2, 4, (3, 4))),
        lambda: expand_nm(NMWeights(np.zeros((1, 2), np.int64), np.full((1, 2), 7), 2, 4, (1, 4))),  # IndexError
        lambda: decode_nm_stream(_CHAIN, _beats(), (-4, 16)),  # "allowed: -4"
        lambda: decode_nm_stream(_CHAIN, _beats(), (3.5, 16)),  # TypeError
        lambda: decode_nm_stream(_CHAIN, _beats(), "ab"),  # TypeError
        lambda: decode_nm_stream(_CHAIN, [None], (4, 16)),  # AttributeError
    ],
)
def test_nm_streams_reject_bad_input(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


def _beats():
    return encode_nm_stream(_CHAIN, prune_nm(np.ones((4, 16), np.int64), 2, 4), _MODE)


def test_nm_pruning_takes_a_matrix_without_rows():
    # Was a ValueError from reshape (0, -1, m); a matrix without columns already worked.
    assert prune_nm(np.zeros((0, 8), np.int64), 2, 4).shape == (0, 8)
    nm = compress_nm(np.zeros((0, 8), np.int64), 2, 4)
    assert nm.values.shape == (0, 4) and expand_nm(nm).shape == (0, 8)
    assert encode_nm_stream(_CHAIN, np.zeros((0, 16), np.int64), _MODE) == []


# -- pim_mapping ---------------------------------------------------------------------------------------------------

_LAYOUT = plan_gemv(_PIM, 3, 8)
_LAYOUT_BF16 = plan_gemv(_PIM_BF16, 3, 8)
_W, _XV = np.ones((3, 8), np.int64), np.ones(8, np.int64)


@pytest.mark.parametrize(
    "call",
    [
        lambda: calibration_commands(_PIM, 2, True),  # taken as 1 column
        lambda: calibration_commands(_PIM, 10**9, 2),  # MemoryError building the list
        lambda: calibration_commands(None, 2, 2),  # AttributeError
        lambda: plan_gemv(None, 3, 8),  # AttributeError
        lambda: _LAYOUT.reference(np.full((3, 8), 1.5), _XV),  # truncated to 1
        lambda: _LAYOUT.reference(_W, np.full(8, 1.5)),
        lambda: _LAYOUT.reference(np.ones((3, 8), bool), _XV),  # bools taken as 1
        lambda: _LAYOUT.reference([["1"] * 8] * 3, _XV),  # strings parsed
        lambda: _LAYOUT.reference(np.full((3, 8), 1000), _XV),  # 1000 on int8 lanes
        lambda: _LAYOUT.reference(np.full((3, 8), _BIG), _XV),  # wrapped into int64
        lambda: _LAYOUT.weight_commands(np.full((3, 8), 1.5), 0),
        lambda: _LAYOUT.gemv_commands(np.full(8, 1000)),
        lambda: _LAYOUT.weight_commands(_W, 5),  # channel beyond the layout: all-zero images
        lambda: _LAYOUT.weight_commands(_W, -1),  # negative index: W's last rows
        lambda: _LAYOUT.weight_commands(_W, 0.5),  # IndexError
        lambda: _LAYOUT_BF16.reference([["1"] * 8] * 3, np.ones(8)),  # strings parsed
        lambda: _LAYOUT_BF16.reference(np.full((3, 8), 1 + 1j), np.ones(8)),  # imaginary part dropped
        lambda: unpack_output(_PIM, 1.5),  # TypeError
        lambda: unpack_output(_PIM, True),  # taken as 1
        lambda: unpack_output(_PIM, -1),  # "15 is not a valid PimOp"
        lambda: unpack_output(_PIM, 1 << 500),  # high bits dropped
    ],
)
def test_pim_mapping_rejects_bad_input(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


def test_pim_integer_lanes_take_integral_floats():
    assert np.array_equal(_LAYOUT.reference(_W.astype(float), _XV), _LAYOUT.reference(_W, _XV))


# -- quantise, gemm_kernels, ops_float ------------------------------------------------------------------------------

_A = np.ones((2, 4), np.float32)
_WQ = np.ones((8, 4), np.float32)
_M = np.ones((2, 2), np.float32)
_M11 = np.full((2, 2), 1.1, np.float32)


@pytest.mark.parametrize(
    "call",
    [
        lambda: quantise_activation(_A, None),  # AttributeError
        lambda: quantise_activation(_A, "int8"),  # AttributeError
        lambda: quantise_activation(_A, int8, amax=-1.0),  # scale 1.0 silently
        lambda: quantise_activation(_A, int8, amax=np.nan),
        lambda: quantise_activation(_A, int8, amax="3"),  # parsed: values 42
        lambda: quantise_activation(np.array([["1"]]), int8),  # UFuncTypeError
        lambda: quantise_weight(_WQ, None),
        lambda: quantise_weight(_WQ, int8, nm=(2,)),  # TypeError
        lambda: quantise_weight(np.ones(4, np.float32), int8),  # a vector taken as a matrix
        lambda: gemm_values(np.ones((2, 3)), np.ones((2, 2)), "exact", "exact", "sequential"),  # matmul internals
        lambda: gemm_batched_values(np.ones((3, 2, 2)), np.ones((2, 2, 2)), "exact", "exact", "sequential"),
        lambda: gemm_batched_values(np.ones((2, 2)), np.ones((2, 2)), "exact", "exact", "sequential"),  # 2-D taken
        lambda: gemm_values(_M, _M11, "exact", float32, "chunked", -1),  # zeros
        lambda: gemm_values(_M, _M11, "exact", float32, "chunked", 0),  # range() error
        lambda: gemm_values(_M, _M11, "exact", float32, "chunked", True),  # taken as 1
        lambda: gemm_values(_M, _M11, "exact", float32, "chunked", 1.5),
        lambda: gemm_values(_M, _M11, "exact", float32, "chunked", None),
        lambda: gemm_values(
            np.array([[2**64 - 1]], np.uint64), np.ones((1, 1), np.uint64), "exact", int32, "sequential"
        ),
        lambda: acc_encode(np.ones(2), "foo"),  # taken as "exact"
        lambda: acc_decode(np.ones(2, np.uint64), "foo"),
        lambda: acc_decode(np.ones(2, np.uint64), None),  # AttributeError
        lambda: erf("1"),  # parsed
        lambda: erf(np.array([True])),
        lambda: gelu(["1"]),  # AttributeError
        lambda: layernorm(np.ones((1, 4), np.float32), 1, 0, -1.0),  # NaN
        lambda: layernorm(np.ones((1, 4), np.float32), 1, 0, "1e-5"),
        lambda: softmax(np.ones((1, 1, 2, 2), np.float32), np.ones((3, 3))),  # broadcast error
    ],
)
def test_numeric_kernels_reject_bad_input(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


def test_numeric_kernels_still_take_lists():
    assert gelu([0.0]).tolist() == [0.0]
    assert softmax([[[[0.0, 0.0]]]]).tolist() == [[[[0.5, 0.5]]]]


# -- ir, ir_exec ---------------------------------------------------------------------------------------------------

_TABLE = np.arange(12, dtype=np.float32).reshape(4, 3)
_EMB = Node("emb", "embedding", ("ids",), {"table": _TABLE})
_G_EMB = Graph("g", ("ids",), [_EMB], ("emb",))
_LIN = Node("lin", "linear", ("x",), {"weight": np.ones((3, 2), np.float32), "bias": None})
_G_LIN = Graph("g2", ("x",), [_LIN], ("lin",))


@pytest.mark.parametrize(
    "call",
    [
        lambda: Node("n", "gelu", "abc"),  # inputs ('a', 'b', 'c')
        lambda: Node(5, "gelu", ("a",)),
        lambda: Node("n", "gelu", ("a",), None),  # TypeError
        lambda: Node("n", "gelu", (5,)),
        lambda: Graph("g", "xy", [Node("n", "gelu", ("x",))], ("n",)),  # inputs "x", "y"
        lambda: Graph("g", ("x",), [Node("n", "gelu", ("x",))], "n"),
        lambda: Graph("g", ("ids",), None, ("emb",)),  # TypeError
        lambda: Graph("g", ("ids",), ["emb"], ("emb",)),  # AttributeError
        lambda: run_graph(None, {}, None),  # AttributeError
        lambda: run_graph(_G_EMB, None, None),  # TypeError
        lambda: run_graph(_G_EMB, {"ids": np.array([[-1]])}, None),  # the table's last row
        lambda: run_graph(_G_EMB, {"ids": np.array([[99]])}, None),  # IndexError
        lambda: run_graph(_G_EMB, {"ids": np.array([[1.5]])}, None),  # IndexError
        lambda: run_graph(_G_EMB, {"ids": np.array([[True, False]])}, None),  # boolean mask
        lambda: run_graph(_G_LIN, {"x": np.array([["a", "b", "c"]])}, None),  # UFuncTypeError
        lambda: run_graph(_G_LIN, {"x": np.ones((1, 3), complex)}, None),  # imaginary part dropped
        lambda: run_graph(_G_LIN, {"x": np.array([[1, 2, None]], dtype=object)}, None),  # TypeError
        lambda: run_graph(_G_LIN, {"x": np.ones((1, 4), np.float32)}, None),  # matmul internals
        lambda: run_graph(_G_LIN, {"x": np.float32(1)}, None),  # IndexError
    ],
)
def test_ir_rejects_bad_input(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()
