"""The accelerator top (stream link) in the Amaranth simulator: command frames in, responses equal to the model's."""

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hwgen.dataflow.accelerator import make_accelerator_top
from hwgen.emulation import isa
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import Space
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import device_info, golden_model, top_name
from hwgen.sim.top_bench import edge_commands, random_commands, split_frames

SMALL = {"w_depth": 8, "a_depth": 16, "o_depth": 16, "max_payload": 128}


def exchange(top, frames, valid_prob=1.0, ready_prob=1.0, seed=0, gap_bytes=b""):
    """Send each frame on ``i_rx`` after the previous response is complete; return all response frames."""
    flow = random.Random(seed)
    responses = []

    async def bench(ctx):
        cycle = 0
        for frame in frames:
            queue = list(gap_bytes + frame)
            got = bytearray()
            while queue or not _complete(got):
                assert cycle < 2_000_000, f"no response to {frame.hex()}"
                offer = bool(queue) and flow.random() < valid_prob
                if offer:
                    ctx.set(top.i_rx.payload, queue[0])
                ctx.set(top.i_rx.valid, offer)
                accept = flow.random() < ready_prob
                ctx.set(top.o_tx.ready, accept)
                *_, rx_ready, tx_valid, tx_byte = await ctx.tick().sample(
                    top.i_rx.ready, top.o_tx.valid, top.o_tx.payload
                )
                if offer and rx_ready:
                    queue.pop(0)
                if accept and tx_valid:
                    got.append(tx_byte)
                cycle += 1
            responses.extend(split_frames(got))
        ctx.set(top.i_rx.valid, 0)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return responses


def _complete(data: bytes) -> bool:
    return len(data) >= isa.RSP_HEADER and len(data) >= isa.RSP_HEADER + data[3] + 256 * data[4] + isa.CRC_BYTES


def expected(cfg, memories, commands, dropped=0):
    model = golden_model(cfg, device_info(cfg, **memories))
    model.counters["dropped_frames"] = dropped
    return [isa.encode_response(seq, *model.handle(seq, payload)) for seq, payload in commands]


@pytest.mark.parametrize(("dataflow", "rows", "cols", "flow"), [("ws", 4, 4, (1.0, 1.0)), ("is", 2, 3, (0.6, 0.5))])
def test_random_commands_match_the_model(dataflow, rows, cols, flow):
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    info = device_info(cfg, **SMALL)
    commands = random_commands(info, random.Random(rows + cols), 40)
    commands += [(100 + i, p) for i, p in enumerate(edge_commands(info))] + [(1, isa.status())]
    top = make_accelerator_top(cfg, link="stream", **SMALL)
    frames = [isa.encode_command(seq, payload) for seq, payload in commands]
    got = exchange(top, frames, *flow, seed=rows)
    assert got == expected(cfg, SMALL, commands)


def test_dropped_frames_are_counted_and_not_answered():
    cfg = ArrayConfig(rows=2, cols=2)
    good = isa.encode_command(3, isa.ping())
    corrupt = bytearray(isa.encode_command(4, isa.read(Space.W, 0, 1)))
    corrupt[-1] ^= 0x10
    oversize = isa.encode_command(5, bytes(SMALL["max_payload"] + 1))
    top = make_accelerator_top(cfg, link="stream", **SMALL)
    # Garbage, a bad-CRC frame and an oversize frame precede STATUS; only PING and STATUS answer.
    got = exchange(top, [good, isa.encode_command(6, isa.status())], gap_bytes=b"\x00\x13" + bytes(corrupt) + oversize)
    commands = [(3, isa.ping()), (6, isa.status())]
    want = expected(cfg, SMALL, commands)
    assert got[0] == want[0]
    seq, status, payload = isa.decode_response(got[1])
    assert (seq, status) == (6, 0)
    total, runs, good_frames, dropped = (int.from_bytes(payload[i : i + 4], "little") for i in range(0, 16, 4))
    assert (total, runs, good_frames) == (0, 0, 2)
    assert dropped >= 2  # bad CRC and oversize at least (the link may also count the garbage)


def test_parameters_are_validated():
    cfg = ArrayConfig(rows=4, cols=4)
    with pytest.raises(ConfigError, match="dataflow"):
        device_info(ArrayConfig(dataflow="os"))
    with pytest.raises(ConfigError, match="w_depth"):
        device_info(cfg, w_depth=3)
    with pytest.raises(ConfigError, match="max_payload"):
        device_info(cfg, max_payload=8)
    with pytest.raises(ConfigError, match="o_depth"):
        device_info(ArrayConfig(rows=4, cols=64), o_depth=256)
    with pytest.raises(ConfigError, match="link"):
        make_accelerator_top(cfg, link="spi")
    with pytest.raises(ConfigError, match="baud"):
        make_accelerator_top(cfg, clk_freq=1_000_000, baud=500_000)
    with pytest.raises(ConfigError, match="a_depth"):
        device_info(cfg, a_depth=0)
    with pytest.raises(ConfigError, match="acc"):
        device_info(ArrayConfig(rows=4, cols=4, acc="int32_sat"))
    assert top_name(cfg, "uart") == "accel_uart_systolic_ws_4x4_int8_int32"
    with warnings.catch_warnings():  # tops built only to read their ports are never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        assert set(make_accelerator_top(cfg, link="uart").signature.members) == {"uart_rx", "uart_tx"}
        assert set(make_accelerator_top(cfg, link="stream").signature.members) == {"i_rx", "o_tx"}
        gc.collect()
