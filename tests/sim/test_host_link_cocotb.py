"""HostLink's Verilog (UART link) in Verilator via cocotb: frames in at the pin, responses out, faults dropped.

The cocotb test below runs inside the simulator process (this module is its test module);
the pytest test builds the Verilog, writes the job and checks the report.
"""

import json
import random
from pathlib import Path

import cocotb
import pytest
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from hwgen.emulation.isa import encode_command, encode_response
from hwgen.rtl.component_build import build_component
from hwgen.rtl.host_link import HostLink
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job, run_cocotb
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

CLOCK_NS = 10  # ClockedBench's clock
LINK = {"link": "uart", "clk_freq": 5_000_000, "baud": 1_000_000, "timeout_cycles": 150, "max_payload": 64}


async def _uart_send(dut, data: bytes, divisor: int) -> None:
    """Drive ``uart_rx`` bit by bit (8N1, LSB first), the host's side of the wire."""
    for byte in data:
        for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
            dut.uart_rx.value = bit
            await Timer(divisor * CLOCK_NS, unit="ns")


async def _uart_monitor(dut, divisor: int, received: list) -> None:
    """Decode ``uart_tx`` at mid-bit; a start bit that is not low at mid-bit or a low stop bit is recorded as -1."""
    bit_ns = divisor * CLOCK_NS
    while True:
        await FallingEdge(dut.uart_tx)
        await Timer(bit_ns // 2, unit="ns")
        start = int(dut.uart_tx.value)
        bits = []
        for _ in range(9):
            await Timer(bit_ns, unit="ns")
            bits.append(int(dut.uart_tx.value))
        byte = sum(b << i for i, b in enumerate(bits[:8]))
        received.append(byte if start == 0 and bits[8] == 1 else -1)


async def _handshake(dut, port: str, payload: int) -> None:
    getattr(dut, f"{port}__payload").value = payload
    getattr(dut, f"{port}__valid").value = 1
    while True:
        await ReadOnly()
        ready = int(getattr(dut, f"{port}__ready").value)
        await RisingEdge(dut.clk)
        if ready:
            break
    getattr(dut, f"{port}__valid").value = 0


async def _serve(dut, step: dict, received: list, limit: int) -> dict:
    """The processor's side: wait for the frame, read it back, send the response, release the buffer."""
    for _ in range(limit):
        await ReadOnly()
        seen = {"valid": int(dut.cmd_valid.value), "seq": int(dut.cmd_seq.value), "len": int(dut.cmd_len.value)}
        await RisingEdge(dut.clk)
        if seen["valid"]:
            break
    data = []
    for addr in range(seen["len"] + 1):  # synchronous port: the byte for addr k shows one cycle later
        if addr < seen["len"]:
            dut.cmd_rd_addr.value = addr
        await ReadOnly()
        if addr:
            data.append(int(dut.cmd_rd_data.value))
        await RisingEdge(dut.clk)
    reply = bytes.fromhex(step["reply"])
    start = len(received)
    await _handshake(dut, "i_rsp_head", step["seq"] | step["status"] << 8 | len(reply) << 16)
    for byte in reply:
        await _handshake(dut, "i_rsp_data", byte)
    dut.cmd_done.value = 1
    await RisingEdge(dut.clk)
    dut.cmd_done.value = 0
    want = len(encode_response(step["seq"], step["status"], reply))
    for _ in range(limit * (want + 2)):
        if len(received) >= start + want:
            break
        await RisingEdge(dut.clk)
    return {**seen, "payload": bytes(data).hex(), "response": bytes(max(b, 0) for b in received[start:]).hex()}


@cocotb.test()
async def run_host_link_frames(dut):
    """Every step of the job: send bytes at the pin; serve the frame if one is expected, else wait out the timeout."""
    job = load_job()
    divisor, timeout = job["divisor"], job["timeout_cycles"]
    dut.uart_rx.value = 1
    for name in ("cmd_rd_addr", "cmd_done", "i_rsp_head__valid", "i_rsp_data__valid"):
        getattr(dut, name).value = 0
    bench = ClockedBench(dut)
    await bench.reset()
    received = []
    cocotb.start_soon(_uart_monitor(dut, divisor, received))
    steps = []
    for step in job["steps"]:
        await _uart_send(dut, bytes.fromhex(step["send"]), divisor)
        if "seq" in step:
            seen = await _serve(dut, step, received, 20 * divisor)
        else:
            for _ in range(timeout + 20):
                await RisingEdge(dut.clk)
            seen = {}
        await ReadOnly()
        steps.append({**seen, "good": int(dut.good_frames.value), "dropped": int(dut.dropped_frames.value)})
        await RisingEdge(dut.clk)
    Path(job["report"]).write_text(json.dumps({"steps": steps, "stray": [b for b in received if b < 0]}))


def _job_steps(seed: int = 7):
    """Good frames between a bad CRC, a truncated frame, an oversize length and garbage; with expected counters."""
    rng = random.Random(seed)
    good = [(1, b"\x01", 0, bytes(range(28))), (2, bytes(range(64)), 0, b""), (3, b"\x05", 2, b"\xaa" * 16)]
    good += [(rng.randrange(256), rng.randbytes(rng.randrange(65)), rng.randrange(3), rng.randbytes(rng.randrange(40)))
             for _ in range(5)]  # fmt: skip
    bad_crc = bytearray(encode_command(9, b"\x02\x00"))
    bad_crc[-1] ^= 0x40
    flipped = bytearray(encode_command(12, rng.randbytes(20)))
    flipped[9] ^= 0x04
    faults = [
        bytes(bad_crc),
        encode_command(10, b"\x03" * 9)[:8],  # stops mid-payload: dropped at the timeout
        encode_command(11, bytes(65))[:4] + b"\x11\x22",  # len 65 > max_payload 64
        bytes(flipped),
    ]
    steps, expect, dropped = [], [], 0
    for k, (seq, payload, status, reply) in enumerate(good):
        send = encode_command(seq, payload)
        if k == 2:
            send = b"\x00\x5a\xff" + send  # garbage without a sync byte right before the frame
        steps.append({"send": send.hex(), "seq": seq, "status": status, "reply": reply.hex()})
        response = encode_response(seq, status, reply).hex()
        seen = {"valid": 1, "seq": seq, "len": len(payload), "payload": payload.hex(), "response": response}
        expect.append({**seen, "good": k + 1, "dropped": dropped})
        if k < len(faults):
            dropped += 1
            steps.append({"send": faults[k].hex()})
            expect.append({"good": k + 1, "dropped": dropped})
    return steps, expect


def test_host_link_uart_in_verilator(tmp_path):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    link = HostLink(**LINK)
    build = build_component(link, "host_link", LINK, tmp_path / "rtl")
    steps, expect = _job_steps()
    job = {"divisor": link.divisor, "timeout_cycles": link.timeout_cycles, "steps": steps}
    run = run_cocotb(build.verilog, "host_link", __name__, job, "verilator", tmp_path)
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["stray"] == []
    assert run.report["steps"] == expect
