"""The sparse DSP chain in the Amaranth simulator: bit-exact with the golden model in every mode, exact cycles."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.dataflow.sparse_chain import SparseDspChain, act_layout, out_layout, weight_layout
from hwgen.emulation.sparse_chain import SparseChainConfig, WeightBeat
from hwgen.emulation.units.sparse_dsp_plan import gemv_cycles, latency, stream_cycles
from hwgen.sim.sparse_chain_vectors import KINDS, act_payload, check_outputs, make_case, out_codes, weight_payload


def run_amaranth(cfg, cases, valid_prob=1.0, ready_prob=1.0, seed=0):
    """Stream every case back to back; return (output payloads, output cycles, beat-accept cycles)."""
    dut = SparseDspChain(cfg)
    weights, acts = [], []
    for case in cases:
        w, a = case.payloads(cfg)
        weights += w
        acts += a
    want = sum(len(c.expected) for c in cases)
    outs, out_cycles, taken = [], [], []
    flow = random.Random(seed)
    limit = 50 * stream_cycles(cfg, len(weights)) + 100

    async def bench(ctx):
        offering = [False, False]
        queues = [weights, acts]
        ports = [dut.i_weight, dut.i_act]
        cycle = 0
        while len(outs) < want:
            assert cycle < limit, "chain stopped producing outputs"
            for i, port in enumerate(ports):
                if not offering[i] and queues[i] and flow.random() < valid_prob:
                    offering[i] = True
                    ctx.set(port.payload.as_value(), queues[i][0])
                ctx.set(port.valid, offering[i])
            accept = flow.random() < ready_prob
            ctx.set(dut.o_out.ready, accept)
            _, _, w_ready, a_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i_weight.ready, dut.i_act.ready, dut.o_out.valid, dut.o_out.payload.as_value()
            )
            for i, ready in enumerate((w_ready, a_ready)):
                if offering[i] and ready:
                    queues[i].pop(0)
                    offering[i] = False
                    if i == 0:
                        taken.append(cycle)
            if accept and o_valid:
                outs.append(o_payload)
                out_cycles.append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outs, out_cycles, taken


def _check_all(cfg, cases, outs):
    problems, start = [], 0
    for case in cases:
        problems += check_outputs(cfg, case, outs[start : start + len(case.expected)])
        start += len(case.expected)
    return problems


CONFIGS = [
    SparseChainConfig(length=8, group_size=1),
    SparseChainConfig(length=16, group_size=2, packed=True),
    SparseChainConfig(length=8, group_size=2, sparse_modes=((2, 4), (1, 4)), weight_bits=4, packed=True),
    SparseChainConfig(length=16, group_size=8, sparse_modes=((4, 8), (2, 4)), packed=True),  # int8 at the guard limit
    SparseChainConfig(length=16, group_size=4, sparse_modes=((4, 16), (2, 8)), weight_bits=4),
    # Run-time grouping: modes with s results per beat over a wider activation window.
    SparseChainConfig(length=16, group_size=4, window=64, sparse_modes=((1, 4, 1), (1, 8, 2), (4, 8, 4)), packed=True),
]
#: N results per beat: (n, m, n) modes with window = length * m // n**2 (2:4 -> 2, 1:4 and 1:8 -> 1, 4:8 -> 4).
N_RESULTS = SparseChainConfig(
    length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4))
)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.top_name)
def test_every_mode_back_to_back_is_bit_exact_at_the_formula_cycles(cfg):
    rng = np.random.default_rng(cfg.length + cfg.group_size)
    cases = [make_case(cfg, code, 3, 2 * cfg.length, rng, kind) for code in range(len(cfg.modes)) for kind in KINDS]
    outs, out_cycles, taken = run_amaranth(cfg, cases)
    assert _check_all(cfg, cases, outs) == []
    beats = sum(len(c.weight_beats) for c in cases)
    assert out_cycles[-1] - taken[0] + 1 == stream_cycles(cfg, beats)
    # Each GEMV on its own: its first beat to its last output.
    first, last = 0, 0
    for case in cases:
        rows, cols = case.weights.shape
        b, o = len(case.weight_beats), len(case.expected)
        assert out_cycles[last + o - 1] - taken[first] + 1 == gemv_cycles(cfg, rows, cols, case.mode)
        first, last = first + b, last + o


@pytest.mark.parametrize(
    ("seed", "cfg"), [(1, SparseChainConfig(length=16, group_size=2, packed=True)), (2, CONFIGS[-1]), (3, N_RESULTS)]
)
def test_random_backpressure_is_bit_exact(seed, cfg):
    rng = np.random.default_rng(seed)
    cases = [make_case(cfg, code, 5, 32, rng) for code in (3, 0, 1, 2)]
    outs, out_cycles, taken = run_amaranth(cfg, cases, valid_prob=0.6, ready_prob=0.5, seed=seed)
    assert _check_all(cfg, cases, outs) == []
    assert out_cycles[-1] - taken[0] + 1 > stream_cycles(cfg, sum(len(c.weight_beats) for c in cases))


def test_unknown_mode_codes_act_as_dense():
    cfg = SparseChainConfig(length=8, group_size=1, sparse_modes=((2, 4), (1, 4)))  # codes 0..2 of 2 bits
    value, acts = np.arange(1, 9), np.arange(10, 18)[None, :]
    beat = WeightBeat(3, value, np.zeros(8, int), True)
    outs = run_amaranth_raw(cfg, [weight_payload(cfg, beat)], [act_payload(cfg, acts)])
    assert len(outs) == 1
    assert out_codes(cfg, outs[0]).tolist() == [[int((value * acts[0]).sum()), 0, 0, 0]]


def run_amaranth_raw(cfg, weights, acts):
    """Send raw payloads back to back into an always-ready sink; return the output payloads."""
    dut = SparseDspChain(cfg)
    outs = []

    async def bench(ctx):
        ctx.set(dut.o_out.ready, 1)
        for w, a in zip(weights, acts, strict=True):
            ctx.set(dut.i_weight.payload.as_value(), w)
            ctx.set(dut.i_act.payload.as_value(), a)
            ctx.set(dut.i_weight.valid, 1)
            ctx.set(dut.i_act.valid, 1)
            await ctx.tick()
        ctx.set(dut.i_weight.valid, 0)
        ctx.set(dut.i_act.valid, 0)
        for _ in range(latency(cfg) + 2):
            _, _, valid, payload = await ctx.tick().sample(dut.o_out.valid, dut.o_out.payload.as_value())
            if valid:
                outs.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outs


def test_checker_catches_a_flipped_bit():
    cfg = SparseChainConfig(length=8, group_size=1)
    case = make_case(cfg, 1, 4, 16, np.random.default_rng(5))
    outs, _, _ = run_amaranth(cfg, [case])
    outs[1] ^= 1 << 40  # lane 1, bit 8
    assert len(check_outputs(cfg, case, outs)) == 1


@pytest.mark.parametrize("cfg", [*CONFIGS[:3], CONFIGS[-1], N_RESULTS], ids=lambda c: c.top_name)
def test_python_payload_packing_matches_the_amaranth_layouts(cfg):
    w, a, o = weight_layout(cfg), act_layout(cfg), out_layout(cfg)
    assert w.size == cfg.length * (cfg.weight_format.width + cfg.index_bits) + cfg.mode_bits + 1
    assert w["mode"].offset == cfg.length * (cfg.weight_format.width + cfg.index_bits)
    assert w["last"].offset == w["mode"].offset + cfg.mode_bits
    assert a.size == cfg.tokens * cfg.window * 8
    assert o.size == cfg.tokens * cfg.lanes * 32
    beat = WeightBeat(1, np.full(cfg.length, -1), np.full(cfg.length, 1), True)
    payload = weight_payload(cfg, beat)
    assert payload >> w["last"].offset == 1
    assert (payload >> w["mode"].offset) & ((1 << cfg.mode_bits) - 1) == 1
    assert payload & ((1 << cfg.weight_format.width) - 1) == (1 << cfg.weight_format.width) - 1


def test_n_results_per_beat_in_every_mode_switching_without_rebuilding():
    cfg = N_RESULTS
    rng = np.random.default_rng(11)
    # cols = span: one beat per row group, so every beat leaves as one output of N rows.
    cases = [make_case(cfg, code, 6, cfg.span(code), rng, kind) for code in (4, 0, 3, 1, 2) for kind in KINDS]
    cases += [make_case(cfg, code, 7, 2 * cfg.span(code) - cfg.nm(code)[1], rng) for code in range(5)]  # ragged
    outs, out_cycles, taken = run_amaranth(cfg, cases)
    assert _check_all(cfg, cases, outs) == []  # every lane, code by code, and the GEMV vs matmul_int
    first, last = 0, 0
    for case in cases:
        n = cfg.nm(case.mode)[0]
        rows, cols = case.weights.shape
        b, o = len(case.weight_beats), len(case.expected)
        assert cfg.segments(case.mode) == n and o == -(-rows // n)  # N row results per output beat
        assert b == o * -(-cols // cfg.span(case.mode))
        assert out_cycles[last + o - 1] - taken[first] + 1 == gemv_cycles(cfg, rows, cols, case.mode) == b + 11
        if cols == cfg.span(case.mode):  # one output per cycle once the pipeline is full
            assert np.diff(out_cycles[last : last + o]).tolist() == [1] * (o - 1)
        first, last = first + b, last + o
    # Lanes past the mode's N results stay 0.
    for case, start in zip(cases, np.cumsum([0] + [len(c.expected) for c in cases[:-1]]), strict=True):
        n = cfg.nm(case.mode)[0]
        for payload in outs[start : start + len(case.expected)]:
            assert not out_codes(cfg, payload)[:, n:].any()
