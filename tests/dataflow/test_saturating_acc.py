"""Saturating int32 accumulator (``acc="int32_sat"``): config, CLI, plans against the emulator's ordered sum."""

import subprocess
import sys

import numpy as np
import pytest

from hwgen.emulation import accumulate
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm

SAT = ArrayConfig(acc="int32_sat").acc_format
# int8 products of equal sign; 140_000 of them pass 2**31 - 1 (133_144 would).
LONG_K = 140_000


def _products(a, b) -> np.ndarray:
    """``(m, k, n)`` exact products ``a[i, k] * b[k, j]``."""
    return np.asarray(a, np.int64)[:, :, None] * np.asarray(b, np.int64)[None, :, :]


def test_config_accepts_int32_sat_and_names_it_in_the_top():
    cfg = ArrayConfig(acc="int32_sat")
    assert cfg.saturates and cfg.acc_format.overflow == "saturate" and cfg.acc_format.width == 32
    assert not ArrayConfig().saturates
    assert cfg.top_name.endswith("_int32_sat") and cfg.top_name.isidentifier()
    with pytest.raises(ConfigError, match="allowed: float32"):
        ArrayConfig(dtype="bfloat16", acc="int32_sat")
    with pytest.raises(ConfigError, match="int32, int32_sat"):
        ArrayConfig(acc="int32-sat")


@pytest.mark.parametrize("dataflow", ["ws", "is", "os"])
def test_one_pass_plan_is_the_sequential_saturating_sum(dataflow):
    # k <= rows cannot reach 2**31 (|sum| <= 64 * 2**14): the long-K tests below clamp;
    # here the plan must equal the ordered sum on random operands, tiles over N included.
    cfg = ArrayConfig(rows=4, cols=3, dataflow=dataflow, acc="int32_sat")
    rng = np.random.default_rng(3)
    a, b = rng.integers(-128, 128, size=(5, 4)), rng.integers(-128, 128, size=(4, 7))
    plan = plan_gemm(cfg, 5, 4, 7)
    want = accumulate(_products(a, b), SAT, axis=1)
    assert np.array_equal(plan.assemble(plan.tile_outputs(a, b)), want)


def test_long_k_os_saturates_in_k_order():
    # One output: 127*127 until clamped at the top, then -128*127 for 200 steps, then +.
    cfg = ArrayConfig(rows=1, cols=1, dataflow="os", acc="int32_sat")
    a = np.full((1, LONG_K + 400), 127)
    b = np.full((LONG_K + 400, 1), 127)
    b[LONG_K : LONG_K + 200, 0] = -128
    plan = plan_gemm(cfg, 1, a.shape[1], 1)
    got = plan.assemble(plan.tile_outputs(a, b))
    want = accumulate(_products(a, b), SAT, axis=1)
    assert got[0, 0] == want[0, 0] == SAT.max_value - 200 * 128 * 127 + 200 * 127 * 127
    assert want[0, 0] != np.clip((a @ b)[0, 0], SAT.min_value, SAT.max_value)  # order matters


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_long_k_stationary_combines_k_tiles_saturating_in_order(dataflow):
    # K-tiles of 64 rows; the host clamps after each tile's partial, in K-tile order.
    rows = 64
    cfg = ArrayConfig(rows=rows, cols=2, dataflow=dataflow, acc="int32_sat")
    k = 136_000  # a multiple of 64: 2125 tiles per output column
    a = np.full((2, k), -128)
    a[1, :] = 127
    b = np.full((k, 2), 127)
    b[-rows:, 1] = -128  # the last K-tile pulls column 1 back from the clamp
    plan = plan_gemm(cfg, 2, k, 2)
    got = plan.assemble(plan.tile_outputs(a, b))
    partials = accumulate(_products(a, b).reshape(2, k // rows, rows, 2), SAT, axis=2)
    want = accumulate(partials, SAT, axis=1)
    assert np.array_equal(got, want)
    assert got[0, 0] == SAT.min_value and got[1, 0] == SAT.max_value
    assert got[1, 1] == SAT.max_value - rows * 128 * 127


def test_wrapping_accumulator_still_wraps():
    cfg = ArrayConfig(rows=8, cols=1)
    a, b = np.full((1, LONG_K), 127), np.full((LONG_K, 1), 127)
    plan = plan_gemm(cfg, 1, LONG_K, 1)
    assert plan.assemble(plan.tile_outputs(a, b))[0, 0] == 127 * 127 * LONG_K - 2**32


def test_cli_builds_int32_sat_and_rejects_a_bad_acc_in_one_line(tmp_path):
    hwgen = [sys.executable, "-m", "hwgen.cli.main"]
    ok = subprocess.run(
        [
            *hwgen,
            "build",
            "--arch",
            "systolic",
            "--rows",
            "2",
            "--cols",
            "2",
            "--acc",
            "int32_sat",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "lint-only: clean" in ok.stdout
    assert list(tmp_path.rglob("*int32_sat*.v"))
    bad = subprocess.run([*hwgen, "build", "--arch", "systolic", "--acc", "int33"], capture_output=True, text=True)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "int33" in lines[0] and "int32_sat" in lines[0]
