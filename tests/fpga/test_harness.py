"""Serial I/O harness text and nextpnr report parsing, without running the tools."""

import json

import pytest

from hwgen.fpga.harness import HARNESS_TOP, Port, harness_verilog
from hwgen.fpga.report import overused, parse_pnr_report


def test_harness_slices_every_port_bit_once():
    ports = [
        Port("clk", "input", 1),
        Port("rst", "input", 1),
        Port("a", "input", 3),
        Port("b", "input", 1),
        Port("y", "output", 5),
        Port("z", "output", 2),
    ]
    text = harness_verilog("dut_top", ports)
    assert f"module {HARNESS_TOP}(" in text
    assert "reg [3:0] in_sr;" in text and "reg [6:0] out_sr;" in text
    for conn in (".clk(clk)", ".rst(rst)", ".a(in_sr[2:0])", ".b(in_sr[3:3])", ".y(outs[4:0])", ".z(outs[6:5])"):
        assert conn in text


def test_harness_of_a_combinational_one_bit_design_still_has_a_clock():
    text = harness_verilog("inv", [Port("a", "input", 1), Port("y", "output", 1)])
    assert "input wire clk" in text
    assert "in_sr <= hwgen_sin;" in text and "1'b0;" in text


def test_harness_escapes_odd_port_names():
    text = harness_verilog("m", [Port("a.b", "input", 1), Port("y", "output", 1)])
    assert ".\\a.b (in_sr[0:0])" in text


@pytest.mark.parametrize(
    ("ports", "message"),
    [([Port("a", "input", 1)], "no outputs"), ([Port("io", "inout", 1), Port("y", "output", 1)], "inout")],
)
def test_harness_rejects_what_it_cannot_wrap(ports, message):
    with pytest.raises(ValueError, match=message):
        harness_verilog("m", ports)


def test_pnr_report_finds_the_renamed_global_clock(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 32.5, "constraint": 30}},
                "utilization": {
                    "ICESTORM_LC": {"used": 10, "available": 5280},
                    "SB_RAM40_4K": {"used": 0, "available": 30},
                },
            }
        )
    )
    assert parse_pnr_report(report) == (32.5, 30.0, {"ICESTORM_LC": {"used": 10, "available": 5280}})


def test_overused_reads_the_utilisation_table(tmp_path):
    log = tmp_path / "nextpnr.log"
    log.write_text(
        "Info: Device utilisation:\n"
        "Info: \t         ICESTORM_LC:    1085/    384   282%\n"
        "Info: \t               SB_IO:       5/     21    23%\n"
    )
    assert overused(log) == ["ICESTORM_LC 1085/384"]
