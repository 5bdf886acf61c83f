"""Systolic arrays in the Amaranth simulator: bit-exact with the emulator, cycles equal to the formula."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.dataflow.hardware import unit_component
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm
from hwgen.sim.systolic_vectors import check_outputs, input_beats, random_operands

DATAFLOWS = ("ws", "is", "os")


def run_amaranth(cfg, a, b, valid_prob=1.0, ready_prob=1.0, seed=0):
    """Drive one GEMM through the Amaranth model; return (plan, output beats, cycles first-input..last-output)."""
    plan = plan_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    dut = unit_component(cfg)
    sources = [(getattr(dut, port), beats) for port, beats in input_beats(plan, a, b).items()]
    want = len(plan.output_beats(a, b))
    outs, stamps, first_in = [], [], []
    flow = random.Random(seed)

    async def bench(ctx):
        offering = [False] * len(sources)
        cycle = 0
        while len(outs) < want:
            assert cycle < 50 * gemm_cycles(plan) + 100, "array stopped producing outputs"
            for i, (port, queue) in enumerate(sources):
                if not offering[i] and queue and flow.random() < valid_prob:
                    offering[i] = True
                    ctx.set(port.payload.as_value(), queue[0])
                ctx.set(port.valid, offering[i])
            accept = flow.random() < ready_prob
            ctx.set(dut.o_out.ready, accept)
            # tick().sample() returns the clock and reset, then the values as they were at the edge.
            sampled = await ctx.tick().sample(
                *(port.ready for port, _ in sources), dut.o_out.valid, dut.o_out.payload.as_value()
            )
            readies, (o_valid, o_payload) = sampled[2:-2], sampled[-2:]
            for i, ((_, queue), ready) in enumerate(zip(sources, readies, strict=True)):
                if offering[i] and ready:
                    first_in.append(cycle)
                    queue.pop(0)
                    offering[i] = False
            if accept and o_valid:
                outs.append(o_payload)
                stamps.append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return plan, outs, stamps[-1] - min(first_in) + 1


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize(
    ("rows", "cols", "shape"),
    [
        (1, 1, (3, 2, 2)),
        (3, 5, (7, 8, 11)),
        (4, 4, (1, 9, 4)),
        (4, 3, (9, 20, 5)),
    ],
)
def test_full_rate_bit_exact_and_cycles(dataflow, rows, cols, shape):
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    a, b = random_operands(cfg, *shape, np.random.default_rng(rows * 100 + cols))
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_random_backpressure_bit_exact(dataflow):
    cfg = ArrayConfig(rows=3, cols=4, dataflow=dataflow)
    a, b = random_operands(cfg, 6, 7, 9, np.random.default_rng(3))
    plan, outs, cycles = run_amaranth(cfg, a, b, valid_prob=0.6, ready_prob=0.5, seed=3)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles > gemm_cycles(plan)  # stalls cost cycles; nothing is lost or duplicated


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_result_assembles_to_the_whole_gemm(dataflow):
    cfg = ArrayConfig(rows=2, cols=3, dataflow=dataflow)
    a, b = random_operands(cfg, 5, 7, 4, np.random.default_rng(9))
    plan = plan_gemm(cfg, 5, 7, 4)
    assert np.array_equal(plan.assemble(plan.tile_outputs(a, b)), cfg.acc_format.fit(a @ b))


def test_checker_catches_a_flipped_bit():
    cfg = ArrayConfig(rows=2, cols=2)
    a, b = random_operands(cfg, 3, 2, 2, np.random.default_rng(5))
    plan, outs, _ = run_amaranth(cfg, a, b)
    outs[1] ^= 1 << 7
    assert len(check_outputs(plan, a, b, outs)) == 1
