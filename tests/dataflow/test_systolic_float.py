"""Float systolic arrays (ws, is, os) in the Amaranth simulator: bit-exact with fp_dot, exact cycles."""

import numpy as np
import pytest
from test_systolic_amaranth import run_amaranth

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.systolic_model import gemm_cycles, plan_gemm
from hwgen.emulation import LMul, bfloat16, float8_e4m3fn, float32
from hwgen.emulation.fp_mac_model import fp_dot
from hwgen.pe.float_mac import FloatMacPE, FloatOsMacPE
from hwgen.sim.systolic_vectors import check_outputs, expected_codes, float_corners, random_operands

DTYPES = ("float8_e4m3fn", "float8_e5m2", "bfloat16")
MULS = ("exact", "lmul")


def _cfg(rows, cols, dtype="float8_e4m3fn", mul="exact", dataflow="ws"):
    return ArrayConfig(rows=rows, cols=cols, dataflow=dataflow, dtype=dtype, acc="float32", mul=mul)


def _direct(cfg, a, b) -> np.ndarray:
    """``fp_dot`` of every row of ``a`` with every column of ``b``, unpadded: the codes the GEMM must give."""
    fmt = cfg.dtype_format
    ac = fmt.encode(np.ravel(a)).reshape(np.shape(a))
    bc = fmt.encode(np.ravel(b)).reshape(np.shape(b))
    rows, cols = np.broadcast_arrays(ac[:, None, :], bc.T[None])
    return fp_dot(np.ascontiguousarray(rows), np.ascontiguousarray(cols), fmt, cfg.acc_format, cfg.multiplier)


@pytest.mark.parametrize("dataflow", ("ws", "is", "os"))
@pytest.mark.parametrize("mul", MULS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_full_rate_bit_exact_and_cycles(dtype, mul, dataflow):
    # k < rows pads K (ws, is); several tiles in every dataflow.
    cfg = _cfg(4, 3, dtype, mul, dataflow)
    a, b = random_operands(cfg, 6, 3, 7, np.random.default_rng(len(dtype) + len(mul)))
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)


@pytest.mark.parametrize(
    ("dtype", "mul", "dataflow"),
    [("float8_e4m3fn", "lmul", "ws"), ("bfloat16", "exact", "is"), ("float8_e5m2", "lmul", "os")],
)
def test_random_backpressure_bit_exact(dtype, mul, dataflow):
    cfg = _cfg(3, 2, dtype, mul, dataflow)
    a, b = random_operands(cfg, 7, 3, 5, np.random.default_rng(4))
    plan, outs, cycles = run_amaranth(cfg, a, b, valid_prob=0.6, ready_prob=0.5, seed=4)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles > gemm_cycles(plan)


@pytest.mark.parametrize("mul", MULS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_corner_pair_through_the_grid(dtype, mul):
    # All pairs of corners (NaN, ±Inf, ±max, ±min subnormal, ±0): alone from +0 (k = 1, the
    # second row padded), and added to the rounded partial sum of a finite first row (k = 2).
    cfg = _cfg(2, 4, dtype, mul)
    x = np.array(float_corners(cfg.dtype_format))
    first = np.resize([0.75, -1.25, 3.0], len(x))
    cases = [(x[:, None], x[None, :]), (np.stack([np.full_like(x, 1.5), x], axis=1), np.stack([first, x]))]
    for a, b in cases:
        plan, outs, cycles = run_amaranth(cfg, a, b)
        assert check_outputs(plan, a, b, outs) == []
        assert cycles == gemm_cycles(plan)


def test_all_codes_of_e4m3_against_corner_weights():
    # Every e4m3 code streams past 8 held values (corners and rounding cases) in a 1 x 8 array.
    cfg = _cfg(1, 8, "float8_e4m3fn", "exact")
    fmt = cfg.dtype_format
    a = fmt.decode(np.arange(256), np.float64)[:, None]
    b = np.array([[448.0, -448.0, 2.0**-9, -(2.0**-9), 0.0, -0.0, 1.125, -0.8125]])
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)


def test_negative_zero_result_survives_padding():
    # bf16: -min_sub * min_sub underflows float32 to -0; the -0 padding of the unused row keeps it.
    cfg = _cfg(2, 1, "bfloat16", "exact")
    tiny = cfg.dtype_format.min_subnormal
    a, b = np.array([[-tiny], [tiny], [0.0]]), np.array([[tiny]])
    plan, outs, _ = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    codes = expected_codes(cfg.acc_format, [lanes[0] for lanes, _ in plan.output_beats(a, b)])
    assert codes.tolist() == [0x8000_0000, 0, 0]


@pytest.mark.parametrize("dataflow", ("ws", "is"))
@pytest.mark.parametrize("mul", MULS)
def test_assembled_result_is_fp_dot_of_the_unpadded_gemm(mul, dataflow):
    cfg = _cfg(5, 2, "bfloat16", mul, dataflow)
    a, b = random_operands(cfg, 4, 3, 5, np.random.default_rng(11))
    plan = plan_gemm(cfg, 4, 3, 5)
    got = plan.assemble(plan.tile_outputs(a, b))
    assert got.shape == (4, 5)
    assert np.array_equal(expected_codes(cfg.acc_format, got.ravel()).reshape(4, 5), _direct(cfg, a, b))


@pytest.mark.parametrize("mul", MULS)
def test_output_stationary_accumulates_any_k(mul):
    # The sums stay in the PEs, so k > rows needs no host-side addition.
    cfg = _cfg(2, 3, "bfloat16", mul, "os")
    a, b = random_operands(cfg, 5, 13, 4, np.random.default_rng(6))
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)
    got = plan.assemble(plan.tile_outputs(a, b))
    assert np.array_equal(expected_codes(cfg.acc_format, got.ravel()).reshape(5, 4), _direct(cfg, a, b))


def test_float_gemm_deeper_than_the_array_is_refused():
    with pytest.raises(ValueError, match=r"k=5 is not allowed.*k <= rows \(4\)"):
        plan_gemm(_cfg(4, 4), 2, 5, 2)
    assert plan_gemm(_cfg(4, 4), 2, 4, 9).k == 4


def test_checker_catches_a_flipped_float_bit():
    cfg = _cfg(2, 2, "float8_e5m2", "lmul")
    a, b = random_operands(cfg, 3, 2, 2, np.random.default_rng(5))
    plan, outs, _ = run_amaranth(cfg, a, b)
    outs[1] ^= 1 << 3
    assert len(check_outputs(plan, a, b, outs)) == 1


def test_float_pe_refuses_a_multiplier_of_another_format():
    for pe in (FloatMacPE, FloatOsMacPE):
        with pytest.raises(ValueError, match="allowed: 'exact' or an LMul of float8_e4m3fn"):
            pe(float8_e4m3fn, float32, LMul(bfloat16))
