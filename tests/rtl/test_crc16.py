"""The CRC-16/CCITT-FALSE unit in the Amaranth simulator equals ``isa.crc16`` byte for byte."""

import random

from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hwgen.emulation.isa import crc16
from hwgen.rtl.crc16 import Crc16, crc16_update


def run_crc(messages, idle_prob=0.0, seed=0):
    """Feed each message (cleared first, random idle cycles between bytes); return the CRC after each byte."""
    dut = Crc16()
    flow = random.Random(seed)
    seen = []

    async def bench(ctx):
        for message in messages:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            after = []
            for byte in message:
                while flow.random() < idle_prob:
                    ctx.set(dut.en, 0)
                    ctx.set(dut.data, flow.randrange(256))  # ignored while en is low
                    await ctx.tick()
                ctx.set(dut.en, 1)
                ctx.set(dut.data, byte)
                await ctx.tick()
                after.append(ctx.get(dut.crc))
            ctx.set(dut.en, 0)
            seen.append(after)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_check_value():
    assert run_crc([b"123456789"])[0][-1] == 0x29B1 == crc16(b"123456789")


def test_random_messages_match_the_model_after_every_byte():
    rng = random.Random(16)
    messages = [b"", bytes(range(256)), b"\xff" * 7, b"\x00" * 5, bytes([0xA5, 0x5A])]
    messages += [rng.randbytes(rng.randrange(1, 40)) for _ in range(40)]
    got = run_crc(messages, idle_prob=0.3, seed=3)
    for message, after in zip(messages, got, strict=True):
        assert after == [crc16(message[: i + 1]) for i in range(len(message))], message.hex()


def test_update_network_on_a_basis_and_random_pairs():
    # crc16_update is linear over GF(2) in (crc, byte): the 24 unit vectors pin down every XOR tap.
    crc_in, byte_in = Signal(16), Signal(8)
    m = Module()
    out = Signal(16)
    m.d.comb += out.eq(crc16_update(crc_in, byte_in))
    rng = random.Random(5)
    cases = [(1 << i, 0) for i in range(16)] + [(0, 1 << i) for i in range(8)]
    cases += [(rng.randrange(1 << 16), rng.randrange(256)) for _ in range(200)]
    got = []

    async def bench(ctx):
        for crc, byte in cases:
            ctx.set(crc_in, crc)
            ctx.set(byte_in, byte)
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == [crc16(bytes([byte]), crc) for crc, byte in cases]
