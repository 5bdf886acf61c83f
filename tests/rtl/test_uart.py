"""UartTx and UartRx in the Amaranth simulator: bit timing, loopback at divisors 4..16, ±3 % baud error, glitches."""

import math
import random

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hwgen.emulation.errors import ConfigError
from hwgen.rtl.uart import UartRx, UartTx, uart_divisor

CORNER_BYTES = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80, 0xA5, 0x5A]


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def line_levels(frames, bit_cycles: float, phase: float = 0.0, lead: int = 8, gap_bits=(0.0,), seed=0):
    """Per-cycle levels of a serial line carrying ``frames`` ((byte, stop_bit) pairs) at ``bit_cycles`` per bit.

    The sender's clock is unrelated to ours: bit k of a frame starting at time ``t`` covers
    ``[t + k * bit_cycles, t + (k + 1) * bit_cycles)`` and cycle ``c`` sees the level at time ``c + phase``.
    """
    rng = random.Random(seed)
    starts, t = [], float(lead)
    for _ in frames:
        starts.append(t)
        t += 10 * bit_cycles + rng.choice(gap_bits) * bit_cycles
    levels, frame = [], 0
    for c in range(math.ceil(t + 2 * bit_cycles)):
        time = c + phase
        while frame + 1 < len(frames) and time >= starts[frame + 1]:
            frame += 1
        k = math.floor((time - starts[frame]) / bit_cycles)
        byte, stop = frames[frame]
        bits = [0, *((byte >> i) & 1 for i in range(8)), stop]
        levels.append(bits[k] if 0 <= k < 10 else 1)
    return levels


def receive(divisor: int, levels):
    """Drive UartRx's line with ``levels``; return the bytes it delivers and how many framing errors it flags."""
    dut = UartRx(divisor)
    got, errors = [], []

    async def bench(ctx):
        for level in levels:
            ctx.set(dut.rx, level)
            await ctx.tick()
            if ctx.get(dut.o_data.valid):
                got.append(ctx.get(dut.o_data.payload))
            errors.append(ctx.get(dut.frame_error))

    _simulate(dut, bench)
    return got, sum(errors)


def transmit(divisor: int, data, gaps):
    """Offer ``data`` to UartTx, ``gaps[i]`` idle cycles after byte i-1 was taken.

    Returns the tx level of every cycle and the cycle each byte was accepted in.
    """
    dut = UartTx(divisor)
    trace, accepted = [], []

    async def bench(ctx):
        for byte, gap in zip(data, gaps, strict=True):
            for _ in range(gap):
                trace.append(ctx.get(dut.tx))
                await ctx.tick()
            ctx.set(dut.i_data.valid, 1)
            ctx.set(dut.i_data.payload, byte)
            while not ctx.get(dut.i_data.ready):
                trace.append(ctx.get(dut.tx))
                await ctx.tick()
            accepted.append(len(trace))
            trace.append(ctx.get(dut.tx))
            await ctx.tick()
            ctx.set(dut.i_data.valid, 0)
        for _ in range(12 * divisor):
            trace.append(ctx.get(dut.tx))
            await ctx.tick()

    _simulate(dut, bench)
    return trace, accepted


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_tx_waveform_bit_timing(divisor):
    data = [*CORNER_BYTES, 0x3C]
    gaps = [3, 0, 0, 0, 15 * divisor, 0, 1, 0, 0]  # one gap longer than a frame: the line idles
    trace, accepted = transmit(divisor, data, gaps)
    starts, i = [], 0
    while 0 in trace[i:]:
        start = trace.index(0, i)
        byte = data[len(starts)]
        bits = [0, *((byte >> k) & 1 for k in range(8)), 1]
        assert trace[start : start + 10 * divisor] == [b for b in bits for _ in range(divisor)], hex(byte)
        starts.append(start)
        i = start + 10 * divisor
    assert len(starts) == len(data)
    assert starts[0] == accepted[0] + 1
    for k in range(1, len(data)):
        # A waiting byte follows the stop bit with no idle cycle; after an idle line it starts the cycle after.
        assert starts[k] == (accepted[k] + 1 if gaps[k] > 10 * divisor else starts[k - 1] + 10 * divisor)
        assert accepted[k] == starts[k] - 1


@pytest.mark.parametrize("divisor", range(4, 17))
def test_loopback_every_divisor(divisor):
    rng = random.Random(divisor)
    data = CORNER_BYTES + [rng.randrange(256) for _ in range(4)]
    m = Module()
    m.submodules.tx = tx = UartTx(divisor)
    m.submodules.rx = rx = UartRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    got, cycles = [], 0

    async def bench(ctx):
        nonlocal cycles
        queue = list(data)
        while len(got) < len(data):
            assert cycles < 12 * divisor * (len(data) + 2), "loopback stalled"
            offering = bool(queue) and (len(queue) > 6 or rng.random() < 0.5)  # back to back, then with gaps
            ctx.set(tx.i_data.valid, offering)
            ctx.set(tx.i_data.payload, queue[0] if queue else 0)
            accepted = offering and ctx.get(tx.i_data.ready)
            await ctx.tick()
            cycles += 1
            if accepted:
                queue.pop(0)
            if ctx.get(rx.o_data.valid):
                got.append(ctx.get(rx.o_data.payload))
            assert not ctx.get(rx.frame_error)

    _simulate(m, bench)
    assert got == data


@pytest.mark.parametrize("divisor", [6, 10, 16, 104])
@pytest.mark.parametrize("error", [-0.03, 0.03])
def test_rx_tolerates_three_percent_baud_error(divisor, error):
    rng = random.Random(divisor)
    count = 3 if divisor > 16 else 12
    data = [rng.randrange(256) for _ in range(count)] + CORNER_BYTES[:count]
    for phase in (0.0, 0.5, 0.93):
        # Back-to-back frames are the worst case: no idle time to realign on the next start bit.
        levels = line_levels([(b, 1) for b in data], divisor * (1 + error), phase, gap_bits=(0.0, 0.0, 0.5), seed=7)
        got, errors = receive(divisor, levels)
        assert (got, errors) == (data, 0), phase


def test_rx_ignores_a_start_glitch_and_flags_a_framing_error():
    divisor = 8
    glitch = [1] * 10 + [0] * (divisor // 2 - 1) + [1] * (3 * divisor)
    good = line_levels([(0x5A, 1)], divisor)
    broken = line_levels([(0xC3, 0)], divisor, lead=0)[: 10 * divisor]
    # A low stop bit followed by a held-low line (a break): nothing until the line idles, then a clean byte.
    levels = glitch + good + broken + [0] * (4 * divisor) + line_levels([(0x3C, 1), (0xA5, 1)], divisor)
    got, errors = receive(divisor, levels)
    assert got == [0x5A, 0x3C, 0xA5]
    assert errors == 1


def test_divisor_checks():
    assert uart_divisor(12_000_000, 115_200) == 104
    assert uart_divisor(25_000_000, 115_200) == 217
    with pytest.raises(ConfigError, match=r"^baud=3500000 "):
        uart_divisor(12_000_000, 3_500_000)
    with pytest.raises(ConfigError, match=r"^clk_freq=0 "):
        uart_divisor(0, 9600)
    with pytest.raises(ConfigError, match=r"^divisor=3 "):
        UartRx(3)
    with pytest.raises(ConfigError, match=r"^divisor=2.5 "):
        UartTx(2.5)
