"""The generated PIM channel in cocotb: values bit-exact and every issue/output cycle equal to the model."""

import numpy as np
import pytest

from hwgen.emulation.pim_model import QUICK_TIMING, PimConfig, run_program
from hwgen.host.pim_mapping import calibration_commands, plan_gemv
from hwgen.sim.pim_regression import run_pim_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

FAST = QUICK_TIMING


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _gemv_program(cfg, n, k, seed):
    rng = np.random.default_rng(seed)
    fmt = cfg.dtype_format
    w = rng.integers(fmt.min_value, fmt.max_value + 1, size=(n, k))
    x = rng.integers(fmt.min_value, fmt.max_value + 1, size=k)
    w.flat[0], x[0] = fmt.min_value, fmt.min_value
    layout = plan_gemv(cfg, n, k)
    return layout.weight_commands(w, 0) + layout.gemv_commands(x)


def _check(run):
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["mismatches"] == []
    assert run.report["error_flag"] == 0


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_gemv_full_rate(tmp_path, simulator):
    _need(simulator)
    cfg = PimConfig(banks=4, rows=8, cols=4, lanes=8, timing=FAST)
    run = run_pim_regression(cfg, _gemv_program(cfg, 10, 60, seed=3), tmp_path, simulator)
    _check(run)
    assert run.report["cycles_equal"]
    assert run.report["cycles"] == run.report["model_cycles"]
    assert run.report["refreshes"] > 0


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_calibration_case_at_aim_timing(tmp_path, simulator):
    # The 10 x (WR_BIAS, MAC_ABK over 64 columns, RD_MAC) case; its timing does not depend on banks/lanes.
    _need(simulator)
    cfg = PimConfig(banks=2, rows=10, cols=64, lanes=2)
    run = run_pim_regression(cfg, calibration_commands(cfg), tmp_path, simulator)
    _check(run)
    assert run.report["cycles_equal"]
    assert run.report["cycles"] == run_program(cfg, calibration_commands(cfg), values=False).cycles == 2858


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_bf16_gemv_full_rate(tmp_path, simulator):
    _need(simulator)
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=4, dtype="bfloat16", acc="float32", timing=FAST)
    rng = np.random.default_rng(6)
    n, k = 4, 14
    w = rng.standard_normal((n, k)) * 2.0 ** rng.integers(-20, 20, (n, k))
    x = rng.standard_normal(k)
    w[0, :3], x[:3] = [np.inf, -0.0, 2.0**-75], [0.0, 0.0, 2.0**-75]  # NaN in row 0, tiny products
    w[1, 3:5] = [3e38, -3e38]  # cancelling products above the float32 range
    layout = plan_gemv(cfg, n, k)
    run = run_pim_regression(cfg, layout.weight_commands(w, 0) + layout.gemv_commands(x), tmp_path, simulator)
    _check(run)
    assert run.report["cycles_equal"]
    assert run.report["cycles"] == run.report["model_cycles"]


def test_random_flow_control(tmp_path):
    # Icarus: the build is cheap, and the flow-control logic is the same Verilog.
    _need("icarus")
    cfg = PimConfig(banks=3, rows=6, cols=2, lanes=3, dtype="int16", acc="int32", timing=FAST)
    run = run_pim_regression(cfg, _gemv_program(cfg, 6, 11, seed=5), tmp_path, "icarus", 9, 0.6, 0.5)
    _check(run)
    assert not run.report["full_rate"]
