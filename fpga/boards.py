"""Boards a bitstream can be built for: their amaranth-boards platform, FPGA, clock and programmers."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from hwgen.emulation.errors import ConfigError
from hwgen.fpga.devices import Target, resolve_target

__all__ = ["BOARDS", "Board", "Programmer", "get_board"]


@dataclass(frozen=True)
class Programmer:
    """One way to load a bitstream into a board's FPGA.

    Attributes
    ----------
    tool : str
        Executable looked up on PATH.
    args : tuple of str
        Arguments before the bitstream file.
    install : str
        How to install the tool on Debian/Ubuntu.
    """

    tool: str
    args: tuple[str, ...]
    install: str

    def command(self, bitstream: str) -> list[str]:
        """The full command line that loads ``bitstream``."""
        return [self.tool, *self.args, bitstream]


@dataclass(frozen=True)
class Board:
    """A development board from amaranth-boards.

    Attributes
    ----------
    name : str
        The ``--board`` value.
    title : str
        Human-readable name with the FPGA.
    platform : str
        ``"module:Class"`` of the amaranth-boards platform.
    family, device, package : str
        FPGA as Yosys and nextpnr name it (``--up5k --package sg48``).
    speed : str or None
        ECP5 speed grade passed to nextpnr (``--speed``).
    clk_hz : int
        Frequency of the board oscillator that clocks the design (the platform's ``default_clk``).
    bitstream_suffix : str
        ``".bin"`` (icepack) or ``".bit"`` (ecppack).
    programmers : tuple of Programmer
        In order of preference.
    """

    name: str
    title: str
    platform: str
    family: str
    device: str
    package: str
    speed: str | None
    clk_hz: int
    bitstream_suffix: str
    programmers: tuple[Programmer, ...]

    @property
    def target(self) -> Target:
        """The FPGA as `hwgen.fpga.devices` describes it."""
        return resolve_target(self.family, self.device, self.package)

    def make_platform(self):
        """A fresh instance of the amaranth-boards platform (a platform can prepare one design only)."""
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)()


_OPENFPGALOADER_INSTALL = "apt install openfpgaloader  (or build it from github.com/trabucayre/openFPGALoader)"

#: Supported boards by ``--board`` name.
BOARDS = {
    board.name: board
    for board in (
        Board(
            name="icebreaker",
            title="iCEBreaker (Lattice iCE40UP5K-SG48)",
            platform="amaranth_boards.icebreaker:ICEBreakerPlatform",
            family="ice40",
            device="up5k",
            package="sg48",
            speed=None,
            clk_hz=12_000_000,
            bitstream_suffix=".bin",
            programmers=(
                Programmer("openFPGALoader", ("-b", "ice40_generic"), _OPENFPGALOADER_INSTALL),
                Programmer("iceprog", (), "apt install fpga-icestorm"),
            ),
        ),
        Board(
            name="ulx3s",
            title="ULX3S 85F (Lattice LFE5U-85F-6BG381C)",
            platform="amaranth_boards.ulx3s:ULX3S_85F_Platform",
            family="ecp5",
            device="85k",
            package="CABGA381",
            speed="6",
            clk_hz=25_000_000,
            bitstream_suffix=".bit",
            programmers=(
                Programmer("openFPGALoader", ("-b", "ulx3s"), _OPENFPGALOADER_INSTALL),
                # The ULX3S's FT231X is a bit-banged JTAG that ecpprog (FT2232H MPSSE) cannot drive.
                Programmer("fujprog", (), "build it from github.com/kost/fujprog"),
            ),
        ),
    )
}


def get_board(name: str) -> Board:
    """The board called ``name``.

    Raises
    ------
    ConfigError
        If ``name`` is not a key of `BOARDS`; the message lists the boards.
    """
    if name not in BOARDS:
        raise ConfigError("board", name, ", ".join(BOARDS))
    return BOARDS[name]
