"""The systolic array in the Amaranth simulator: bit-exact with the emulator, cycles equal to the formula."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.systolic import SystolicArray
from hwgen.dataflow.systolic_model import gemm_cycles, plan_gemm
from hwgen.sim.systolic_vectors import act_beats, check_outputs, random_operands, weight_beats


def run_amaranth(cfg, a, b, valid_prob=1.0, ready_prob=1.0, seed=0):
    """Drive one GEMM through the Amaranth model; return (output beats, cycles first-weight..last-output)."""
    plan = plan_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    dut = SystolicArray(cfg)
    sources = [(dut.i_weight, list(weight_beats(plan, b))), (dut.i_act, list(act_beats(plan, a)))]
    want = plan.m * len(plan.tiles)
    outs, stamps, first_weight = [], [], []
    flow = random.Random(seed)

    async def bench(ctx):
        offering = [False, False]
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
            _, _, w_ready, a_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i_weight.ready, dut.i_act.ready, dut.o_out.valid, dut.o_out.payload.as_value()
            )
            for i, ready in enumerate((w_ready, a_ready)):
                if offering[i] and ready:
                    if i == 0 and not first_weight:
                        first_weight.append(cycle)
                    sources[i][1].pop(0)
                    offering[i] = False
            if accept and o_valid:
                outs.append(o_payload)
                stamps.append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return plan, outs, stamps[-1] - first_weight[0] + 1


@pytest.mark.parametrize(
    ("rows", "cols", "shape"),
    [
        (1, 1, (3, 2, 2)),
        (3, 5, (7, 8, 11)),
        (4, 4, (1, 9, 4)),
        (8, 8, (5, 8, 8)),
    ],
)
def test_full_rate_bit_exact_and_cycles(rows, cols, shape):
    cfg = ArrayConfig(rows=rows, cols=cols)
    a, b = random_operands(cfg, *shape, np.random.default_rng(rows * 100 + cols))
    plan, outs, cycles = run_amaranth(cfg, a, b)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles == gemm_cycles(plan)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_backpressure_bit_exact(seed):
    cfg = ArrayConfig(rows=3, cols=4)
    a, b = random_operands(cfg, 6, 7, 9, np.random.default_rng(seed))
    plan, outs, cycles = run_amaranth(cfg, a, b, valid_prob=0.6, ready_prob=0.5, seed=seed)
    assert check_outputs(plan, a, b, outs) == []
    assert cycles > gemm_cycles(plan)  # stalls cost cycles; nothing is lost or duplicated


def test_checker_catches_a_flipped_bit():
    cfg = ArrayConfig(rows=2, cols=2)
    a, b = random_operands(cfg, 3, 2, 2, np.random.default_rng(5))
    plan, outs, _ = run_amaranth(cfg, a, b)
    outs[1] ^= 1 << 7
    assert len(check_outputs(plan, a, b, outs)) == 1
