"""Adder-tree array Verilog in cocotb: every INT8 pair through every multiplier, random GEMMs, exact cycles."""

import dataclasses

import numpy as np
import pytest

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, array_latency, plan_tree_gemm
from hwgen.sim.addertree_vectors import exhaustive_phase, random_gemm, tree_phase
from hwgen.sim.stream_regression import run_stream_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

GEMMS = [(4, 16, 8), (3, 13, 5), (1, 40, 4), (5, 3, 2)]


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _gemm_phases(cfg, seed):
    rng = np.random.default_rng(seed)
    plans = [plan_tree_gemm(cfg, *g) for g in GEMMS]
    phases = [tree_phase(p, *random_gemm(rng, cfg.dtype_format, *g), str(g)) for p, g in zip(plans, GEMMS, strict=True)]
    return phases, plans


@pytest.mark.parametrize(("simulator", "rows", "lanes"), [("verilator", 4, 4), ("icarus", 2, 3)])
def test_exhaustive_pairs_random_gemms_and_backpressure(tmp_path, simulator, rows, lanes):
    _need(simulator)
    cfg = AdderTreeConfig(rows=rows, lanes=lanes)
    phases, plans = _gemm_phases(cfg, rows * 10 + lanes)
    stalled = [dataclasses.replace(p, name=p.name + " (back-pressure)", valid_prob=0.7, ready_prob=0.5) for p in phases]
    report = run_stream_regression(
        build_unit(cfg, tmp_path / "rtl"), [exhaustive_phase(cfg), *phases, *stalled], tmp_path, simulator
    )
    assert report.passed, [p["mismatches"][:3] for p in report.phases] or report.log.read_text()[-3000:]
    assert report.phases[0]["outputs"] == 65536
    assert report.cycles(0) == 65536 + array_latency(cfg)  # 65,536 single-beat tiles back to back
    for i, plan in enumerate(plans, start=1):
        assert report.cycles(i) == plan.cycles, phases[i - 1].name
        assert report.cycles(i + len(plans)) > plan.cycles, stalled[i - 1].name


def test_bench_reports_a_corrupted_expectation(tmp_path):
    _need("icarus")
    cfg = AdderTreeConfig(rows=2, lanes=2)
    phases, _ = _gemm_phases(cfg, 1)
    phases[1].expected[2] ^= 1 << 5
    report = run_stream_regression(build_unit(cfg, tmp_path / "rtl"), phases, tmp_path, "icarus")
    assert not report.passed
    assert [len(p["mismatches"]) for p in report.phases] == [0, 1, 0, 0]
    assert report.phases[1]["mismatches"][0].startswith("beat 2:")
