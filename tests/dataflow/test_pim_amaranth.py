"""The PIM channel in the Amaranth simulator: values bit-exact and issue cycles equal to the model."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.dataflow.pim_channel import PimChannel, cmd_layout
from hwgen.emulation import bfloat16, float32
from hwgen.emulation.pim_model import QUICK_TIMING, PimCommand, PimConfig, PimOp, PimTiming, float_mac, run_program
from hwgen.host.pim_mapping import output_codes, pack_command, plan_gemv, unpack_output
from hwgen.pe.pim_bank import PimFloatDot

FAST = QUICK_TIMING


def run_amaranth(cfg, commands, valid_prob=1.0, ready_prob=1.0, seed=0, reads=None):
    """Drive ``commands``; return (issue cycles, [(cycle, payload)], error flag)."""
    dut = PimChannel(cfg)
    queue = [pack_command(cfg, c) for c in commands]
    issues, outs = [], []
    flow = random.Random(seed)
    if reads is None:
        reads = sum(c.op in (PimOp.RD, PimOp.RD_MAC) for c in commands)
    error = []

    async def bench(ctx):
        offering, cycle = False, 0
        while queue or len(outs) < reads:
            assert cycle < 20000, "channel stopped"
            if not offering and queue and flow.random() < valid_prob:
                offering = True
                ctx.set(dut.i_cmd.payload.as_value(), queue[0])
            ctx.set(dut.i_cmd.valid, offering)
            accept = flow.random() < ready_prob
            ctx.set(dut.o_out.ready, accept)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i_cmd.ready, dut.o_out.valid, dut.o_out.payload.as_value()
            )
            if offering and ready:
                queue.pop(0)
                issues.append(cycle)
                offering = False
            if accept and valid:
                outs.append((cycle, payload))
            cycle += 1
        ctx.set(dut.i_cmd.valid, 0)
        await ctx.tick().repeat(8)
        error.append(ctx.get(dut.error))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return issues, outs, bool(error[0])


def check_against_model(cfg, commands, **flow):
    model = run_program(cfg, commands)
    issues, outs, error = run_amaranth(cfg, commands, **flow)
    assert not error
    assert len(outs) == len(model.outputs)
    for (cycle, payload), want in zip(outs, model.outputs, strict=True):
        op, data, mac = unpack_output(cfg, payload)
        assert op == want.op
        assert (mac if op == PimOp.RD_MAC else data) == output_codes(cfg, want)
        if not flow:
            assert cycle == want.cycle
    if not flow:
        assert issues == model.issue_cycles
    return model


def _gemv_program(cfg, n, k, seed):
    rng = np.random.default_rng(seed)
    fmt = cfg.dtype_format
    w = rng.integers(fmt.min_value, fmt.max_value + 1, size=(n, k))
    x = rng.integers(fmt.min_value, fmt.max_value + 1, size=k)
    w.flat[0], x[0] = fmt.min_value, fmt.min_value
    layout = plan_gemv(cfg, n, k)
    return layout, w, x, layout.weight_commands(w, 0) + layout.gemv_commands(x)


@pytest.mark.parametrize(
    ("banks", "rows", "cols", "lanes", "n", "k"),
    [(2, 8, 4, 4, 5, 20), (4, 8, 4, 16, 8, 100), (3, 6, 2, 3, 6, 7)],
)
def test_gemv_bit_exact_and_cycle_exact(banks, rows, cols, lanes, n, k):
    cfg = PimConfig(banks=banks, rows=rows, cols=cols, lanes=lanes, timing=FAST)
    layout, w, x, cmds = _gemv_program(cfg, n, k, seed=banks + k)
    model = check_against_model(cfg, cmds)
    ours = layout.assemble([model.outputs[-layout.chunks * layout.groups :]])
    assert np.array_equal(ours, layout.reference(w, x))
    assert model.refreshes  # the program is long enough to exercise refresh


def test_every_command_kind_and_int16_accumulator():
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=2, dtype="int8", acc="int16", timing=FAST)
    cmds = [
        PimCommand.act(0, 3),
        PimCommand.wr(0, 1, [127, -128]),
        PimCommand.rd(0, 1),
        PimCommand.wr_gb(1, [127, -128]),
        PimCommand.wr_bias([32000, -5]),
        PimCommand.mac_sbk(0, 1),  # 127*127 + 128*128 + 32000 wraps in int16
        PimCommand.mac_sbk(0, 1),
        PimCommand.act(1, 2),
        PimCommand.pre(0),
        PimCommand.pre(0),  # closing a closed bank is a no-op
        PimCommand.rd_mac(),
        PimCommand.act(0, 3),
        PimCommand.mac_abk(1),
        PimCommand.pre_abk(),
        PimCommand.rd_mac(),
    ]
    model = check_against_model(cfg, cmds)
    assert model.outputs[0].values == (127, -128)
    acc0 = cfg.acc_format.fit(32000 + 2 * (127 * 127 + 128 * 128))[()]
    assert model.outputs[1].values == (acc0, -5)


def test_refresh_off_has_no_refresh():
    # No modes, the shortest register read and no turnaround: the other branches of the RTL.
    timing = PimTiming(
        tRCD=5,
        tRCD_MAC=7,
        tRP=4,
        tRAS=9,
        tRRD=3,
        tFAW=11,
        tCL=4,
        tCL_MAC=1,
        tRTW=0,
        tMOD=0,
        tRTP=2,
        tWR=1,
        refresh=False,
        tREFI=90,
        tRFC=9,
    )
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, timing=timing)
    _, _, _, cmds = _gemv_program(cfg, 4, 16, seed=3)
    assert check_against_model(cfg, cmds).refreshes == []


@pytest.mark.parametrize("seed", [1, 2])
def test_random_flow_control_values_exact(seed):
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, timing=FAST)
    _, _, _, cmds = _gemv_program(cfg, 6, 16, seed=seed)
    check_against_model(cfg, cmds, valid_prob=0.6, ready_prob=0.4, seed=seed)


@pytest.mark.parametrize(
    "bad",
    [
        PimCommand.mac_abk(0),  # no open row
        PimCommand.mac_sbk(1, 0),
        PimCommand.rd(0, 0),
        PimCommand(PimOp.ACT, bank=3, row=0),  # bank out of range (3 banks)
        PimCommand.act_abk(6),  # row out of range
        PimCommand.wr_gb(3, [0, 0, 0]),  # col out of range
    ],
)
def test_illegal_command_sets_error_and_is_dropped(bad):
    cfg = PimConfig(banks=3, rows=6, cols=3, lanes=3, timing=FAST)
    issues, outs, error = run_amaranth(cfg, [bad], reads=0)
    assert error and issues == [0] and outs == []


def test_act_to_open_bank_sets_error():
    cfg = PimConfig(banks=2, rows=6, cols=3, lanes=3, timing=FAST)
    _, _, error = run_amaranth(cfg, [PimCommand.act(0, 1), PimCommand.act(0, 2)])
    assert error


def test_payload_width_matches_packing():
    cfg = PimConfig(banks=3, rows=6, cols=3, lanes=5)
    top = pack_command(cfg, PimCommand.wr_bias([-1, -1, -1]))
    assert top.bit_length() == cmd_layout(cfg).size


# --- bfloat16 lanes, float32 accumulator -------------------------------------------------

#: bf16 corner codes: ±0, smallest / largest subnormal, 1, -1, largest finite, ±Inf, NaNs, 2**-75, 2**60.
BF16_CORNERS = [0x0000, 0x8000, 0x0001, 0x807F, 0x3F80, 0xBF80, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x1A00, 0x5D80]


def _bf16_codes(rng, shape, special=0.15):
    """Random bf16 codes: mostly finite values near 1, some corner codes."""
    normal = bfloat16.encode(rng.standard_normal(shape) * 4.0 ** rng.integers(-3, 4, shape)).astype(np.int64)
    corner = rng.choice(BF16_CORNERS, size=shape)
    return np.where(rng.random(shape) < special, corner, normal)


def test_float_dot_matches_float_mac_on_corner_vectors():
    cfg = PimConfig(banks=1, rows=1, cols=2, lanes=3, dtype="bfloat16", acc="float32")
    rng = np.random.default_rng(11)
    n = 300
    w, x = _bf16_codes(rng, (n, 3), 0.3), _bf16_codes(rng, (n, 3), 0.3)
    acc_corners = [0, 0x80000000, 0x00000001, 0x7F800000, 0xFF800000, 0x7FC00000, 0x3F800000]
    acc = np.where(rng.random(n) < 0.5, rng.choice(acc_corners, n), float32.encode(rng.standard_normal(n)))
    acc = acc.astype(np.int64)
    # cancellation and subnormal sums: w1 * x1 = -(w0 * x0), and products far below float32's range
    w[:40, 1], x[:40, 1] = w[:40, 0] ^ 0x8000, x[:40, 0]
    w[40:80], x[40:80] = 0x1A00, 0x1A00 ^ (rng.integers(0, 2, (40, 3)) << 15)
    want = [int(float_mac(acc[i : i + 1], w[i : i + 1], x[i], bfloat16, float32)[0]) for i in range(n)]
    dut = PimFloatDot(cfg)
    got = []

    async def bench(ctx):
        for i in range(n):
            for lane in range(3):
                ctx.set(dut.w[lane].as_value(), int(w[i, lane]))
                ctx.set(dut.x[lane].as_value(), int(x[i, lane]))
            ctx.set(dut.acc.as_value(), int(acc[i]))
            got.append(ctx.get(dut.result.as_value()))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert got == want


def _bf16_gemv_program(cfg, n, k, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, k)) * 2.0 ** rng.integers(-8, 8, (n, k))
    x = rng.standard_normal(k)
    w[0, :2], x[:2] = [np.inf, 3e38], [0.0, 3e38]  # row 0: Inf * 0 -> NaN; row 1 may overflow
    layout = plan_gemv(cfg, n, k)
    return layout, w, x, layout.weight_commands(w, 0) + layout.gemv_commands(x)


def test_bf16_gemv_bit_exact_and_cycle_exact():
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, dtype="bfloat16", acc="float32", timing=FAST)
    layout, w, x, cmds = _bf16_gemv_program(cfg, 5, 20, seed=4)
    model = check_against_model(cfg, cmds)
    ours = layout.assemble([model.outputs[-layout.chunks * layout.groups :]])
    assert np.array_equal(ours.view(np.uint32), layout.reference(w, x).view(np.uint32))
    assert np.isnan(ours[0]) and model.refreshes


def test_bf16_every_command_kind_with_corner_codes():
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=4, dtype="bfloat16", acc="float32", timing=FAST)
    rng = np.random.default_rng(5)
    w, x = _bf16_codes(rng, (4, 4), 0.5), _bf16_codes(rng, (2, 4), 0.5)
    cmds = [
        PimCommand.act(0, 3),
        PimCommand.wr(0, 1, w[0]),
        PimCommand.wr(0, 0, w[1]),
        PimCommand.rd(0, 1),
        PimCommand.wr_gb(1, x[0]),
        PimCommand.wr_gb(0, x[1]),
        PimCommand.wr_bias([0x3F800000, 0x80000000]),
        PimCommand.mac_sbk(0, 1),
        PimCommand.mac_sbk(0, 0),
        PimCommand.act(1, 2),
        PimCommand.wr(1, 1, w[2]),
        PimCommand.rd_mac(),
        PimCommand.mac_abk(1),
        PimCommand.pre_abk(),
        PimCommand.rd_mac(),
    ]
    model = check_against_model(cfg, cmds)
    assert model.outputs[0].values == tuple(int(v) for v in w[0])


def test_bf16_random_flow_control_values_exact():
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, dtype="bfloat16", acc="float32", timing=FAST)
    _, _, _, cmds = _bf16_gemv_program(cfg, 4, 16, seed=8)
    check_against_model(cfg, cmds, valid_prob=0.6, ready_prob=0.5, seed=3)
