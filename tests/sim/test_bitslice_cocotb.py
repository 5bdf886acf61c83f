"""Bit-slice PE and array Verilog in cocotb: exhaustive INT8 pairs, random GEMMs, back-pressure, exact cycles.

One simulator build per design runs full-rate phases (cycles must equal the model
exactly) and back-pressured phases (results must still be bit-exact).
"""

import dataclasses

import numpy as np
import pytest

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.sim.bitslice_vectors import (
    array_phase,
    exhaustive_pairs,
    pe_phase,
    pe_stream_cycles,
    random_gemm,
    random_groups,
)
from hwgen.sim.stream_regression import run_stream_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

BACKPRESSURE = {"valid_prob": 0.7, "ready_prob": 0.5}


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _with_backpressure(phases):
    """The phases at full rate, then the same phases again with random idle sources and stalls."""
    return phases + [dataclasses.replace(p, name=p.name + " (back-pressure)", **BACKPRESSURE) for p in phases]


def _pe_phases(cfg):
    """All 65,536 INT8 pairs as one-pair groups (each product checked alone), then mixed precisions."""
    rng = np.random.default_rng(11)
    cases = [(exhaustive_pairs(8), 8, 8, "exhaustive 8x8")]
    for a_bits, w_bits, k in [(8, 8, 16), (2, 8, 5), (5, 3, 3), (4, 4, 1)]:
        cases.append((random_groups(rng, 20, k, a_bits, w_bits), a_bits, w_bits, f"random {a_bits}x{w_bits}"))
    phases = [pe_phase(cfg.coding, cfg.acc_format, a, w, ab, wb, name) for (a, w), ab, wb, name in cases]
    serial = [(a, ab) for (a, _), ab, _, _ in cases]
    return _with_backpressure(phases), serial


def _check_pe(report, cfg, phases, serial):
    assert report.passed, [p["mismatches"][:3] for p in report.phases] or report.log.read_text()[-3000:]
    assert report.phases[0]["outputs"] == 65536
    for i, (a, a_bits) in enumerate(serial):
        model = pe_stream_cycles(cfg.coding, a, a_bits)
        assert report.cycles(i) == model, phases[i].name
        assert report.cycles(i + len(serial)) > model, phases[i + len(serial)].name


def test_pe_radix4_verilator(tmp_path):
    _need("verilator")
    cfg = BitSliceConfig(unit="pe", encoding="radix4", slice_bits=2)
    phases, serial = _pe_phases(cfg)
    report = run_stream_regression(build_unit(cfg, tmp_path / "rtl"), phases, tmp_path, "verilator")
    _check_pe(report, cfg, phases, serial)


@pytest.mark.slow
@pytest.mark.parametrize(("encoding", "slice_bits"), [("unsigned", 2), ("unsigned", 1)])
def test_pe_twos_complement_slices_icarus(tmp_path, encoding, slice_bits):
    _need("icarus")
    cfg = BitSliceConfig(unit="pe", encoding=encoding, slice_bits=slice_bits)
    phases, serial = _pe_phases(cfg)
    report = run_stream_regression(build_unit(cfg, tmp_path / "rtl"), phases, tmp_path, "icarus")
    _check_pe(report, cfg, phases, serial)


GEMMS = [(4, 40, 4, 8, 8), (3, 33, 5, 2, 2), (2, 17, 3, 4, 8), (5, 9, 2, 7, 3), (1, 64, 2, 8, 2)]


@pytest.mark.parametrize(
    ("simulator", "rows", "cols", "encoding"), [("verilator", 1, 2, "radix4"), ("icarus", 2, 2, "unsigned")]
)
def test_array_random_gemms(tmp_path, simulator, rows, cols, encoding):
    _need(simulator)
    cfg = BitSliceConfig(rows=rows, cols=cols, encoding=encoding)
    rng = np.random.default_rng(21)
    plans = [plan_fusion_gemm(cfg, *g) for g in GEMMS]
    phases = [array_phase(p, *random_gemm(rng, *g), name=str(g)) for p, g in zip(plans, GEMMS, strict=True)]
    report = run_stream_regression(
        build_unit(cfg, tmp_path / "rtl"), _with_backpressure(phases), tmp_path, simulator, seed=3
    )
    assert report.passed, [p["mismatches"][:3] for p in report.phases] or report.log.read_text()[-3000:]
    for i, plan in enumerate(plans):
        assert report.cycles(i) == plan.cycles, phases[i].name
        assert report.cycles(i + len(plans)) > plan.cycles, phases[i].name
