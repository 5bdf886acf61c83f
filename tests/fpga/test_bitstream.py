"""Board bitstreams of the accelerator top for the iCEBreaker and the ULX3S (YoWASP Yosys, nextpnr, packers)."""

import hashlib
import json
import subprocess
import sys

import pytest
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.fpga.bitstream import STAGES, build_accelerator_bitstream, build_bitstream
from hwgen.fpga.board_top import BoardTop
from hwgen.fpga.boards import BOARDS, get_board
from hwgen.fpga.report import SynthesisError

#: The smallest array: one bitstream per board keeps the suite's synthesis time low.
SMALL = ArrayConfig(rows=2, cols=2)
#: UART pins of the FTDI bridge on each board (package balls/pins), from the boards' schematics.
UART_PINS = {"icebreaker": ("6", "9"), "ulx3s": ("M1", "L4")}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """One accelerator-top bitstream per board, built on first use and shared by the tests."""
    cache = {}

    def get(board):
        if board not in cache:
            stages = []
            work = tmp_path_factory.mktemp(board)
            result = build_accelerator_bitstream(SMALL, board, work, progress=lambda s, d: stages.append(s))
            cache[board] = (result, stages)
        return cache[board]

    return get


class _Counters(wiring.Component):
    """UART ports around ``n`` 16-bit counters with distinct steps (nothing to merge): about 16n iCE40 cells."""

    uart_rx: In(1)
    uart_tx: Out(1)

    def __init__(self, n):
        self.n = n
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        counters = [Signal(16, name=f"count{i}") for i in range(self.n)]
        with m.If(self.uart_rx):
            m.d.sync += [c.eq(c + 2 * i + 1) for i, c in enumerate(counters)]
        m.d.sync += self.uart_tx.eq(Cat(*(c[-1] for c in counters), self.uart_rx).xor())
        return m


def _yowasp(board, tool, *argv, cwd):
    """Run the YoWASP iCE40/ECP5 utility ``tool`` (``"unpack"`` or ``"pack"``) in ``cwd``."""
    family = "ice40" if board == "icebreaker" else "ecp5"
    module, entry = f"yowasp_nextpnr_{family}", f"run_{family[:3]}{tool}"
    code = f"import sys, {module}; sys.exit({module}.{entry}(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, check=True, capture_output=True)


@pytest.mark.synth
@pytest.mark.parametrize("board", list(BOARDS))
def test_bitstream_decodes_to_the_routed_design(builds, board):
    result, stages = builds(board)
    assert stages == list(STAGES)
    assert result.bitstream.suffix == BOARDS[board].bitstream_suffix
    assert result.bitstream.stat().st_size > 50_000
    # The packer's output decodes to the configuration nextpnr routed.
    work = result.work_dir
    if board == "icebreaker":
        _yowasp(board, "unpack", result.bitstream.name, "decoded.asc", cwd=work)
        routed, decoded = (work / "top.asc").read_text(), (work / "decoded.asc").read_text()
        tiles = [block for block in routed.split("\n.") if block.split()[0].endswith("_tile")]
        assert len(tiles) > 100 and all(tile in decoded for tile in tiles)
    else:
        # ECP5 text configs are ambiguous (several spellings of the same bits), so both are
        # packed again, uncompressed, and compared bit for bit.
        _yowasp(board, "unpack", result.bitstream.name, "decoded.config", cwd=work)
        _yowasp(board, "pack", "--input", "decoded.config", "--bit", "decoded.bit", cwd=work)
        _yowasp(board, "pack", "--input", "top.config", "--bit", "routed.bit", cwd=work)
        assert (work / "decoded.bit").read_bytes() == (work / "routed.bit").read_bytes()


@pytest.mark.synth
@pytest.mark.parametrize("board", list(BOARDS))
def test_reports_parse_and_meet_the_board_clock(builds, board):
    result, _ = builds(board)
    r, b = result.report, BOARDS[board]
    assert (r.family, r.device, r.io_strategy) == (b.family, b.device, "board")
    # A UART link, a command processor and a 2x2 int8 array: hundreds of LUTs and flip-flops.
    assert r.luts > 200 and r.ffs > 100
    assert r.bram >= 1  # frame buffer and scratchpads map to block RAM
    assert r.clock_mhz_target == b.clk_hz / 1e6
    assert r.fmax_mhz is not None and r.fmax_mhz > r.clock_mhz_target and r.timing_met
    logic = "ICESTORM_LC" if b.family == "ice40" else "TRELLIS_COMB"
    assert 0 < r.utilisation[logic]["used"] <= r.utilisation[logic]["available"]
    manifest = json.loads((result.work_dir / "bitstream.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(result.bitstream.read_bytes()).hexdigest()
    assert manifest["report"]["fmax_mhz"] == r.fmax_mhz and manifest["board"] == board


@pytest.mark.synth
@pytest.mark.parametrize("board", list(BOARDS))
def test_uart_goes_to_the_ftdi_pins(builds, board):
    result, _ = builds(board)
    rx, tx = UART_PINS[board]
    if board == "icebreaker":
        pins = (result.work_dir / "top.pcf").read_text()
        assert f"set_io uart_0__rx__io {rx}\n" in pins and f"set_io uart_0__tx__io {tx}\n" in pins
    else:
        pins = (result.work_dir / "top.lpf").read_text()
        assert f'"uart_0__rx__io" SITE "{rx}"' in pins and f'"uart_0__tx__io" SITE "{tx}"' in pins


@pytest.mark.synth
def test_design_too_large_for_ice40_names_the_overused_resource(tmp_path):
    with pytest.raises(SynthesisError) as info:
        build_bitstream(_Counters(400), "icebreaker", tmp_path)
    message = str(info.value)
    assert "does not fit" in message and "ICESTORM_LC" in message and "/5280" in message
    assert len(message.splitlines()) == 1


def test_bad_board_and_bad_design_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="icebreaker, ulx3s"):
        get_board("de10nano")
    with pytest.raises(ConfigError, match="board"):
        build_bitstream(object(), "arty", tmp_path)
    with pytest.raises(ValueError, match="uart_rx"):
        BoardTop(object())


@pytest.mark.parametrize("board", list(BOARDS))
def test_board_table_matches_the_amaranth_boards_platform(board):
    b = BOARDS[board]
    platform = b.make_platform()
    assert platform.default_clk_frequency == b.clk_hz
    parts = {"icebreaker": ("iCE40UP5K", "SG48"), "ulx3s": ("LFE5U-85F", "BG381")}
    assert (platform.device, platform.package) == parts[board]
    assert {sub.name for sub in platform.lookup("uart", 0).ios} >= {"rx", "tx"}
