"""Integer MAC PEs with a saturating accumulator, in the Amaranth simulator, against ``IntFormat.fit``."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.emulation import IntFormat, accumulate, int8, int32
from hwgen.pe.mac import MacPE
from hwgen.pe.os_mac import OsMacPE

SAT32 = IntFormat("int32_sat", 32, overflow="saturate")
# 12 bits is narrower than an int8 x int8 product (16 bits): the comparator path of acc_add.
SAT12 = IntFormat("int12_sat", 12, overflow="saturate")
WRAP12 = IntFormat("int12", 12)
# As wide as the product: the carry-bit path, reached from 0 in a few steps.
SAT16 = IntFormat("int16_sat", 16, overflow="saturate")


def _psums(acc: IntFormat) -> list[int]:
    """Running sums near both ends of the range and in the middle."""
    lo, hi = acc.min_value, acc.max_value
    return [lo, lo + 1, lo + 100, -1, 0, 1, hi - 16383, hi - 100, hi - 1, hi]


def _ws_sums(acc: IntFormat, a: int, w: int, psums: list[int]) -> list[int]:
    """``psum_out`` of a ``MacPE`` holding weight ``w`` with activation ``a`` for each ``psum_in``."""
    dut = MacPE(int8, acc)
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.load, 1)
        ctx.set(dut.w_in, w)
        await ctx.tick()
        ctx.set(dut.load, 0)
        ctx.set(dut.a_in, a)
        await ctx.tick().repeat(2)  # operand and product registers
        for psum in psums:
            ctx.set(dut.psum_in, psum)
            await ctx.tick()
            got.append(ctx.get(dut.psum_out))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("acc", [SAT32, SAT12, WRAP12])
@pytest.mark.parametrize(("a", "w"), [(127, 127), (-128, 127), (-128, -128), (3, -5), (0, 9)])
def test_weight_stationary_pe_adds_with_the_accumulator_policy(acc, a, w):
    psums = [p for p in _psums(acc) if acc.min_value <= p <= acc.max_value]
    want = acc.fit(np.array(psums, dtype=np.int64) + a * w).tolist()
    assert _ws_sums(acc, a, w, psums) == want


def test_saturation_happens_both_ways_in_the_cases_above():
    # Guard against a vacuous test: the products above push some sums past both ends.
    for acc in (SAT32, SAT12):
        exact = np.array(_psums(acc)) + 127 * 127
        assert (exact > acc.max_value).any()
        assert (np.array(_psums(acc)) - 128 * 127 < acc.min_value).any()


def _os_result(acc: IntFormat, a: list[int], b: list[int]) -> int:
    """``result`` of an ``OsMacPE`` after one tile of steps ``a[k] * b[k]``."""
    dut = OsMacPE(int8, acc)
    out = []

    async def bench(ctx):
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            ctx.set(dut.a_in, x)
            ctx.set(dut.b_in, y)
            ctx.set(dut.valid_in, 1)
            ctx.set(dut.first_in, k == 0)
            ctx.set(dut.last_in, k == len(a) - 1)
            await ctx.tick()
        ctx.set(dut.valid_in, 0)
        await ctx.tick().repeat(2)
        out.append(ctx.get(dut.result))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out[0]


@pytest.mark.parametrize("acc", [SAT12, SAT16])
def test_output_stationary_pe_saturates_in_k_order(acc):
    # Up to the top, clamped there, back down: the order of additions decides the result.
    k_up = -(-acc.max_value // (127 * 127)) + 2
    a = [127] * k_up + [-128] * 3 + [5, -7]
    b = [127] * k_up + [127] * 3 + [-3, 2]
    want = int(accumulate(np.array(a) * np.array(b), acc))
    assert want != int(np.clip(np.dot(a, b), acc.min_value, acc.max_value))  # order matters here
    assert _os_result(acc, a, b) == want
    # And down to the bottom: all -128 x 127.
    down = [-128] * k_up
    assert _os_result(acc, down, [127] * k_up) == acc.min_value


def test_wrapping_pe_is_unchanged():
    assert _ws_sums(int32, 127, 127, [int32.max_value]) == [int32.fit(np.array([int32.max_value + 127 * 127]))[0]]
