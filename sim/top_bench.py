"""cocotb bench of the accelerator top: random command frames in, responses checked against AcceleratorModel."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import Timer

from hwgen.emulation import isa
from hwgen.emulation.isa import DeviceInfo, Opcode, Space
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job
from hwgen.sim.streams import StreamDriver, StreamMonitor

__all__ = [
    "SEQ_WRAP",
    "OnceReference",
    "TopBench",
    "TopReport",
    "UartPins",
    "driver_commands",
    "edge_commands",
    "random_commands",
    "split_frames",
]

#: Side-effect-free commands after which a driver's seq comes back to that of the WRITE/RUN before them.
SEQ_WRAP = (1 << isa.SEQ_BITS) - 1


# -- command sequences (pure Python, shared with the Amaranth tests) -------------------------------------------------
def random_commands(info: DeviceInfo, rng: random.Random, count: int, max_words: int = 8) -> list[tuple[int, bytes]]:
    """``count`` random ``(seq, payload)`` commands of every kind, replays included.

    Writes, runs (with and without ACCUMULATE), reads, ``STATUS``, ``PING``, the
    malformed commands of ``edge_commands`` and repeated ``seq`` values. Consecutive
    commands get consecutive ``seq`` values modulo 256, except a repeat, which resends
    the previous ``seq`` (the same frame, or another opcode with it).
    """
    out: list[tuple[int, bytes]] = [(0, isa.write(Space.W, 0, _words(info, Space.W, info.rows, rng)))]
    kinds = ["write"] * 6 + ["run"] * 5 + ["read"] * 4 + ["ping", "status", "bad", "bad", "repeat", "repeat"]
    while len(out) < count:
        kind = rng.choice(kinds)
        seq, last = (out[-1][0] + 1) & 0xFF, out[-1][1]
        if kind == "repeat":
            payload = last if rng.random() < 0.7 else rng.choice([isa.status(), isa.read(Space.O, 0, 1), last])
            out.append((out[-1][0], payload))
            continue
        out.append((seq, _command(kind, info, rng, max_words)))
    return out


def driver_commands(
    info: DeviceInfo, rng: random.Random, count: int, max_words: int = 8, wraps: int = 2
) -> list[tuple[int, bytes]]:
    """``count`` random commands numbered as the host driver numbers them, and ``wraps`` seq wraps.

    Each new command takes the next ``seq`` modulo 256; a retry (about one frame in
    ten) resends the previous frame unchanged. ``wraps`` times, a WRITE or RUN is
    followed by ``SEQ_WRAP`` side-effect-free commands (``READ``, ``PING``,
    ``STATUS``), so the next command has that WRITE/RUN's seq again; that command is
    a WRITE or an accumulating RUN, read back at once, so a device that took it for a
    retry is caught. :class:`OnceReference` says what every response must be.
    """
    out: list[tuple[int, bytes]] = [(0, isa.write(Space.W, 0, _words(info, Space.W, info.rows, rng)))]
    kinds = ["write"] * 6 + ["run"] * 5 + ["read"] * 4 + ["ping", "status", "bad"]
    for wrap in range(wraps + 1):
        if wrap:  # the command before is a WRITE/RUN
            out += _numbered(out, _quiet(rng) + _checked_effect(info, rng, max_words))
        for _ in range(count // (wraps + 1)):
            if rng.random() < 0.1:
                out.append(out[-1])
            else:
                out += _numbered(out, [_command(rng.choice(kinds), info, rng, max_words)])
        out += _numbered(out, [_command(rng.choice(["write", "run"]), info, rng, max_words)])
    return out


def _numbered(out: list[tuple[int, bytes]], payloads: list[bytes]) -> list[tuple[int, bytes]]:
    """``payloads`` with the seq values that follow the last of ``out``."""
    return [((out[-1][0] + 1 + i) % (1 << isa.SEQ_BITS), payload) for i, payload in enumerate(payloads)]


def _quiet(rng: random.Random) -> list[bytes]:
    """``SEQ_WRAP`` short side-effect-free commands."""
    quiet = [isa.ping(), isa.status(), *(isa.read(space, 0, 1) for space in Space)]
    return [rng.choice(quiet) for _ in range(SEQ_WRAP)]


def _checked_effect(info: DeviceInfo, rng: random.Random, max_words: int) -> list[bytes]:
    """A WRITE of fresh words or an accumulating RUN, then a READ of the words it changed."""
    if rng.random() < 0.5:
        space = rng.choice(list(Space))
        n = rng.randint(1, min(info.depth(space), max_words, (info.max_payload - 6) // info.word_bytes(space)))
        addr = rng.randint(0, info.depth(space) - n)
        return [isa.write(space, addr, _words(info, space, n, rng)), isa.read(space, addr, n)]
    m = rng.randint(1, min(info.a_depth, info.o_depth, max_words))
    o = rng.randint(0, info.o_depth - m)
    run = isa.run(rng.randint(0, info.w_depth - info.rows), rng.randint(0, info.a_depth - m), o, m, accumulate=True)
    return [run, isa.read(Space.O, o, m)]


class OnceReference:
    """What each response to a driver-like command sequence must be if every command takes effect once.

    Independent of the device's duplicate rule: a frame equal to the one before it
    (same ``seq`` and payload) is a retry, and a retried ``WRITE``/``RUN`` is answered
    with its first execution's result; every other frame executes on a plain
    :class:`~hwgen.emulation.accelerator_model.AcceleratorModel`.

    Parameters
    ----------
    model : AcceleratorModel
        A fresh model of the device; only its ``execute`` is used.
    """

    def __init__(self, model):
        self.model = model
        self._previous: tuple[int, bytes] | None = None
        self._result: tuple[int, bytes] = (0, b"")

    def mismatch(self, seq: int, payload: bytes, response: bytes) -> str | None:
        """Why ``response`` (a whole frame) is not what the command must get, or None if it is.

        ``STATUS`` is compared by its run counters only: the device's frame count
        includes the retries.
        """
        retry = (seq, payload) == self._previous
        self._previous = (seq, payload)
        if not (retry and payload[:1] in (bytes([Opcode.WRITE]), bytes([Opcode.RUN]))):
            self._result = self.model.execute(payload)
        want = (int(self._result[0]), self._result[1])
        _, status, body = isa.decode_response(response)
        if payload[:1] == bytes([Opcode.STATUS]):
            body, want = body[:8], (want[0], want[1][:8])
        if (status, body) != want:
            return f"seq {seq} {payload[:12].hex()}: got ({status}, {body.hex()}) want ({want[0]}, {want[1].hex()})"
        return None


def edge_commands(info: DeviceInfo) -> list[bytes]:
    """One payload per way a command can be malformed (BAD_OPCODE or BAD_ARGS), and the allowed boundary cases."""
    wb = info.word_bytes(Space.W)
    return [
        isa.read(Space.A, 0, 0),
        isa.read(Space.W, info.w_depth, 0),
        isa.read(Space.O, info.o_depth - 1, 1),
        isa.write(Space.W, info.w_depth, np.zeros((0, wb), np.uint8)),
        isa.run(info.w_depth - info.rows, 0, 0, min(info.a_depth, info.o_depth)),
        b"",
        bytes([0]),
        bytes([6]),
        bytes([0xFF, 1, 2]),
        isa.ping() + b"\0",
        isa.status() + b"\0",
        struct.pack("<BBHH", Opcode.WRITE, 3, 0, 0),
        isa.write(Space.W, 0, np.zeros((1, wb), np.uint8))[:-1],
        isa.write(Space.W, 0, np.zeros((1, wb), np.uint8)) + b"\0",
        isa.write(Space.W, info.w_depth, np.zeros((1, wb), np.uint8)),
        bytes([Opcode.WRITE, 0, 0, 0, 0]),
        isa.read(Space.O, info.o_depth - 1, 2),
        isa.read(Space.A, 0, info.a_depth + 1),
        isa.read(Space.W, 0, 1) + b"\0",
        isa.read(Space.W, 0, 1)[:-1],
        struct.pack("<BBHH", Opcode.READ, 3, 0, 1),
        isa.run(0, 0, 0, 0),
        isa.run(info.w_depth - info.rows + 1, 0, 0, 1),
        isa.run(0, info.a_depth, 0, 1),
        isa.run(0, 0, info.o_depth - 1, 2),
        isa.run(0, 0, 0, 1)[:-1],
        isa.run(0, 0, 0, 1) + b"\0",
        isa.run(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF),
    ]


def _command(kind: str, info: DeviceInfo, rng: random.Random, max_words: int) -> bytes:
    if kind == "ping":
        return isa.ping()
    if kind == "status":
        return isa.status()
    if kind == "bad":
        return rng.choice(edge_commands(info)[5:])  # skip the long boundary RUN
    space = rng.choice(list(Space))
    depth = info.depth(space)
    if kind == "write":
        most = min(depth, max_words, (info.max_payload - 6) // info.word_bytes(space))
        n = rng.randint(0, most) if rng.random() < 0.1 else rng.randint(1, most)
        return isa.write(space, rng.randint(0, depth - n), _words(info, space, n, rng))
    if kind == "read":
        n = rng.randint(1, min(depth, max_words))
        return isa.read(space, rng.randint(0, depth - n), n)
    m = rng.randint(1, min(info.a_depth, info.o_depth, 2 * max_words))
    w = rng.randint(0, info.w_depth - info.rows)
    return isa.run(w, rng.randint(0, info.a_depth - m), rng.randint(0, info.o_depth - m), m, rng.random() < 0.5)


def _words(info: DeviceInfo, space: Space, n: int, rng: random.Random) -> np.ndarray:
    return np.frombuffer(rng.randbytes(n * info.word_bytes(space)), np.uint8).reshape(n, info.word_bytes(space))


def split_frames(data: bytes) -> list[bytes]:
    """Cut a byte string of back-to-back response frames into frames (by their length fields)."""
    frames, i = [], 0
    while i + isa.RSP_HEADER <= len(data):
        end = i + _frame_size(data, i)
        frames.append(bytes(data[i:end]))
        i = end
    return frames


# -- cocotb side ----------------------------------------------------------------------------------------------------
@dataclass
class TopReport:
    """What one bench run found."""

    commands: int = 0
    runs: int = 0
    run_cycles: list[list[int]] = field(default_factory=list)  # [m, cycles] of every OK RUN response
    mismatches: list[str] = field(default_factory=list)
    once_mismatches: list[str] = field(default_factory=list)  # against OnceReference (driver-like sequences)
    bench_cycles: int = 0


class TopBench(ClockedBench):
    """Sends command frames into the top's stream link (``i_rx``) and collects response frames (``o_tx``).

    Parameters
    ----------
    dut : cocotb handle of a top built with ``link="stream"``
    valid_prob, ready_prob : float
        Chance per cycle that the host offers the next byte / accepts a response byte.
    seed : int
    """

    def __init__(self, dut, valid_prob: float = 1.0, ready_prob: float = 1.0, seed: int = 0):
        super().__init__(dut)
        flow = random.Random(seed)
        self.rx = StreamDriver(dut, "i_rx", valid_prob, flow)
        self.tx = StreamMonitor(dut, "o_tx", ready_prob, flow)
        self._taken = 0

    async def send_frame(self, frame: bytes) -> None:
        """Queue ``frame``'s bytes on ``i_rx`` and step until the link has taken them all."""
        self.rx.send(frame)
        while not self.rx.idle or self.rx.offering:
            await self.step([self.rx, self.tx])

    async def receive_frame(self, timeout: int = 200_000) -> bytes:
        """Step until one whole response frame has come out of ``o_tx``; return its bytes.

        Raises
        ------
        TimeoutError
            If no complete frame arrives within ``timeout`` cycles.
        """
        limit = self.cycle + timeout
        while True:
            got = self.tx.beats[self._taken :]
            if len(got) >= isa.RSP_HEADER:
                size = _frame_size(bytes(got))
                if len(got) >= size:
                    self._taken += size
                    return bytes(got[:size])
            if self.cycle > limit:
                raise TimeoutError(f"no response frame within {timeout} cycles ({len(got)} bytes so far)")
            await self.step([self.rx, self.tx])

    async def transact(self, seq: int, payload: bytes) -> bytes:
        """Send one command frame and return its response frame."""
        await self.send_frame(isa.encode_command(seq, payload))
        return await self.receive_frame()


class UartPins:
    """Host side of the top's UART pins (8N1, LSB first) at ``divisor`` clock cycles per bit.

    Parameters
    ----------
    dut : cocotb handle with ``uart_rx`` (into the top) and ``uart_tx`` (out of it)
    divisor : int
        ``round(clk_freq / baud)``.
    clock_period_ns : float
        Period of the bench's clock (``ClockedBench`` uses 10 ns).
    """

    def __init__(self, dut, divisor: int, clock_period_ns: float = 10):
        self.dut, self.bit_ns = dut, divisor * clock_period_ns
        dut.uart_rx.value = 1

    async def send_bytes(self, data: bytes) -> None:
        """Drive ``data`` onto ``uart_rx`` bit by bit."""
        for byte in data:
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                self.dut.uart_rx.value = bit
                await Timer(self.bit_ns, unit="ns")

    async def receive_byte(self, timeout_ns: float) -> int:
        """Wait for a start bit on ``uart_tx`` and sample the byte mid-bit.

        Raises
        ------
        TimeoutError
            If no start bit comes within ``timeout_ns``.
        """
        waited = 0.0
        while int(self.dut.uart_tx.value) == 1:
            if waited > timeout_ns:
                raise TimeoutError(f"no UART start bit within {timeout_ns} ns")
            await Timer(self.bit_ns / 8, unit="ns")
            waited += self.bit_ns / 8
        await Timer(self.bit_ns * 1.5, unit="ns")
        value = 0
        for i in range(8):
            value |= int(self.dut.uart_tx.value) << i
            await Timer(self.bit_ns, unit="ns")
        return value

    async def receive_frame(self, timeout_ns: float) -> bytes:
        """Receive one whole response frame."""
        data = bytearray()
        while len(data) < isa.RSP_HEADER or len(data) < _frame_size(data):
            data.append(await self.receive_byte(timeout_ns))
        return bytes(data)

    async def transact(self, seq: int, payload: bytes, timeout_bytes: int = 400) -> bytes:
        """Send one command frame through ``uart_rx`` and return the response frame from ``uart_tx``."""
        await self.send_bytes(isa.encode_command(seq, payload))
        return await self.receive_frame(timeout_bytes * 10 * self.bit_ns)


def _frame_size(data, start: int = 0) -> int:
    """Bytes of the response frame at ``data[start:]``, from its header's length field."""
    return isa.RSP_HEADER + struct.unpack_from("<H", data, start + 3)[0] + isa.CRC_BYTES


@cocotb.test()
async def top_regression(dut):
    """Random command sequence through the top's link, every response compared with the golden model.

    The job names the link: ``"stream"`` (``TopBench`` with the job's flow-control
    probabilities) or ``"uart"`` (``UartPins`` at the job's ``divisor``).
    """
    from hwgen.emulation.units.systolic_config import ArrayConfig
    from hwgen.emulation.units.top_config import device_info, golden_model

    job = load_job()
    cfg = ArrayConfig.from_dict(job["config"])
    info = device_info(cfg, **job["memories"])
    model = golden_model(cfg, info)
    if job.get("link", "stream") == "uart":
        transport = UartPins(dut, job["divisor"])
        bench = ClockedBench(dut)
    else:
        transport = bench = TopBench(dut, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    make = driver_commands if job.get("sequence") == "driver" else random_commands
    commands = make(info, random.Random(job["seed"]), job["commands"], job.get("max_words", 8))
    # Only a driver-like sequence has a once-only meaning: there a repeated frame is a retry.
    once = OnceReference(golden_model(cfg, info)) if make is driver_commands else None
    if job.get("edge_commands", True):
        commands += [(200 + i, p) for i, p in enumerate(edge_commands(info))]
    commands.append((7, isa.status()))
    report = TopReport()
    for seq, payload in commands:
        got = await transport.transact(seq, payload)
        want = isa.encode_response(seq, *model.handle(seq, payload))
        report.commands += 1
        if got != want:
            report.mismatches.append(f"cmd {report.commands} {payload[:12].hex()}: got {got.hex()} want {want.hex()}")
        lost = once.mismatch(seq, payload, got) if once else None
        if lost:
            report.once_mismatches.append(f"cmd {report.commands} {lost}")
        if payload[:1] == bytes([Opcode.RUN]) and len(payload) == 10 and got[2] == 0 and len(got) == 11:
            report.runs += 1
            report.run_cycles.append([struct.unpack_from("<H", payload, 7)[0], struct.unpack_from("<I", got, 5)[0]])
    report.bench_cycles = bench.cycle
    Path(job["report"]).write_text(json.dumps(asdict(report), indent=1))
    assert not report.mismatches, f"{len(report.mismatches)} mismatches; first: {report.mismatches[0]}"
    assert not report.once_mismatches, f"a command lost or repeated; first: {report.once_mismatches[0]}"
