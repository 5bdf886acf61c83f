"""Word-addressed scratchpad in block RAM: one synchronous read port and one byte-lane write port."""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["ADDR_BITS", "Scratchpad"]

#: Width of the address members: the ISA's addresses are u16.
ADDR_BITS = 16


class Scratchpad(wiring.Component):
    """A ``depth x width`` simple dual-port RAM (maps to block RAM), initialised to zero.

    The read and write ports work independently in the same cycle; a read of the
    address being written returns the old word (no write-through), which the command
    processor never relies on. Writes have one enable per byte lane, so a word can be
    filled a byte at a time without assembling it in registers.

    Parameters
    ----------
    width : int
        Bits per word, a multiple of 8.
    depth : int
        Words (1..65536); addresses are taken modulo the next power of two.

    Members
    -------
    rd_addr : In(16)
    rd_en : In(1)
        When low, ``rd_data`` keeps its value (lets a stalled stream hold its beat).
    rd_data : Out(width)
        The word at the ``rd_addr`` of the last cycle ``rd_en`` was high.
    wr_addr : In(16)
    wr_en : In(width // 8)
        One enable per byte lane (lane i is bits ``8i .. 8i+7``).
    wr_data : In(width)

    Latency
    -------
    Read: 1 cycle. Write: visible to reads issued in the following cycle.
    """

    def __init__(self, width: int, depth: int):
        if not isinstance(width, int) or width < 8 or width % 8:
            raise ValueError(f"scratchpad width={width!r} is not allowed; allowed: a positive multiple of 8")
        if not isinstance(depth, int) or not 1 <= depth <= 1 << ADDR_BITS:
            raise ValueError(f"scratchpad depth={depth!r} is not allowed; allowed: 1..{1 << ADDR_BITS}")
        self.width, self.depth = width, depth
        super().__init__(
            {
                "rd_addr": In(ADDR_BITS),
                "rd_en": In(1),
                "rd_data": Out(width),
                "wr_addr": In(ADDR_BITS),
                "wr_en": In(width // 8),
                "wr_data": In(width),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        rd, wr = mem.read_port(), mem.write_port(granularity=8)
        abits = max(1, (self.depth - 1).bit_length())
        m.d.comb += [
            rd.addr.eq(self.rd_addr[:abits]),
            rd.en.eq(self.rd_en),
            self.rd_data.eq(rd.data),
            wr.addr.eq(self.wr_addr[:abits]),
            wr.en.eq(self.wr_en),
            wr.data.eq(self.wr_data),
        ]
        return m
