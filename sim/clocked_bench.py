"""Clock, reset and the per-cycle drive/sample loop that every cocotb stream bench shares."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["ClockedBench"]


class ClockedBench:
    """Base of the cocotb benches: a 100 MHz clock on ``clk``, reset on ``rst``, one-cycle steps.

    A step lets every port (``StreamDriver``/``StreamMonitor``) set its signals after the
    rising edge, samples them all in the read-only phase (so each handshake is judged on
    the values the next edge will see), then waits for that edge. ``cycle`` counts steps.

    Parameters
    ----------
    dut : cocotb handle of the top (ports ``clk`` and ``rst``)
    """

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0

    async def reset(self, cycles: int = 2) -> None:
        """Start the clock and hold ``rst`` for ``cycles`` rising edges."""
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def step(self, ports) -> None:
        """Advance one clock cycle with ``ports`` driven and sampled."""
        for port in ports:
            port.drive()
        await ReadOnly()
        for port in ports:
            port.sample(self.cycle)
        await RisingEdge(self.dut.clk)
        self.cycle += 1
