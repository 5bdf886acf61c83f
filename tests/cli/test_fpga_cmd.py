"""``hwgen fpga build`` and ``hwgen fpga program``: one-line errors, install hints, real failing and passing builds."""

import io
import json
import os
from pathlib import Path

import pytest
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from rich.console import Console

from hwgen.cli.fpga_cmd import print_result
from hwgen.cli.main import main
from hwgen.fpga.bitstream import build_bitstream


def _run(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--board", "nope"], ["--board nope", "icebreaker, ulx3s"]),
        (["--board", "ulx3s", "--rows", "0"], ["--rows 0", "1 to 64"]),
        (["--board", "ulx3s", "--dtype", "int7x"], ["--dtype int7x", "int8"]),
        (["--board", "icebreaker", "--arch", "pim"], ["--arch pim", "systolic"]),
        (["--board", "icebreaker", "--dataflow", "os"], ["--dataflow os", "ws, is"]),
        (["--board", "icebreaker", "--baud", "0"], ["--baud 0", "positive"]),
        # 12 MHz / 4 MHz = 3 clock cycles per bit: the UART needs at least 4.
        (["--board", "icebreaker", "--baud", "4000000"], ["--baud 4000000", "3000000"]),
        (["--board", "icebreaker", "--baud", "fast"], ["--baud", "invalid int value: 'fast'"]),
        ([], ["required", "--board"]),
    ],
)
def test_bad_build_option_exits_2_with_one_line(capsys, tmp_path, args, names):
    status, out, err = _run(capsys, "fpga", "build", *args, "--out", str(tmp_path / "o"))
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0]
    assert out == ""


@pytest.fixture
def bitstreams(tmp_path):
    """Files named like each board's bitstream (``program`` checks the name and existence only)."""
    files = {"icebreaker": tmp_path / "top.bin", "ulx3s": tmp_path / "top.bit"}
    for f in files.values():
        f.write_bytes(b"\xff" * 16)
    return files


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--board", "nope", "top.bin"], ["--board nope", "icebreaker, ulx3s"]),
        (["--board", "ulx3s", "top.bin"], ["top.bin", ".bit file"]),
        (["--board", "icebreaker", "missing.bin"], ["missing.bin", "existing .bin file"]),
        (
            ["--board", "ulx3s", "top.bit", "--programmer", "iceprog"],
            ["--programmer iceprog", "openFPGALoader, fujprog"],
        ),
        (["--board", "ulx3s"], ["required", "BITSTREAM"]),
    ],
)
def test_bad_program_option_exits_2_with_one_line(capsys, bitstreams, monkeypatch, args, names):
    monkeypatch.chdir(bitstreams["ulx3s"].parent)
    status, out, err = _run(capsys, "fpga", "program", *args)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0]


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_program_without_tools_says_what_to_install_and_run(capsys, bitstreams, monkeypatch, tmp_path, board):
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    status, out, err = _run(capsys, "fpga", "program", "--board", board, str(bitstreams[board]))
    assert status == 2 and out == ""
    assert f"no programmer for {board}" in err
    assert "apt install openfpgaloader" in err
    loader_board = "ice40_generic" if board == "icebreaker" else "ulx3s"
    assert f"then run: openFPGALoader -b {loader_board} {bitstreams[board]}" in err
    second = "iceprog" if board == "icebreaker" else "fujprog"
    assert f"then run: {second} {bitstreams[board]}" in err


def _tool_dir(tmp_path, name, program):
    """A PATH folder holding ``name``, a link to a system program (``true`` or ``false``)."""
    folder = tmp_path / f"bin_{name}_{program}"
    folder.mkdir()
    target = next(Path(d, program) for d in ("/usr/bin", "/bin") if Path(d, program).exists())
    os.symlink(target, folder / name)
    return folder


def test_program_uses_the_tool_found_on_path(capsys, bitstreams, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(_tool_dir(tmp_path, "iceprog", "true")))
    bit = str(bitstreams["icebreaker"])
    status, out, _ = _run(capsys, "fpga", "program", "--board", "icebreaker", bit, "--dry-run")
    assert status == 0 and out.split() == [str(tmp_path / "bin_iceprog_true" / "iceprog"), bit]
    status, out, _ = _run(capsys, "fpga", "program", "--board", "icebreaker", bit)
    assert status == 0 and out.split()[-1] == bit


def test_program_reports_a_failing_tool(capsys, bitstreams, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(_tool_dir(tmp_path, "openFPGALoader", "false")))
    status, out, err = _run(capsys, "fpga", "program", "--board", "ulx3s", str(bitstreams["ulx3s"]))
    assert status == 1
    assert out.split()[1:] == ["-b", "ulx3s", str(bitstreams["ulx3s"])]
    assert "exited with status 1" in err


@pytest.mark.synth
def test_build_too_large_for_icebreaker_says_does_not_fit(capsys, tmp_path):
    # The top with a 4x4 int8 array of LUT multipliers needs about 7000 of the UP5K's 5280 logic cells.
    status, _, err = _run(
        capsys, "fpga", "build", "--board", "icebreaker", "--rows", "4", "--cols", "4", "--out", str(tmp_path)
    )
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "does not fit" in lines[0] and "ICESTORM_LC" in lines[0] and "/5280" in lines[0]
    assert not (tmp_path / "top.bin").exists()


def test_fpga_help_lists_both_boards(capsys):
    with pytest.raises(SystemExit) as done:
        main(["fpga", "build", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "icebreaker" in out and "ulx3s" in out and "--baud" in out and "--rows" in out


@pytest.mark.synth
def test_build_writes_a_bitstream_and_prints_its_report(capsys, tmp_path):
    status, out, err = _run(
        capsys, "fpga", "build", "--board", "icebreaker", "--rows", "2", "--cols", "2", "--out", str(tmp_path)
    )
    assert status == 0, err
    bitstream = tmp_path / "top.bin"
    assert bitstream.stat().st_size > 50_000
    for text in ("LUT4", "BRAM", "Fmax", "12 MHz", "met", "ICESTORM_LC", "ICESTORM_RAM"):
        assert text in out
    manifest = json.loads((tmp_path / "bitstream.json").read_text())
    assert manifest["config"]["rows"] == 2 and manifest["baud"] == 115200 and manifest["board"] == "icebreaker"
    assert manifest["report"]["timing_met"] is True and manifest["bytes"] == bitstream.stat().st_size


class _ChainedMultiplies(wiring.Component):
    """Six 16-bit LUT multipliers in series between two registers: a path far longer than 83 ns."""

    uart_rx: In(1)
    uart_tx: Out(1)

    def elaborate(self, platform):
        m = Module()
        factors = Signal(7 * 16)
        m.d.sync += factors.eq(Cat(self.uart_rx, factors[:-1]))
        product = factors[:16]
        for i in range(1, 7):
            product = (product * factors[16 * i : 16 * (i + 1)])[:16]
        result = Signal(16)
        m.d.sync += [result.eq(product), self.uart_tx.eq(result.xor())]
        return m


@pytest.mark.synth
def test_missed_board_clock_is_one_line_and_exit_1(capsys, tmp_path):
    result = build_bitstream(_ChainedMultiplies(), "icebreaker", tmp_path)
    assert result.report.fmax_mhz < 12 and not result.timing_met
    assert result.bitstream.is_file()  # still written: the line says it will not run reliably
    status = print_result(result, Console(file=io.StringIO()))
    err = capsys.readouterr().err
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "timing missed on icebreaker" in lines[0]
    assert f"Fmax {result.report.fmax_mhz} MHz < 12 MHz" in lines[0] and "will not run reliably" in lines[0]
