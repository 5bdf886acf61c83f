"""Tiling plan and golden model of the systolic array."""

import numpy as np
import pytest

from hwgen.emulation import int32
from hwgen.emulation.ops import matmul_int
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, latency, plan_gemm, utilisation


@pytest.mark.parametrize(
    ("rows", "cols", "m", "k", "n"),
    [
        (8, 8, 16, 16, 16),
        (8, 8, 13, 21, 11),
        (3, 5, 1, 1, 1),
        (4, 2, 7, 9, 5),
        (1, 1, 2, 3, 4),
    ],
)
def test_tiled_result_equals_whole_gemm(rows, cols, m, k, n):
    rng = np.random.default_rng(m * k * n)
    a = rng.integers(-128, 128, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    plan = plan_gemm(ArrayConfig(rows=rows, cols=cols), m, k, n)
    assert len(plan.tiles) == -(-k // rows) * -(-n // cols)
    assert np.array_equal(plan.assemble(plan.tile_outputs(a, b)), matmul_int(a, b, int32))


def test_int32_wraps_like_the_hardware_adder():
    a = np.full((1, 70000), 127)
    b = np.full((70000, 1), 127)  # sum 1_129_030_000 fits int32; twice that wraps
    b2 = np.full((140000, 1), 127)
    a2 = np.full((1, 140000), 127)
    assert matmul_int(a, b, int32)[0, 0] == 127 * 127 * 70000
    assert matmul_int(a2, b2, int32)[0, 0] == 127 * 127 * 140000 - 2**32


def test_cycle_formula_single_tile_is_load_stream_drain():
    cfg = ArrayConfig(rows=8, cols=4)
    assert latency(cfg) == 13
    plan = plan_gemm(cfg, 5, 8, 4)
    assert gemm_cycles(plan) == 8 + 5 + 13


@pytest.mark.parametrize(("m", "period"), [(100, 100), (3, 11.5), (12, 16)])
def test_cycle_formula_steady_state(m, period):
    # rows 8, D 13: a tile costs max(M, R, (M + R + D - 1) / 2) in steady state
    cfg = ArrayConfig(rows=8, cols=4)
    few, many = plan_gemm(cfg, m, 8 * 10, 4), plan_gemm(cfg, m, 8 * 20, 4)
    assert (gemm_cycles(many) - gemm_cycles(few)) / 10 == pytest.approx(period, abs=0.5)
    assert utilisation(many, gemm_cycles(many)) == pytest.approx(many.macs / (32 * gemm_cycles(many)))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_gemm_dimension(bad):
    with pytest.raises(ValueError, match="allowed"):
        plan_gemm(ArrayConfig(), bad, 4, 4)


@pytest.mark.parametrize("dataflow", ("ws", "is"))
@pytest.mark.parametrize(("m", "k", "n"), [(5, 20, 9), (1, 17, 3), (12, 9, 1)])
def test_float_plans_k_tile_and_time_like_integer_ones(dataflow, m, k, n):
    # The float PEs keep the integer pipeline, so tiles and cycles do not depend on the dtype
    # (the RTL tests check the float K-tiled counts against simulation cycle for cycle).
    shape = {"rows": 4, "cols": 3, "dataflow": dataflow}
    ints = plan_gemm(ArrayConfig(**shape), m, k, n)
    floats = plan_gemm(ArrayConfig(**shape, dtype="bfloat16", acc="float32"), m, k, n)
    width = n if dataflow == "ws" else m
    assert floats.tiles == ints.tiles and len(floats.tiles) == -(-k // 4) * -(-width // 3)
    assert gemm_cycles(floats) == gemm_cycles(ints)
