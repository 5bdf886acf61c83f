"""cocotb side of the batch harness: clock, reset, wait for ``done``, report the cycle count."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from hwgen.sim.cocotb_runner import load_job

__all__ = ["batch"]


@cocotb.test()
async def batch(dut):
    """Run the harness until every expected output beat has arrived (or ``max_cycles`` passed)."""
    job = load_job()
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    start = time.perf_counter()
    await First(RisingEdge(dut.done), Timer(10 * job["max_cycles"], unit="ns"))
    finished = bool(int(dut.done.value))
    await ClockCycles(dut.clk, 2)  # let $writememh run
    report = {"finished": finished, "cycles": int(dut.cycles.value), "sim_seconds": time.perf_counter() - start}
    Path(job["report"]).write_text(json.dumps(report))
    assert finished, f"harness not done after {job['max_cycles']} cycles"
