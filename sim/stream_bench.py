"""Generic cocotb bench: drive stream beats phase by phase, compare every output beat, time the phases.

The host computes the phases (``sim.beats.Phase``) from the golden model and passes
them in the job file; the bench only moves bits, so the same checker serves every
stream-in/stream-out unit (bit-slice PE and arrays, adder-tree arrays).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cocotb

from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job
from hwgen.sim.streams import StreamDriver, StreamMonitor

__all__ = ["PhaseReport", "StreamBench"]


@dataclass
class PhaseReport:
    """Outcome of one phase in the simulator."""

    name: str
    outputs: int
    first_in: int
    out_cycles: list[int]
    mismatches: list[str] = field(default_factory=list)
    #: The output payloads as received (what a mapped layer's result is decoded from).
    beats: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches


class StreamBench(ClockedBench):
    """Drivers for the phase's sources, a monitor on its sink, and a whole-beat checker.

    Parameters
    ----------
    dut : cocotb handle of the generated top
    valid_prob, ready_prob : float
        Source idleness and sink back-pressure (1.0: full rate).
    seed : int
    """

    def __init__(self, dut, valid_prob: float, ready_prob: float, seed: int):
        super().__init__(dut)
        self.flow = random.Random(seed)
        self.valid_prob, self.ready_prob = valid_prob, ready_prob

    async def run_phase(self, phase: dict) -> PhaseReport:
        """Send the phase's beats, collect ``len(expected)`` outputs, compare them bit for bit."""
        for port, value in phase["controls"].items():
            getattr(self.dut, port).value = value
        valid_prob = phase.get("valid_prob") or self.valid_prob
        ready_prob = phase.get("ready_prob") or self.ready_prob
        drivers = []
        for name, beats in phase["sources"].items():
            driver = StreamDriver(self.dut, name, valid_prob, self.flow)
            driver.send(beats)
            drivers.append(driver)
        monitor = StreamMonitor(self.dut, phase["sink"], ready_prob, self.flow)
        expected = phase["expected"]
        limit = self.cycle + 20 * (sum(len(b) for b in phase["sources"].values()) * 16 + len(expected)) + 1000
        first = self.cycle
        while len(monitor.beats) < len(expected):
            if self.cycle > limit:
                break
            await self.step((*drivers, monitor))
        for driver in drivers:
            driver.valid.value = 0
        monitor.ready.value = 0
        firsts = [d.taken_cycles[0] for d in drivers if d.taken_cycles]
        report = PhaseReport(phase["name"], len(monitor.beats), min(firsts, default=first) - first, [])
        report.out_cycles = [c - first for c in monitor.cycles]
        report.mismatches = _compare(monitor.beats, expected)
        report.beats = [int(b) for b in monitor.beats]
        return report


def _compare(got: list[int], want: list[int]) -> list[str]:
    problems = [] if len(got) == len(want) else [f"got {len(got)} output beats, want {len(want)}"]
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            problems.append(f"beat {i}: got {g:#x}, want {w:#x}")
            if len(problems) >= 20:
                break
    return problems


@cocotb.test()
async def stream_regression(dut):
    """Run the phases of the job file and write a JSON report beside it."""
    job = load_job()
    bench = StreamBench(dut, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    reports = [await bench.run_phase(phase) for phase in job["phases"]]
    Path(job["report"]).write_text(json.dumps([asdict(r) for r in reports]))
    failed = [r for r in reports if not r.passed]
    assert not failed, f"{len(failed)} phase(s) failed: {failed[0].name}: {failed[0].mismatches[:3]}"
