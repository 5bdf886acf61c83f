"""Host mapping of y = W x onto PIM channels: layout, command streams, packing and cycle estimates."""

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import QUICK_TIMING, PimCommand, PimConfig, PimModel, PimOp, run_program
from hwgen.host.pim_mapping import calibration_commands, gemv_cycles, pack_command, plan_gemv, unpack_output

T = QUICK_TIMING


def _run_gemv(cfg, n, k, channels, seed):
    rng = np.random.default_rng(seed)
    fmt = cfg.dtype_format
    w = rng.integers(fmt.min_value, fmt.max_value + 1, size=(n, k))
    x = rng.integers(fmt.min_value, fmt.max_value + 1, size=k)
    layout = plan_gemv(cfg, n, k, channels)
    outputs = []
    for ch in range(channels):
        model = PimModel(cfg)
        model.run(layout.weight_commands(w, ch))
        outputs.append(model.run(layout.gemv_commands(x)).outputs)
    return layout, w, x, layout.assemble(outputs)


@pytest.mark.parametrize(
    ("banks", "cols", "lanes", "n", "k", "channels", "acc"),
    [
        (2, 4, 4, 5, 20, 1, "int32"),  # two chunks, ragged last chunk and last group
        (4, 2, 8, 9, 40, 2, "int32"),  # three chunks over two channels
        (3, 3, 2, 7, 5, 3, "int16"),  # one partial chunk, 16-bit wrap
        (2, 2, 2, 1, 1, 1, "int16"),
    ],
)
def test_gemv_through_the_model_equals_the_reference(banks, cols, lanes, n, k, channels, acc):
    cfg = PimConfig(banks=banks, rows=16, cols=cols, lanes=lanes, acc=acc, timing=T)
    layout, w, x, y = _run_gemv(cfg, n, k, channels, seed=n * k)
    assert np.array_equal(y, layout.reference(w, x))


BF16 = {"dtype": "bfloat16", "acc": "float32"}


def _run_bf16_gemv(cfg, w, x, channels):
    layout = plan_gemv(cfg, *w.shape, channels)
    outputs = []
    for ch in range(channels):
        model = PimModel(cfg)
        model.run(layout.weight_commands(w, ch))
        outputs.append(model.run(layout.gemv_commands(x)).outputs)
    return layout, layout.assemble(outputs)


@pytest.mark.parametrize(
    ("banks", "cols", "lanes", "n", "k", "channels"),
    [(2, 4, 4, 5, 37, 1), (4, 2, 16, 9, 40, 2), (3, 3, 3, 7, 5, 3), (2, 2, 2, 1, 1, 1)],
)
def test_bf16_gemv_through_the_model_equals_the_reference(banks, cols, lanes, n, k, channels):
    cfg = PimConfig(banks=banks, rows=16, cols=cols, lanes=lanes, timing=T, **BF16)
    rng = np.random.default_rng(n * k)
    w, x = rng.standard_normal((n, k)), rng.standard_normal(k)
    layout, y = _run_bf16_gemv(cfg, w, x, channels)
    assert y.dtype == np.float32
    assert np.array_equal(y.view(np.uint32), layout.reference(w, x).view(np.uint32))
    # and close to the float64 product of the bf16-rounded operands
    wq, xq = cfg.dtype_format.quantise(w, dtype=np.float64), cfg.dtype_format.quantise(x, dtype=np.float64)
    assert np.allclose(y, wq @ xq, rtol=1e-5, atol=1e-5)


def test_bf16_gemv_chunks_are_combined_in_float32():
    # k = 2 chunks of lanes * cols = 4: chunk sums 1 and 2**-24 (a tie): RNE keeps 1.0, and
    # the -0 product of a zero-padded row gives +0 from the +0 bias.
    cfg = PimConfig(banks=2, rows=4, cols=1, lanes=4, timing=T, **BF16)
    w = np.zeros((2, 8))
    w[0, 0], w[0, 4], w[1, 0] = 1.0, 2.0**-24, -0.0
    layout, y = _run_bf16_gemv(cfg, w, np.ones(8), 1)
    assert layout.chunks == 2
    assert y.view(np.uint32).tolist() == [0x3F800000, 0]
    assert np.array_equal(y.view(np.uint32), layout.reference(w, np.ones(8)).view(np.uint32))


def test_bf16_packing_carries_codes():
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=2, **BF16)
    word = pack_command(cfg, PimCommand.wr_gb(1, [0x3F80, 0xFFC1]))
    assert (word >> (4 + 1 + 2 + 1)) & 0xFFFFFFFF == 0xFFC13F80
    word = pack_command(cfg, PimCommand.wr_bias([0x80000000, 0x7F800000]))
    assert word >> (4 + 1 + 2 + 1 + 32) == 0x7F80000080000000
    _, data, mac = unpack_output(cfg, PimOp.RD_MAC | (0x80000000 << (4 + 32)))
    assert mac == (0x80000000, 0) and data == (0, 0)


def test_bf16_gemv_cycles_equal_int8():
    int8 = PimConfig(rows=64, cols=8)
    bf16 = PimConfig(rows=64, cols=8, **BF16)
    assert gemv_cycles(plan_gemv(int8, 64, 200)) == gemv_cycles(plan_gemv(bf16, 64, 200))


def test_int16_accumulator_wraps_like_the_reference():
    cfg = PimConfig(banks=2, rows=4, cols=4, lanes=4, acc="int16", timing=T)
    w = np.full((2, 16), -128)
    x = np.full(16, 127)
    layout = plan_gemv(cfg, 2, 16)
    model = PimModel(cfg)
    model.run(layout.weight_commands(w, 0))
    y = layout.assemble([model.run(layout.gemv_commands(x)).outputs])
    assert y.tolist() == [2048, 2048]  # 16 * -16256 = -260096 = 2048 (mod 2**16)
    assert np.array_equal(y, cfg.acc_format.fit(w @ x))


def test_layout_geometry():
    cfg = PimConfig(banks=16, rows=16384, cols=64, lanes=16)
    layout = plan_gemv(cfg, 4096, 4096, channels=1)
    assert (layout.chunk, layout.chunks, layout.groups, layout.rows_used) == (1024, 4, 256, 1024)
    assert layout.output_index(0, 1, 3) == 19
    cmds = layout.gemv_commands(np.zeros(4096, dtype=np.int64))
    ops = [c.op for c in cmds]
    assert ops.count(PimOp.WR_GB) == 4 * 64 and ops.count(PimOp.MAC_ABK) == 4 * 256 * 64
    assert ops.count(PimOp.RD_MAC) == ops.count(PimOp.ACT_ABK) == 4 * 256


@pytest.mark.parametrize(
    ("args", "field"),
    [((0, 4, 1), "n"), ((4, -1, 1), "k"), ((4, 4, 0), "channels"), ((4, 4, True), "channels"), ((999, 4, 1), "n")],
)
def test_plan_errors_name_the_field(args, field):
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=2)
    with pytest.raises(ConfigError, match=f"^{field}="):
        plan_gemv(cfg, *args)


def test_operand_shape_errors():
    layout = plan_gemv(PimConfig(banks=2, rows=4, cols=2, lanes=2), 2, 3)
    with pytest.raises(ValueError, match=r"x has shape \(4,\); allowed: \(3,\)"):
        layout.gemv_commands(np.zeros(4))
    with pytest.raises(ValueError, match="W has shape"):
        layout.weight_commands(np.zeros((3, 3)), 0)


def test_calibration_case_follows_the_aim_simulator_command_by_command():
    # The AiM simulator's controller on this case (10 x WR_BIAS, MAC_ABK opsize 64, RD_MAC):
    # TMOD before WR_BIAS (reset is bank mode), WRMAC16, TMOD, [PREA of the previous row], ACT16,
    # 64 MAC16, TMOD, RDMAC16; every TMOD takes the slot at which its command was ready.
    cfg = PimConfig()
    t, n = cfg.timing, 64
    cmds = calibration_commands(cfg, rounds=10, columns=n)
    run = run_program(cfg, cmds, values=False)
    ops = [c.op for c in cmds]
    assert ops[: n + 3] == [PimOp.WR_BIAS, PimOp.ACT_ABK] + [PimOp.MAC_ABK] * n + [PimOp.RD_MAC]
    assert ops[n + 3 : n + 6] == [PimOp.WR_BIAS, PimOp.PRE_ABK, PimOp.ACT_ABK]
    # Round 0 from the first mode change at 0; round r >= 1 from its WR_BIAS, same offsets.
    wr_bias = t.tMOD
    act = wr_bias + 1 + t.tMOD
    first_mac = act + t.tRCD_MAC
    rd_mac = first_mac + (n - 1) * t.tCCD + t.tCCD + t.tMOD
    next_round = rd_mac + t.tCL_MAC + t.tRTW
    assert run.issue_cycles[: n + 3] == [wr_bias, act, *range(first_mac, first_mac + n * t.tCCD, t.tCCD), rd_mac]
    assert run.mode_changes[:3] == [0, wr_bias + 1, rd_mac - t.tMOD]
    pre = next_round + 1 + t.tMOD
    assert run.issue_cycles[n + 3 : n + 7] == [next_round, pre, pre + t.tRP, pre + t.tRP + t.tRCD_MAC]
    assert next_round == 286 and pre + t.tRP == next_round + act  # AiM: ACT16 65 after each WRMAC16
    # Every round takes next_round cycles; the last RD_MAC's data ends the case.
    assert run.outputs[-1].cycle == 9 * next_round + rd_mac + t.tCL_MAC
    assert run.cycles == 9 * next_round + rd_mac + t.tCL_MAC + 1 == 2858
    assert len(run.mode_changes) == 1 + 2 * 10 and run.refreshes == []  # 2858 < tREFI


def test_calibration_errors_name_the_field():
    cfg = PimConfig()
    with pytest.raises(ConfigError, match=r"^columns="):
        calibration_commands(cfg, columns=65)
    with pytest.raises(ConfigError, match=r"^rounds="):
        calibration_commands(cfg, rounds=0)


def test_gemv_4096_cycles_scale_with_channels():
    cfg = PimConfig(rows=16384)
    t = cfg.timing
    one = gemv_cycles(plan_gemv(cfg, 4096, 4096, 1))
    sixteen = gemv_cycles(plan_gemv(cfg, 4096, 4096, 16))
    # A group: WR_BIAS, mode change, ACT_ABK, 64 MACs, PRE_ABK (tRTP), mode change, RD_MAC, then
    # the next WR_BIAS after the RD_MAC data and the turnaround.
    per_group = 1 + t.tMOD + t.tRCD_MAC + 63 * t.tCCD + t.tRTP + 1 + t.tMOD + t.tCL_MAC + t.tRTW
    # Overheads beyond the MAC rounds: refresh (tRFC / tREFI = 6.3 %) and global-buffer writes.
    assert 4 * 256 * per_group < one < 1.08 * 4 * 256 * per_group
    assert 15 < one / sixteen < 16.5


def test_packing_round_trips_through_fields():
    cfg = PimConfig(banks=3, rows=6, cols=3, lanes=2)
    word = pack_command(cfg, PimCommand.act(2, 5))
    assert word & 0xF == PimOp.ACT and (word >> 4) & 0b11 == 2 and (word >> 6) & 0b111 == 5
    word = pack_command(cfg, PimCommand.wr_gb(1, [-1, 2]))
    assert (word >> 11) & 0xFFFF == 0x02FF
    out = PimOp.RD_MAC | (0xAB << 4) | (0xFFFFFFFF << (4 + 16)) | (7 << (4 + 16 + 32))
    assert unpack_output(cfg, out) == (PimOp.RD_MAC, (0xAB, 0), (0xFFFFFFFF, 7, 0))
