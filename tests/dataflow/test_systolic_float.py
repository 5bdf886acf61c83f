"""Float systolic arrays (ws, is, os) in the Amaranth simulator: bit-exact with fp_dot, exact cycles."""

import numpy as np
import pytest
from test_systolic_amaranth import run_amaranth

from hwgen.emulation import LMul, bfloat16, float8_e4m3fn, float32
from hwgen.emulation.fp_mac_model import fp_dot
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm
from hwgen.pe.systolic_float import SystolicFloatOsPE, SystolicFloatPE
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


def _chunked(cfg, a, b) -> np.ndarray:
    """Independent oracle of a K-tiled GEMM: ``fp_dot`` of each unpadded K slice, folded in float32 NumPy."""
    rows = cfg.rows
    parts = [_direct(cfg, a[:, k0 : k0 + rows], b[k0 : k0 + rows]) for k0 in range(0, a.shape[1], rows)]
    total = cfg.acc_format.decode(parts[0].ravel(), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE float32 adds: Inf and NaN are results
        for part in parts[1:]:
            total = total + cfg.acc_format.decode(part.ravel(), np.float32)
    return expected_codes(cfg.acc_format, total.astype(np.float64)).reshape(parts[0].shape)


@pytest.mark.parametrize(
    ("dataflow", "dtype", "mul", "rows", "cols", "shape"),
    [
        ("ws", "float8_e4m3fn", "exact", 2, 2, (4, 5, 3)),
        ("ws", "bfloat16", "lmul", 3, 2, (3, 8, 5)),
        ("is", "float8_e5m2", "lmul", 2, 2, (3, 5, 4)),
        ("is", "bfloat16", "exact", 3, 3, (5, 8, 2)),
    ],
)
def test_k_tiled_gemm_bit_exact_and_cycles(dataflow, dtype, mul, rows, cols, shape):
    # k = 2.5 x rows: three K-tiles, the last one padded, with NaN, ±Inf, ±max, ±min subnormal, ±0.
    cfg = _cfg(rows, cols, dtype, mul, dataflow)
    a, b = random_operands(cfg, *shape, np.random.default_rng(rows * shape[1]))
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert len(plan.tiles) == 3 * -(-(shape[2] if dataflow == "ws" else shape[0]) // cols)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)
    got = expected_codes(cfg.acc_format, plan.assemble(plan.tile_outputs(a, b)).ravel()).reshape(shape[0], shape[2])
    assert np.array_equal(got, _chunked(cfg, a, b))


@pytest.mark.parametrize("dataflow", ("ws", "is"))
@pytest.mark.parametrize("k", range(1, 10))
def test_k_tiled_result_is_the_chunked_sum_and_one_pass_up_to_rows(dataflow, k):
    cfg = _cfg(3, 2, "bfloat16", "exact", dataflow)
    a, b = random_operands(cfg, 4, k, 5, np.random.default_rng(k))
    plan = plan_gemm(cfg, 4, k, 5)
    got = expected_codes(cfg.acc_format, plan.assemble(plan.tile_outputs(a, b)).ravel()).reshape(4, 5)
    assert np.array_equal(got, _chunked(cfg, a, b))
    if k <= cfg.rows:  # one K-tile: exactly the one-pass fp_dot, as before K-tiling existed
        assert np.array_equal(got, _direct(cfg, a, b))


def _assembled_codes(cfg, a, b) -> list[int]:
    plan = plan_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    return expected_codes(cfg.acc_format, plan.assemble(plan.tile_outputs(a, b)).ravel()).tolist()


def test_k_tiling_is_a_chunked_order_not_the_one_pass_fp_dot():
    cfg = _cfg(2, 1, "bfloat16", "exact")
    t, tiny = 2.0**-12, cfg.dtype_format.min_subnormal
    # 1 + 2**-24 + 2**-24 + 2**-24: one pass, each 2**-24 ties back to 1 (even); the second
    # K-tile sums its two to 2**-23 first, which then survives the addition to 1.
    a, b = np.array([[1.0, t, t, t]]), np.array([[1.0], [t], [t], [t]])
    assert _direct(cfg, a, b).tolist() == [[0x3F80_0000]]  # 1.0
    assert _assembled_codes(cfg, a, b) == [0x3F80_0001]  # 1 + 2**-23
    # -tiny * tiny rounds to -0 in K-tile 0; K-tile 1 adds -0 to +0 (= +0), and -0 + +0 = +0,
    # while one pass keeps -0 + -0 = -0.
    a, b = np.array([[-tiny, 0.0, 0.0]]), np.array([[tiny], [-1.0], [-1.0]])
    assert _direct(cfg, a, b).tolist() == [[0x8000_0000]]
    assert _assembled_codes(cfg, a, b) == [0]


def test_every_host_addition_of_k_tile_partials_rounds():
    # Partials 1, 2**-24, 2**-24: each addition ties back to 1 (even); summing the three
    # partials exactly and rounding once would give 1 + 2**-23.
    cfg = _cfg(2, 1, "bfloat16", "exact")
    t = 2.0**-12
    a = np.array([[1.0, 0.0, t, 0.0, t, 0.0]])
    plan = plan_gemm(cfg, 1, 6, 1)
    assert [part.item() for part in plan.tile_outputs(a, a.T)] == [1.0, 2.0**-24, 2.0**-24]
    assert _assembled_codes(cfg, a, a.T) == [0x3F80_0000]


def test_k_tile_partials_add_with_the_accumulator_specials():
    # Two K-tiles; column j's partials: (+Inf, -Inf) -> NaN, (max, max) -> +Inf (overflow on the
    # host add), (NaN, 1) -> NaN, (-0, -0) -> -0 (each -0 an underflowed -tiny * tiny), (x, -x) -> +0.
    cfg = _cfg(2, 5, "bfloat16", "exact")
    big, tiny = cfg.dtype_format.max_finite, cfg.dtype_format.min_subnormal
    a = np.array([[1.0, tiny, 1.0, tiny]])
    b = np.array(
        [
            [np.inf, big, np.nan, 0.0, 1.5],
            [0.0, 0.0, 0.0, -tiny, 0.0],
            [-np.inf, big, 1.0, 0.0, -1.5],
            [0.0, 0.0, 0.0, -tiny, 0.0],
        ]
    )
    f32 = cfg.acc_format
    plan = plan_gemm(cfg, 1, 4, 5)
    partials = [expected_codes(f32, part.ravel()).tolist() for part in plan.tile_outputs(a, b)]
    assert partials == [
        [f32.inf_code, 0x7F7F_0000, f32.nan_code, 0x8000_0000, 0x3FC0_0000],
        [0xFF80_0000, 0x7F7F_0000, 0x3F80_0000, 0x8000_0000, 0xBFC0_0000],
    ]
    assert _assembled_codes(cfg, a, b) == [f32.nan_code, f32.inf_code, f32.nan_code, 0x8000_0000, 0]


def test_checker_catches_a_flipped_float_bit():
    cfg = _cfg(2, 2, "float8_e5m2", "lmul")
    a, b = random_operands(cfg, 3, 2, 2, np.random.default_rng(5))
    plan, outs, _ = run_amaranth(cfg, a, b)
    outs[1] ^= 1 << 3
    assert len(check_outputs(plan, a, b, outs)) == 1


def test_float_pe_refuses_a_multiplier_of_another_format():
    for pe in (SystolicFloatPE, SystolicFloatOsPE):
        with pytest.raises(ValueError, match="allowed: 'exact' or an LMul of float8_e4m3fn"):
            pe(float8_e4m3fn, float32, LMul(bfloat16))
