"""Sparse DSP slice and reduction node on their own in the Amaranth simulator."""

from amaranth.sim import Simulator

from hwgen.emulation import int32
from hwgen.emulation.sparse_chain import SparseChainConfig, packed_group_sum, split_packed
from hwgen.pe.sparse_dsp import ReductionNode, SparseDspSlice


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_slice_multiplexer_picks_the_indexed_candidate_and_multiplies():
    cfg = SparseChainConfig(length=8, group_size=1, sparse_modes=((1, 8),))
    dut = SparseDspSlice(cfg)
    cand = [-128, 127, -1, 5, 0, 64, -77, 3]
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for j in range(9):
            for i, a in enumerate(cand):
                ctx.set(dut.cand[0][i], a)
            ctx.set(dut.index, j % 8)
            ctx.set(dut.weight, -128 + 30 * (j % 8))
            await ctx.tick()
            got.append(ctx.get(dut.product))

    _run(dut, bench)
    # Latency 2: after the tick that registers input j + 1, the product of input j is out.
    assert got[1:] == [cand[j] * (-128 + 30 * j) for j in range(8)]


def test_reduction_node_splits_worst_case_packed_sums_and_breaks_the_cascade():
    cfg = SparseChainConfig(length=8, group_size=8, sparse_modes=(), packed=True)
    dut = ReductionNode(cfg)
    cases = [(-128, -128, -128), (127, -128, -128), (-128, 127, -128), (127, 127, 127), (-3, 100, -128)]
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.casc_in[0], 1000)
        ctx.set(dut.casc_in[1], -1000)
        for brk in (0, 1):
            ctx.set(dut.brk, brk)
            for a1, a0, w in cases:
                wide = int(packed_group_sum(cfg, [a1] * 8, [a0] * 8, [w] * 8))
                ctx.set(dut.group, wide - (1 << (18 + 32)) if wide >> (18 + 31) else wide)
                await ctx.tick()
                got.append(tuple(int(int32.decode([ctx.get(dut.casc_out[t])])[0]) for t in (0, 1)))

    _run(dut, bench)
    for i, (brk, (a1, a0, w)) in enumerate((b, c) for b in (0, 1) for c in cases):
        base = (0, 0) if brk else (1000, -1000)
        assert got[i] == (base[0] + 8 * a0 * w, base[1] + 8 * a1 * w)
        lo, hi = split_packed(cfg, packed_group_sum(cfg, [a1] * 8, [a0] * 8, [w] * 8))
        assert (int(lo), int(hi)) == (8 * a0 * w, 8 * a1 * w)
