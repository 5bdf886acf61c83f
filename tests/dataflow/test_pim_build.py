"""``build_pim``: Verilog that passes verilator --lint-only with the shipped waivers, and its manifest."""

import json

import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import PimConfig, PimTiming
from hwgen.sim.toolchain import find_simulator


@pytest.mark.parametrize(
    "cfg",
    [
        PimConfig(banks=3, rows=6, cols=3, lanes=5),
        PimConfig(banks=1, rows=1, cols=2, lanes=1, timing=PimTiming(refresh=False)),
        PimConfig(banks=4, rows=8, cols=4, lanes=16, dtype="int4", acc="int16"),
        PimConfig(banks=2, rows=4, cols=2, lanes=16, dtype="bfloat16", acc="float32"),
        PimConfig(banks=1, rows=2, cols=2, lanes=3, dtype="bfloat16", acc="float32"),
    ],
)
def test_build_lints_clean_and_writes_manifest(tmp_path, cfg):
    result = build_unit(cfg, tmp_path)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["arch"] == "pim" and manifest["top"] == cfg.top_name
    assert PimConfig.from_dict(manifest["config"]) == cfg
    assert {p["name"] for p in manifest["ports"]} >= {"i_cmd__payload", "o_out__valid", "error"}
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages


@pytest.mark.parametrize(
    ("cfg", "field"),
    [(PimConfig(rows=16384), "rows"), (PimConfig(cols=1, rows=4), "cols"), ("pim", "cfg")],
)
def test_build_rejects_configs_it_cannot_generate(tmp_path, cfg, field):
    with pytest.raises(ConfigError, match=f"^{field}="):
        build_unit(cfg, tmp_path)
