"""Run bench phases (``sim.beats.Phase``) on an Amaranth component in the Amaranth simulator."""

from __future__ import annotations

import random
from dataclasses import dataclass

from amaranth.sim import Simulator

from hwgen.sim.beats import Phase

__all__ = ["PhaseResult", "run_phases"]


@dataclass
class PhaseResult:
    """What one phase produced: output payloads, the cycle each was taken, and the first input's cycle."""

    outputs: list
    out_cycles: list
    first_in: int

    @property
    def cycles(self) -> int:
        """Cycles from the first accepted input beat to the last output beat, both included."""
        return self.out_cycles[-1] - self.first_in + 1


def run_phases(dut, phases: list[Phase], valid_prob=1.0, ready_prob=1.0, seed=0, timeout=100_000):
    """Drive every phase's sources into ``dut`` with random flow control; collect its sink.

    A phase starts after the previous one's outputs have all arrived.

    Returns
    -------
    list of PhaseResult
    """
    results = []
    flow = random.Random(seed)

    async def bench(ctx):
        cycle = 0
        for phase in phases:
            for port, value in phase.controls.items():
                ctx.set(getattr(dut, port), value)
            queues = [(getattr(dut, name), list(beats)) for name, beats in phase.sources.items()]
            sink = getattr(dut, phase.sink)
            offering = [False] * len(queues)
            res = PhaseResult([], [], -1)
            while len(res.outputs) < len(phase.expected):
                assert cycle < timeout, f"phase {phase.name!r}: {len(res.outputs)} outputs after {cycle} cycles"
                for i, (port, queue) in enumerate(queues):
                    if not offering[i] and queue and flow.random() < valid_prob:
                        offering[i] = True
                        ctx.set(port.payload.as_value(), queue[0])
                    ctx.set(port.valid, offering[i])
                accept = flow.random() < ready_prob
                ctx.set(sink.ready, accept)
                readies = [port.ready for port, _ in queues]
                # sample() returns the clock and reset edges first, then the requested values.
                values = (await ctx.tick().sample(*readies, sink.valid, sink.payload.as_value()))[2:]
                sampled, (o_valid, o_payload) = values[: len(readies)], values[-2:]
                for i, ready in enumerate(sampled):
                    if offering[i] and ready:
                        res.first_in = cycle if res.first_in < 0 else res.first_in
                        queues[i][1].pop(0)
                        offering[i] = False
                if accept and o_valid:
                    res.outputs.append(o_payload)
                    res.out_cycles.append(cycle)
                cycle += 1
            for port, _ in queues:
                ctx.set(port.valid, 0)
            results.append(res)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results
