"""The generated Verilog in cocotb: random GEMMs bit-exact with the emulator, cycles equal to the formula."""

import json
from dataclasses import asdict
from pathlib import Path

import cocotb
import numpy as np
import pytest

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation import accumulate
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.sim.cocotb_runner import CocotbSession, load_job, run_cocotb
from hwgen.sim.regression import DEFAULT_GEMMS, run_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


# One default-size array and two odd shapes per simulator: the build dominates the time.
CASES = [
    ("verilator", "ws", 8, 8, DEFAULT_GEMMS),
    ("verilator", "os", 8, 8, DEFAULT_GEMMS),
    ("verilator", "is", 3, 5, ((7, 11, 12), (1, 3, 5))),
    ("icarus", "ws", 8, 8, DEFAULT_GEMMS),
    ("icarus", "is", 8, 8, DEFAULT_GEMMS),
    ("icarus", "os", 1, 1, ((2, 3, 2),)),
    ("icarus", "os", 5, 2, ((4, 9, 3), (1, 24, 20))),
    ("icarus", "ws", 1, 1, ((2, 3, 2),)),
]


@pytest.mark.parametrize(("simulator", "dataflow", "rows", "cols", "gemms"), CASES)
def test_full_rate_regression(tmp_path, simulator, dataflow, rows, cols, gemms):
    _need(simulator)
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    report = run_regression(cfg, tmp_path, simulator, gemms, seed=rows + cols)
    assert report.passed, report.log.read_text()[-3000:]
    for g in report.gemms:
        assert g["mismatches"] == []
        assert g["cycles"] == g["expected_cycles"]


# Float arrays: several tiles, K padding, the corners of random_operands (NaN, ±Inf, ±max,
# ±min subnormal, ±0; all of them in a once m * k >= 20). The GEMMs with k > rows (k = 8 on
# 3 rows, k = 5 on 2 rows: three K-tiles, the last padded) run their K-tiles one after
# another down the columns, each from +0; the host adds them (``StationaryPlan.assemble``).
FLOAT_CASES = [
    ("verilator", "ws", "float8_e4m3fn", "lmul", 3, 2, ((5, 3, 7), (1, 2, 2), (9, 3, 1), (4, 8, 3), (2, 8, 5))),
    ("icarus", "is", "bfloat16", "exact", 3, 2, ((4, 3, 5), (6, 2, 1), (5, 8, 3))),
    ("verilator", "os", "float8_e5m2", "exact", 2, 3, ((5, 9, 4), (1, 1, 1))),
    ("verilator", "is", "bfloat16", "lmul", 2, 2, ((4, 5, 3), (5, 5, 1), (3, 13, 7))),
]


@pytest.mark.parametrize(("simulator", "dataflow", "dtype", "mul", "rows", "cols", "gemms"), FLOAT_CASES)
def test_float_full_rate_regression(tmp_path, simulator, dataflow, dtype, mul, rows, cols, gemms):
    _need(simulator)
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow, dtype=dtype, acc="float32", mul=mul)
    report = run_regression(cfg, tmp_path, simulator, gemms, seed=5)
    assert report.passed, report.log.read_text()[-3000:]
    for g in report.gemms:
        assert g["mismatches"] == []
        assert g["cycles"] == g["expected_cycles"]


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_random_backpressure_regression(tmp_path, simulator):
    _need(simulator)
    report = run_regression(
        ArrayConfig(rows=4, cols=4),
        tmp_path,
        simulator,
        ((9, 10, 7), (1, 4, 4)),
        seed=7,
        valid_prob=0.7,
        ready_prob=0.5,
    )
    assert report.passed, report.log.read_text()[-3000:]
    assert all(g["expected_cycles"] is None for g in report.gemms)


def test_a_failing_bench_is_reported_not_raised(tmp_path):
    # The WS Verilog driven as if it were output-stationary cannot produce the expected rows.
    _need("icarus")
    build = build_unit(ArrayConfig(rows=2, cols=2), tmp_path / "rtl")
    wrong = ArrayConfig(rows=2, cols=2, dataflow="os")
    job = {"config": wrong.to_dict(), "gemms": [[3, 2, 2]], "seed": 1, "valid_prob": 1.0, "ready_prob": 1.0}
    run = run_cocotb(build.verilog, build.manifest_data["top"], "hwgen.sim.systolic_bench", job, "icarus", tmp_path)
    assert not run.passed


def saturating_operands(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Worst-case int8 operands of a ``1 x k x 2`` GEMM that clamp an int32 sum both ways.

    ``a`` is all 127; column 0 of ``b`` is all 127 (the sum climbs past ``2**31 - 1``),
    column 1 is all -128 (down past ``-2**31``) except its last 256 steps, +127, which
    pull it back up from the clamp: a wrapping or an unordered sum would differ.
    """
    a = np.full((1, k), 127)
    b = np.full((k, 2), 127)
    b[: k - 256, 1] = -128
    return a, b


@cocotb.test()
async def saturation_regression(dut):
    """cocotb entry (run by the simulator, not by pytest): the job's worst-case GEMM, bit-exact and on time."""
    from hwgen.sim.systolic_bench import SystolicBench

    job = load_job()
    bench = SystolicBench(dut, ArrayConfig.from_dict(job["config"]), 1.0, 1.0, seed=0)
    await bench.reset()
    result = await bench.run_gemm(*saturating_operands(job["k"]))
    Path(job["report"]).write_text(json.dumps([asdict(result)]))
    assert result.passed, result


def test_saturating_accumulator_clamps_bit_exact_over_long_k(tmp_path):
    # Output-stationary keeps the whole K in the PE, so the int32 clamp happens in hardware
    # (a ws/is column sums at most 64 products, far from 2**31; its K-tiles clamp on the host).
    _need("verilator")
    cfg = ArrayConfig(rows=1, cols=2, dataflow="os", acc="int32_sat")
    k = 133_400  # 127 * 127 * 133_145 > 2**31 - 1 and 128 * 127 * 132_105 > 2**31
    a, b = saturating_operands(k)
    plan = plan_gemm(cfg, 1, k, 2)
    want = accumulate(a[0][:, None] * b, cfg.acc_format, axis=0)
    assert want[0] == 2**31 - 1 and want[1] == -(2**31) + 256 * 127 * 127  # the bench compares to this model
    assert np.array_equal(plan.assemble(plan.tile_outputs(a, b))[0], want)
    build = build_unit(cfg, tmp_path / "rtl")
    session = CocotbSession([build.verilog], build.manifest_data["top"], "verilator", tmp_path).build()
    run = session.run(Path(__file__).stem, {"config": cfg.to_dict(), "k": k})
    assert run.passed, run.log.read_text()[-3000:]
    (result,) = run.report
    assert result["mismatches"] == [] and result["cycles"] == result["expected_cycles"]
