"""CommandProcessor + scratchpads + SystolicArray in the Amaranth simulator, fed by a frame-buffer model.

Every response is compared byte for byte with ``AcceleratorModel``; every RUN's
reported cycles are compared with ``run_cycles`` and with the cycles the bench
itself counts on the array ports.
"""

import random

import pytest
from amaranth.sim import Simulator

from hwgen.dataflow.accelerator import make_processor_core
from hwgen.emulation import isa
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.isa import Opcode, Space
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import device_info, golden_model
from hwgen.sim.top_bench import SEQ_WRAP, OnceReference, driver_commands, edge_commands, random_commands

SMALL = {"w_depth": 8, "a_depth": 24, "o_depth": 24, "max_payload": 160}


def run_core(cfg, memories, commands, ready_prob=1.0, seed=0, dropped=3):
    """Feed ``(seq, payload)`` commands to a ProcessorCore; return responses and measured RUN cycles.

    The bench models HostLink's command side: a synchronous-read frame buffer, a
    ``good_frames`` count that includes the frame being served, and random
    ``ready`` on both response streams.
    """
    core = make_processor_core(cfg, **memories)
    proc = core.processor
    flow = random.Random(seed)
    responses, measured = [], []

    async def bench(ctx):
        ctx.set(core.dropped_frames, dropped)
        cycle = 0
        for good, (seq, payload) in enumerate(commands, start=1):
            buf = bytes(payload) + bytes(memories["max_payload"] - len(payload))
            ctx.set(core.cmd_seq, seq)
            ctx.set(core.cmd_len, len(payload))
            ctx.set(core.good_frames, good)
            ctx.set(core.cmd_valid, 1)
            head, body, done, first, last = None, bytearray(), False, None, None
            while not done or head is None or len(body) < head[2]:
                assert cycle < 1_000_000, "processor stopped answering"
                head_ready, data_ready = flow.random() < ready_prob, flow.random() < ready_prob
                ctx.set(core.o_rsp_head.ready, head_ready)
                ctx.set(core.o_rsp_data.ready, data_ready)
                *_, addr, cmd_done, hv, hp, dv, dp, w_valid, r_valid = await ctx.tick().sample(
                    core.cmd_rd_addr, core.cmd_done, core.o_rsp_head.valid, core.o_rsp_head.payload,
                    core.o_rsp_data.valid, core.o_rsp_data.payload, proc.o_stationary.valid, proc.i_result.valid,
                )  # fmt: skip
                ctx.set(core.cmd_rd_data, buf[addr])
                if cmd_done:
                    done = True
                    ctx.set(core.cmd_valid, 0)
                if hv and head_ready:
                    assert head is None, "two response heads for one command"
                    head = (hp.seq, hp.status, hp.len)
                if dv and data_ready:
                    assert head is not None, "response data before its head"
                    body.append(dp)
                if w_valid and first is None:
                    first = cycle
                if r_valid:
                    last = cycle
                cycle += 1
            responses.append(isa.encode_response(head[0], head[1], bytes(body)))
            # First scratchpad read: the cycle before the first W beat; last O write: the cycle of the last row.
            measured.append(None if first is None else last - (first - 1) + 1)
            for _ in range(flow.randint(0, 3)):
                await ctx.tick()
                cycle += 1

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return responses, measured


def check(cfg, memories, commands, once=False, **kwargs):
    """Run ``commands`` on the core; every response must equal the model's (and, if ``once``, OnceReference's)."""
    info = device_info(cfg, **memories)
    model = golden_model(cfg, info)
    model.counters["dropped_frames"] = kwargs.get("dropped", 3)
    reference = OnceReference(golden_model(cfg, info)) if once else None
    responses, measured = run_core(cfg, memories, commands, **kwargs)
    for (seq, payload), got, cycles in zip(commands, responses, measured, strict=True):
        want = isa.encode_response(seq, *model.handle(seq, payload))
        assert got == want, f"command {payload[:12].hex()}: got {got.hex()} want {want.hex()}"
        lost = reference.mismatch(seq, payload, got) if reference else None
        assert lost is None, lost
        if cycles is not None:  # a RUN executed here (not replayed): the counter tells the truth
            m = int.from_bytes(payload[7:9], "little")
            assert cycles == run_cycles(info, m) == int.from_bytes(got[5:9], "little")
    return responses


def test_ping_status_and_edge_commands():
    cfg = ArrayConfig(rows=2, cols=3)
    info = device_info(cfg, **SMALL)
    commands = [(1, isa.ping()), (2, isa.status())] + [(10 + i, p) for i, p in enumerate(edge_commands(info))]
    responses = check(cfg, SMALL, [*commands, (99, isa.status())])
    assert isa.DeviceInfo.decode(isa.decode_response(responses[0])[2]) == info


def test_run_cycles_exact_for_many_m():
    # Two array shapes, m from 1 to the depth: the counter equals the formula and the bench's own count.
    for rows, cols in ((2, 3), (4, 4)):
        cfg = ArrayConfig(rows=rows, cols=cols)
        mem = {**SMALL, "w_depth": rows}
        info = device_info(cfg, **mem)
        rng = random.Random(rows)
        cmds = [(0, isa.write(Space.W, 0, _rand_words(info, Space.W, rows, rng)))]
        cmds.append((1, isa.write(Space.A, 0, _rand_words(info, Space.A, info.a_depth, rng))))
        for i, m in enumerate((1, 2, 3, 5, 8, 13, 24)):
            cmds.append((2 + i, isa.run(0, info.a_depth - m, 0, m, accumulate=bool(i % 2))))
        cmds.append((20, isa.read(Space.O, 0, info.o_depth)))
        check(cfg, mem, cmds)


def test_exactly_once_replay():
    cfg = ArrayConfig(rows=2, cols=2)
    info = device_info(cfg, **SMALL)
    rng = random.Random(3)
    w = isa.write(Space.W, 0, _rand_words(info, Space.W, 2, rng))
    a = isa.write(Space.A, 0, _rand_words(info, Space.A, 4, rng))
    run = isa.run(0, 0, 0, 4, accumulate=True)
    commands = [(5, w), (5, w), (6, a), (7, run), (7, run), (7, isa.read(Space.O, 0, 4)), (7, w), (8, run)]
    commands += [(9, bytes([Opcode.RUN])), (9, run), (10, isa.read(Space.O, 0, 4)), (11, isa.status())]
    check(cfg, SMALL, commands)


def test_write_and_run_after_255_side_effect_free_commands_take_effect():
    # The 255 commands between bring the seq round: the second WRITE and RUN are new commands, not retries.
    cfg = ArrayConfig(rows=2, cols=2)
    info = device_info(cfg, **SMALL)
    rng = random.Random(5)
    quiet = [isa.read(Space.O, 0, 1), isa.ping(), isa.status()]
    commands = [(0, isa.write(Space.W, 0, _rand_words(info, Space.W, 2, rng)))]
    commands += [(1 + i, quiet[i % 3]) for i in range(SEQ_WRAP)]
    commands += [(0, isa.write(Space.W, 0, _rand_words(info, Space.W, 2, rng))), (1, isa.run(0, 0, 0, 1, True))]
    commands += [(2 + i, isa.read(Space.O, 0, 1)) for i in range(SEQ_WRAP)]
    commands += [(1, isa.run(0, 0, 0, 1, True)), (2, isa.read(Space.O, 0, 1)), (3, isa.read(Space.W, 0, 2))]
    check(cfg, SMALL, commands, once=True)


def test_driver_like_sequence_with_retries_and_seq_wraps():
    cfg = ArrayConfig(rows=2, cols=2)
    info = device_info(cfg, **SMALL)
    commands = driver_commands(info, random.Random(8), 90, max_words=4, wraps=2)
    assert len(commands) > 2 * 256
    check(cfg, SMALL, commands, once=True, ready_prob=0.8)


@pytest.mark.parametrize(("dataflow", "rows", "cols", "ready_prob"), [("ws", 3, 2, 0.6), ("is", 2, 3, 1.0)])
def test_random_sequences(dataflow, rows, cols, ready_prob):
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    info = device_info(cfg, **SMALL)
    commands = random_commands(info, random.Random(rows * 7 + cols), 60)
    check(cfg, SMALL, [*commands, (77, isa.status())], ready_prob=ready_prob, seed=rows)


def test_float_array_with_accumulate():
    cfg = ArrayConfig(rows=2, cols=2, dtype="bfloat16", acc="float32")
    info = device_info(cfg, **SMALL)
    commands = random_commands(info, random.Random(11), 40)
    check(cfg, SMALL, commands)


def test_accumulating_inf_minus_inf_gives_the_adders_canonical_nan():
    # O holds +Inf, the RUN's products are -Inf: the FpAdder's NaN is the positive canonical code.
    import numpy as np

    cfg = ArrayConfig(rows=2, cols=2, dtype="bfloat16", acc="float32")

    def words(codes, dtype):
        return np.asarray(codes, dtype).view(np.uint8).reshape(len(codes), -1)

    commands = [
        (1, isa.write(Space.W, 0, words([[0x3F80, 0x3F80], [0x3F80, 0x3F80]], "<u2"))),  # 1.0
        (2, isa.write(Space.A, 0, words([[0xFF80, 0x0000]], "<u2"))),  # -Inf, +0
        (3, isa.write(Space.O, 0, words([[0x7F800000, 0x7F800000]], "<u4"))),  # +Inf
        (4, isa.run(0, 0, 0, 1, accumulate=True)),
        (5, isa.read(Space.O, 0, 1)),
    ]
    responses = check(cfg, SMALL, commands)
    assert isa.decode_response(responses[-1])[2] == (0x7FC00000).to_bytes(4, "little") * 2


def _rand_words(info, space, n, rng):
    import numpy as np

    return np.frombuffer(rng.randbytes(n * info.word_bytes(space)), np.uint8).reshape(n, -1)
