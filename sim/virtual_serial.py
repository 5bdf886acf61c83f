"""Virtual serial link to the simulated top: a bit-level UART in cocotb, bridged to the synchronous host driver."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, Timer
from cocotb.utils import get_sim_time

from hwgen.emulation import isa
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.formats import get_format
from hwgen.emulation.isa import DeviceInfo, Space, Status
from hwgen.emulation.ops import matmul_int
from hwgen.host.driver import CommandRejectedError, Device, DeviceError, device_formats
from hwgen.host.faults import Faults, FaultyTransport
from hwgen.sim.cocotb_runner import CocotbSession, load_job

__all__ = [
    "DriverTopRun",
    "ScenarioResult",
    "UartLine",
    "VirtualSerial",
    "build_uart_top",
    "gemm_workload",
    "layer_workload",
    "program_workload",
    "run_driver_top",
    "throughput_workload",
    "wrap_workload",
]

#: The cocotb test module of :func:`run_driver_top`.
BENCH_MODULE = "hwgen.sim.virtual_serial"


class UartLine:
    """cocotb side of the top's UART pins: an 8N1 transmitter on ``uart_rx`` and a receiver on ``uart_tx``.

    Bits are ``divisor`` clock periods long, exactly the top's divisor, so both
    ends agree to the picosecond. The receiver waits for a falling edge (no
    per-cycle Python while the line idles), samples the start bit in its middle
    (a glitch is ignored) and each data and stop bit one bit time apart; a low
    stop bit counts a framing error and loses the byte, as a real UART would.

    Parameters
    ----------
    dut : cocotb handle with ``uart_rx`` and ``uart_tx``
    divisor : int
        Clock cycles per bit.
    clock_period_ps : int
    """

    def __init__(self, dut, divisor: int, clock_period_ps: int):
        self.dut = dut
        self.bit_ps = divisor * clock_period_ps
        self.byte_time_s = 10 * self.bit_ps * 1e-12
        self.received = bytearray()
        self.framing_errors = 0
        self.bytes_sent = 0
        self._arrived = Event()
        dut.uart_rx.value = 1
        cocotb.start_soon(self._receive())

    async def send(self, data: bytes) -> None:
        """Shift ``data`` out on ``uart_rx``; returns when the last stop bit has ended."""
        for byte in data:
            for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
                self.dut.uart_rx.value = bit
                await Timer(self.bit_ps, unit="ps")
            self.bytes_sent += 1

    async def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Up to ``max_bytes`` received bytes, waiting at most ``timeout_s`` of simulated time."""
        # Rounded up: a positive timeout always lets time pass, so a caller's deadline loop ends.
        deadline = get_sim_time("ps") + max(0, math.ceil(timeout_s * 1e12))
        while len(self.received) < max_bytes:
            remaining = deadline - get_sim_time("ps")
            if remaining <= 0:
                break
            self._arrived.clear()
            await First(self._arrived.wait(), Timer(remaining, unit="ps"))
        out = bytes(self.received[:max_bytes])
        del self.received[:max_bytes]
        return out

    async def now(self) -> float:
        """Simulated time in seconds."""
        return get_sim_time("ps") * 1e-12

    async def sleep(self, seconds: float) -> None:
        """Let simulated time pass."""
        if seconds > 0:
            await Timer(max(1, round(seconds * 1e12)), unit="ps")

    async def _receive(self) -> None:
        tx = self.dut.uart_tx
        while True:
            await FallingEdge(tx)
            await Timer(self.bit_ps // 2, unit="ps")
            if int(tx.value):
                continue  # a glitch, not a start bit
            value = 0
            for i in range(8):
                await Timer(self.bit_ps, unit="ps")
                value |= int(tx.value) << i
            await Timer(self.bit_ps, unit="ps")
            if not int(tx.value):
                self.framing_errors += 1
                continue
            self.received.append(value)
            self._arrived.set()


class VirtualSerial:
    """The host-side :class:`~hwgen.host.transports.Transport` of a :class:`UartLine`.

    Call it only from a thread started with ``cocotb.task.bridge``: each method
    hands over to the simulator (``cocotb.task.resume``) and blocks until the
    simulated line has done its part, so every time is simulated time.
    """

    def __init__(self, line: UartLine):
        self.line = line
        self.byte_time_s = line.byte_time_s

    def write(self, data: bytes) -> None:
        """Send ``data``; returns once it is on the wire (like a flushed serial port)."""
        resume(self.line.send)(bytes(data))

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Up to ``max_bytes`` bytes within ``timeout_s`` simulated seconds."""
        return resume(self.line.read)(max_bytes, timeout_s)

    def now(self) -> float:
        """Simulated seconds."""
        return resume(self.line.now)()

    def sleep(self, seconds: float) -> None:
        """Let simulated time pass."""
        resume(self.line.sleep)(seconds)

    def close(self) -> None:
        """Nothing to release."""


# -- workloads (run by the host thread) ------------------------------------------------------------------------
def gemm_workload(dev: Device, seed: int, m: int = 6) -> dict:
    """Two K-tiles of an int8 GEMM (the second with ACCUMULATE), read back and checked bit for bit.

    Returns a dict with ``mismatches`` (empty when every word equals
    :func:`matmul_int` and the written data), the RUN cycles measured and expected,
    and the device's ``STATUS``.
    """
    info = dev.info()
    acc = get_format(f"int{8 * info.acc_bytes}")
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (2 * info.rows, info.cols))
    a = rng.integers(-128, 128, (2 * m, info.rows))
    dev.write(Space.W, 0, w)
    dev.write(Space.A, 0, a)
    cycles = [dev.run(0, 0, 1, m), dev.run(info.rows, m, 1, m, accumulate=True)]
    expected = acc.fit(matmul_int(a[:m], w[: info.rows], acc) + matmul_int(a[m:], w[info.rows :], acc))
    got = {"O": dev.read(Space.O, 1, m), "W": dev.read(Space.W, 0, 2 * info.rows), "A": dev.read(Space.A, 0, 2 * m)}
    mismatches = [
        f"{name}: got {g.tolist()} want {e.tolist()}"
        for name, g, e in (("O", got["O"], expected), ("W", got["W"], w), ("A", got["A"], a))
        if not np.array_equal(g, e)
    ]
    want_cycles = [run_cycles(info, m)] * 2
    if cycles != want_cycles:
        mismatches.append(f"RUN cycles {cycles}; run_cycles gives {want_cycles}")
    return {"mismatches": mismatches, "cycles": cycles, "expected_cycles": want_cycles, "status": dev.status()}


def throughput_workload(dev: Device, seed: int, words: int | None = None) -> dict:
    """WRITE ``words`` A words (default: all) in ``max_payload`` frames, READ them back; payload bytes and seconds."""
    info = dev.info()
    words = words or info.a_depth
    codes = 1 << (8 * info.value_bytes)
    data = np.random.default_rng(seed).integers(0, codes, (words, info.rows), dtype=np.uint64)
    clock = dev.transport
    start = clock.now()
    dev.write(Space.A, 0, data, codes=True)
    middle = clock.now()
    back = dev.read(Space.A, 0, words, codes=True)
    end = clock.now()
    ok = np.array_equal(back, data)
    nbytes = int(data.size * info.value_bytes)
    return {
        "mismatches": [] if ok else ["A read back differs from what was written"],
        "payload_bytes": nbytes,
        "write_s": middle - start,
        "read_s": end - middle,
    }


def program_workload(dev: Device, seed: int, count: int = 40) -> dict:
    """Random command payloads through :meth:`Device.execute`, each answer compared with the golden model's.

    The commands are writes, reads, runs with and without ACCUMULATE, pings and
    malformed ones (answered BAD_OPCODE/BAD_ARGS); the reference is an
    :class:`AcceleratorModel` given the same scratchpad contents first.
    """
    info = dev.info()
    value_format, acc_format = device_formats(info)
    model = AcceleratorModel(info, value_format, acc_format, lambda m: run_cycles(info, m))
    rng = np.random.default_rng(seed)
    for space in Space:  # a known start: the device may hold an earlier session's data
        words = rng.integers(0, 256, (info.depth(space), info.word_bytes(space)), dtype=np.uint8)
        per_frame = (info.max_payload - 6) // info.word_bytes(space)
        dev.execute(isa.write(space, i, words[i : i + per_frame]) for i in range(0, len(words), per_frame))
        model.execute(isa.write(space, 0, words))
    mismatches = []
    for i in range(count):
        payload = _random_payload(info, rng)
        try:
            got = (Status.OK, dev.execute([payload])[0])
        except CommandRejectedError as exc:
            got = (exc.status, b"")
        want = model.execute(payload)
        if got != (int(want[0]), want[1]):
            mismatches.append(f"command {i} {payload[:8].hex()}: got {got} want {want}")
    return {"mismatches": mismatches, "commands": count}


def _random_payload(info: DeviceInfo, rng: np.random.Generator) -> bytes:
    kind = rng.choice(["write", "write", "read", "read", "run", "run", "ping", "bad"])
    if kind == "ping":
        return isa.ping()
    if kind == "bad":
        return [bytes([0x7F]), isa.read(Space.O, info.o_depth, 1), isa.run(0, 0, 0, 0), isa.ping() + b"\0"][
            rng.integers(4)
        ]
    if kind == "run":
        m = int(rng.integers(1, min(info.a_depth, info.o_depth) + 1))
        w = int(rng.integers(0, info.w_depth - info.rows + 1))
        a, o = (int(rng.integers(0, depth - m + 1)) for depth in (info.a_depth, info.o_depth))
        return isa.run(w, a, o, m, accumulate=bool(rng.integers(2)))
    space = Space(int(rng.integers(3)))
    most = min(info.depth(space), max(1, (info.max_payload - 6) // info.word_bytes(space)))
    n = int(rng.integers(1, most + 1))
    addr = int(rng.integers(0, info.depth(space) - n + 1))
    if kind == "read":
        return isa.read(space, addr, n)
    return isa.write(space, addr, rng.integers(0, 256, (n, info.word_bytes(space)), dtype=np.uint8))


def wrap_workload(dev: Device, seed: int, quiet: int = 255) -> dict:
    """A WRITE, ``quiet`` READs, then a WRITE of other values to the same W word, read back.

    After 255 side-effect-free commands the second WRITE carries the first one's seq;
    it is a new command, not a retry, and must take effect.
    """
    info = dev.info()
    first, second = np.random.default_rng(seed).integers(-128, 128, (2, 1, info.cols))
    dev.write(Space.W, 0, first)
    for _ in range(quiet):
        dev.read(Space.W, 0, 1)
    dev.write(Space.W, 0, second)
    got = dev.read(Space.W, 0, 1)
    mismatches = [] if np.array_equal(got, second) else [f"W[0] after {quiet} READs: got {got.tolist()}"]
    return {"mismatches": mismatches, "commands": dev.stats.commands}


#: The transformer layer of :func:`layer_workload`: a slice of MiniLM's first query projection.
LAYER = {"layer": "layer0.attn.q", "sentence": "A cat sat.", "k": 32, "n": 4, "formats": "w=int8,a=int8,acc=int32"}


def layer_workload(dev: Device, seed: int, layer: dict | None = None) -> dict:
    """A MiniLM layer mapped by the host runtime, run through the driver, checked against the emulator.

    The runtime quantises the sentence's activations and the layer's weights
    (``capture_gemm_call``), the mapper turns the first ``k`` inputs by ``n`` outputs
    of that GEMM into a WRITE/RUN/READ program for this device, the driver executes
    it, and the result must equal :func:`hwgen.host.ir_exec.emulate_gemm` bit for bit;
    the RUN cycles the device reports must equal the performance model's prediction
    and the cycle counter read back with ``STATUS``.
    """

    from hwgen.host.backends import DeviceBackend
    from hwgen.host.ir_exec import emulate_gemm
    from hwgen.host.minilm import capture_gemm_call

    spec = {**LAYER, **(layer or {})}
    call = capture_gemm_call(spec["layer"], [spec["sentence"]], spec["formats"])
    k, n = spec["k"], spec["n"]
    call = replace(call, a_codes=call.a_codes[:, :k], b_codes=call.b_codes[:k, :n])
    before = dev.status()
    run = DeviceBackend(dev).run_layer(call)
    after = dev.status()
    mismatches = []
    want = np.asarray(emulate_gemm(call), np.int64)
    if not np.array_equal(np.asarray(run.codes, np.int64), want):
        mismatches.append(f"{call.name}: device codes differ from emulate_gemm")
    counted = after["total_run_cycles"] - before["total_run_cycles"]
    if run.measured_cycles != run.predicted_cycles or counted != sum(run.measured_cycles):
        mismatches.append(
            f"cycles: RUN responses {sum(run.measured_cycles)}, STATUS counter {counted}, "
            f"predicted {sum(run.predicted_cycles)}"
        )
    return {
        "mismatches": mismatches,
        "shape": [*np.shape(call.a_codes), np.shape(call.b_codes)[1]],
        "runs": len(run.measured_cycles),
        "cycles": sum(run.measured_cycles),
        "predicted_cycles": sum(run.predicted_cycles),
        "counter_cycles": counted,
    }


_WORKLOADS = {
    "gemm": gemm_workload,
    "throughput": throughput_workload,
    "program": program_workload,
    "layer": layer_workload,
    "wrap": wrap_workload,
}


@dataclass
class ScenarioResult:
    """One host session over the virtual serial link."""

    name: str
    passed: bool
    error: str = ""
    outcome: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    injected: dict = field(default_factory=dict)
    sim_seconds: float = 0.0


def _run_scenario(line: UartLine, scenario: dict, timeout_s: float) -> ScenarioResult:
    transport = VirtualSerial(line)
    if scenario.get("faults"):
        transport = FaultyTransport(transport, Faults(**scenario["faults"]), scenario.get("seed", 0))
    dev = Device(transport, timeout=timeout_s, retries=scenario.get("retries", 8))
    start = transport.now()
    result = ScenarioResult(scenario["name"], passed=False)
    try:
        result.outcome = _WORKLOADS[scenario.get("workload", "gemm")](dev, scenario.get("seed", 0))
        result.passed = not result.outcome["mismatches"]
    except DeviceError as exc:
        result.error = str(exc)
        result.passed = bool(scenario.get("expect_error"))
    result.stats = dev.stats.as_dict()
    result.injected = dict(getattr(transport, "injected", {}))
    result.sim_seconds = transport.now() - start
    return result


def _host_session(line: UartLine, job: dict) -> list[dict]:
    return [asdict(_run_scenario(line, s, job["timeout_s"])) for s in job["scenarios"]]


@cocotb.test()
async def driver_over_virtual_serial(dut):
    """Run the job's host scenarios, each a fresh ``Device`` over the virtual serial link, and report them."""
    job = load_job()
    period = job["clock_period_ps"]
    cocotb.start_soon(Clock(dut.clk, period, unit="ps").start())
    dut.uart_rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    line = UartLine(dut, job["divisor"], period)
    wall = time.perf_counter()
    results = await bridge(_host_session)(line, job)
    report = {"scenarios": results, "framing_errors": line.framing_errors, "wall_seconds": time.perf_counter() - wall}
    Path(job["report"]).write_text(json.dumps(report, indent=1))
    failed = [r["name"] for r in results if not r["passed"]]
    assert not failed, f"scenarios failed: {failed}"


# -- pytest / benchmark side ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriverTopRun:
    """What :func:`run_driver_top` measured."""

    passed: bool
    scenarios: list
    framing_errors: int
    info: DeviceInfo
    divisor: int
    clock_period_ps: int
    build_seconds: float
    sim_wall_seconds: float
    log: Path

    def scenario(self, name: str) -> dict:
        """The result of the scenario called ``name``."""
        return next(s for s in self.scenarios if s["name"] == name)


def build_uart_top(cfg, work_dir, clk_freq: int, baud: int, **memories) -> tuple[CocotbSession, DeviceInfo]:
    """Verilog of ``make_accelerator_top(cfg, link="uart", ...)`` built once in Verilator; the session and its info."""
    from hwgen.dataflow.accelerator import make_accelerator_top
    from hwgen.emulation.units.top_config import device_info, top_name
    from hwgen.rtl.verilog_writer import generate_verilog

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    top = make_accelerator_top(cfg, link="uart", clk_freq=clk_freq, baud=baud, **memories)
    name = top_name(cfg, "uart")
    verilog = work_dir / f"{name}.v"
    verilog.write_text(generate_verilog(top, name).text)
    return CocotbSession([verilog], name, "verilator", work_dir).build(), device_info(cfg, **memories)


def run_driver_top(session: CocotbSession, info: DeviceInfo, clk_freq: int, baud: int, scenarios, timeout_s=None):
    """Run host ``scenarios`` against a built UART top; see :func:`driver_over_virtual_serial`.

    Parameters
    ----------
    session : CocotbSession
        From :func:`build_uart_top`.
    info : DeviceInfo
    clk_freq, baud : int
        As the top was built with; the simulated clock runs at ``clk_freq``.
    scenarios : list of dict
        Each: ``name``, ``workload`` (a key of ``_WORKLOADS``: ``"gemm"``, ``"throughput"``,
        ``"program"``, ``"layer"``, ``"wrap"``), ``seed``,
        optional ``faults`` (:class:`Faults` fields), ``retries``, ``expect_error``.
    timeout_s : float, optional
        The driver's timeout; default 200 byte times (three times the top's
        64-byte-time inter-byte timeout, so a cut frame is dropped before its resend).
    """
    from hwgen.rtl.uart import uart_divisor

    divisor = uart_divisor(clk_freq, baud)
    period = 2 * round(5e11 / clk_freq)  # whole, even picoseconds: cocotb splits the period in halves
    byte_s = 10 * divisor * period * 1e-12
    job = {
        "clock_period_ps": period,
        "divisor": divisor,
        "timeout_s": timeout_s or 200 * byte_s,
        "scenarios": list(scenarios),
    }
    run = session.run(BENCH_MODULE, job)
    report = run.report or {"scenarios": [], "framing_errors": -1, "wall_seconds": run.wall_seconds}
    return DriverTopRun(
        run.passed,
        report["scenarios"],
        report["framing_errors"],
        info,
        divisor,
        period,
        session.build_seconds,
        run.wall_seconds,
        run.log,
    )
