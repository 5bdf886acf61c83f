"""Enable-gated delay line (shift register) used for systolic skew and de-skew."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DelayLine"]


class DelayLine(wiring.Component):
    """Delays a value by ``depth`` enabled cycles.

    Parameters
    ----------
    shape : shape-like
        Shape of the value.
    depth : int
        Number of registers; 0 makes the line a wire.

    Members
    -------
    en : In(1)
        Shift the line by one stage.
    i : In(shape)
    o : Out(shape)

    Latency
    -------
    ``depth`` enabled cycles.
    """

    def __init__(self, shape, depth: int):
        if depth < 0:
            raise ValueError(f"DelayLine depth={depth} is not allowed; allowed: >= 0")
        self.depth = depth
        super().__init__({"en": In(1), "i": In(shape), "o": Out(shape)})

    def elaborate(self, platform):
        m = Module()
        prev = self.i
        for stage in range(self.depth):
            reg = Signal.like(self.i, name=f"stage{stage}")
            with m.If(self.en):
                m.d.sync += reg.eq(prev)
            prev = reg
        m.d.comb += self.o.eq(prev)
        return m
