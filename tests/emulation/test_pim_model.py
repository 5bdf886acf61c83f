"""The PIM channel's golden model: config validation, every timing rule, refresh, values, errors."""

import dataclasses

import numpy as np
import pytest

from hwgen.emulation import bfloat16, float32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import (
    QUICK_TIMING,
    PimCommand,
    PimCommandError,
    PimConfig,
    PimModel,
    PimOp,
    PimTiming,
    float_mac,
    run_program,
)

# No modes, bank-read / write recovery and read latencies equal to tCCD / tCL: the hand cycles below
# only follow the base rules; the AiM rules have their own tests.
T = dataclasses.replace(QUICK_TIMING, tCL_MAC=4, tRTP=2, tWR=2, tRTW=0, tMOD=0, refresh=False)
C = PimCommand


def test_defaults_are_aim_timing():
    t = PimTiming()
    assert (t.tRCD_MAC, t.tRP, t.tRAS, t.tCCD, t.tCL, t.tRRD, t.tFAW) == (56, 32, 54, 2, 50, 11, 42)
    # AiM simulator GDDR6_AiM_timing: nRTP 12, nCWL + nBL + nWR = 6 + 2 + 33, nCLREG + nBL = 0 + 2,
    # RDMAC16 -> WRMAC16 5 after issue = 3 after the data, nMODCH 32.
    assert (t.tRTP, t.tWR, t.tCL_MAC, t.tRTW, t.tMOD) == (12, 41, 2, 3, 32)
    assert PimConfig().banks == 16 and PimConfig().lanes == 16


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"banks": 0}, "banks"),
        ({"lanes": 65}, "lanes"),
        ({"rows": 2.0}, "rows"),
        ({"dtype": "float8_e4m3fn"}, "dtype"),
        ({"dtype": "bfloat16"}, "acc"),  # default acc int32 does not go with bfloat16 lanes
        ({"dtype": "int8", "acc": "float32"}, "acc"),
        ({"acc": "int8"}, "acc"),
        ({"timing": {"tRP": 3}}, "timing"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}="):
        PimConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tCCD": 1}, "tCCD"),
        ({"tCL": 1}, "tCL"),
        ({"tRP": 0}, "tRP"),
        ({"tRTP": 1}, "tRTP"),
        ({"tCL_MAC": 0}, "tCL_MAC"),
        ({"tWR": 0}, "tWR"),
        ({"tRTW": -1}, "tRTW"),
        ({"tMOD": -1}, "tMOD"),
        ({"tMOD": 2.0}, "tMOD"),
        ({"refresh": 1}, "refresh"),
        ({"tREFI": 240}, "tREFI"),
    ],
)
def test_timing_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}="):
        PimTiming(**kwargs)


def test_config_round_trip_and_unknown_key():
    cfg = PimConfig(banks=3, timing=dataclasses.replace(T, tRP=7))
    assert PimConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=r"^colz="):
        PimConfig.from_dict({"colz": 3})


def test_every_single_bank_rule_by_hand():
    cfg = PimConfig(banks=6, rows=4, cols=2, lanes=2, timing=T)
    prog = [C.act(b, 0) for b in range(5)] + [
        C.rd(0, 1),  # tRCD from ACT@0 -> 5, but in order after the 5th ACT
        C.pre(0),  # tRAS from ACT@0 -> 9, tCCD from RD@17 -> 19
        C.act(0, 1),  # tRP -> 23
        C.wr(0, 0, [1, 2]),  # tRCD -> 28
        C.rd_mac(),  # tCCD -> 30
    ]
    run = run_program(cfg, prog)
    # ACTs: tRRD 3 apart, the 5th waits for tFAW (0 + 16)
    assert run.issue_cycles == [0, 3, 6, 9, 16, 17, 19, 23, 28, 30]
    assert [o.cycle for o in run.outputs] == [21, 34]  # tCL after each read
    assert run.cycles == 35


def test_read_return_slot_serialises_reads():
    cfg = PimConfig(banks=1, rows=1, cols=2, lanes=1, timing=T)
    run = run_program(cfg, [C.act(0, 0), C.rd(0, 0), C.rd(0, 1), C.rd_mac()])
    assert run.issue_cycles == [0, 5, 10, 15]  # previous read + tCL + 1


def test_all_bank_rules_by_hand():
    cfg = PimConfig(banks=2, rows=4, cols=4, lanes=2, timing=T)
    prog = [C.wr_gb(0, [1, 1]), C.act_abk(2), C.mac_abk(0), C.mac_abk(1), C.pre_abk(), C.act_abk(3), C.pre_abk()]
    run = run_program(cfg, prog)
    # MAC waits tRCD_MAC (1 + 7), PRE_ABK waits tRAS (1 + 9), ACT_ABK tRP (10 + 4), PRE tRAS (14 + 9)
    assert run.issue_cycles == [0, 1, 8, 10, 12, 16, 25]


def test_mode_changes_by_hand():
    timing = dataclasses.replace(T, tMOD=6)
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=1, timing=timing)
    prog = [C.wr_gb(0, [1]), C.wr_bias([0, 0]), C.act_abk(0), C.mac_abk(0), C.pre(0), C.rd_mac(), C.wr_bias([1, 1])]
    run = run_program(cfg, prog)
    # After reset the channel is in bank mode: WR_GB flips at 0 and issues at 6; WR_BIAS stays
    # in register mode (tCCD -> 8); ACT_ABK flips at 9 -> 15; MAC tRCD_MAC -> 22; PRE (bank
    # mode) tRAS -> 24; RD_MAC flips at 25 -> 31; WR_BIAS needs no flip, waits for the
    # RD_MAC data (tCL_MAC) + tRTW -> 35.
    assert run.mode_changes == [0, 9, 25]
    assert run.issue_cycles == [6, 8, 15, 22, 24, 31, 31 + timing.tCL_MAC + timing.tRTW]
    assert [o.cycle for o in run.outputs] == [31 + timing.tCL_MAC]
    off = run_program(dataclasses.replace(cfg, timing=T), prog)
    assert off.mode_changes == [] and off.issue_cycles == [0, 2, 3, 10, 12, 13, 17]


def test_bank_read_write_recovery_and_turnaround_by_hand():
    timing = dataclasses.replace(T, tRTP=6, tWR=9, tRTW=3, tCL_MAC=2)
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=1, timing=timing)
    prog = [C.act(0, 0), C.act(1, 0), C.mac_sbk(0, 0), C.pre(0), C.wr(1, 0, [1]), C.pre(1)]
    run = run_program(cfg, prog)
    # ACT 0, 3; MAC tRCD -> 5; PRE(0) tRAS 9 vs tRTP 5 + 6 = 11; WR(1) 12; PRE(1) tWR 12 + 9 = 21
    assert run.issue_cycles == [0, 3, 5, 11, 12, 21]
    prog = [C.act(0, 0), C.rd(0, 0), C.wr(0, 1, [1]), C.rd_mac(), C.wr_bias([0, 0]), C.wr_gb(0, [2])]
    run = run_program(cfg, prog)
    # RD at 5 (data 9) -> WR at 9 + tRTW = 12; RD_MAC read slot 5 + tCL + 1 = 10 -> 14 (tCCD);
    # data 16 -> WR_BIAS 19; WR_GB tCCD -> 21
    assert run.issue_cycles == [0, 5, 12, 14, 19, 21]
    assert [o.cycle for o in run.outputs] == [9, 16]


def test_refresh_before_act_when_due_and_all_closed():
    timing = dataclasses.replace(T, refresh=True, tREFI=20, tRFC=6)
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=1, timing=timing)
    run = run_program(cfg, [C.act_abk(0), C.pre_abk(), C.act_abk(1), C.pre_abk(), C.act_abk(2)])
    # third ACT_ABK could go at 26 (tRP), the refresh due at 20 goes first: 26, then ACT at 26 + tRFC
    assert run.issue_cycles == [0, 9, 13, 22, 32]
    assert run.refreshes == [26]


def test_refresh_postponed_while_a_bank_is_open():
    timing = dataclasses.replace(T, refresh=True, tREFI=20, tRFC=6)
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=1, timing=timing)
    prog = [C.act(0, 0)] + [C.wr(0, 0, [1])] * 12 + [C.act(1, 0), C.pre_abk(), C.act(1, 1)]
    run = run_program(cfg, prog)
    assert run.issue_cycles[13] == 28  # refresh due at 20, but bank 0 is open: no refresh
    assert run.refreshes == [run.issue_cycles[14] + 4]  # once all closed, after tRP
    assert run.issue_cycles[15] == run.refreshes[0] + 6  # then tRFC


def test_mac_values_wrap_in_the_accumulator():
    cfg = PimConfig(banks=2, rows=2, cols=2, lanes=4, acc="int16", timing=T)
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(2, 2, 4))
    x = rng.integers(-128, 128, size=(2, 4))
    w[0, 0], x[0] = -128, -128  # corner: largest products
    bias = [32767, -32768]
    prog = [C.wr_gb(c, x[c]) for c in range(2)] + [C.act_abk(1)]
    prog += [C.wr(b, c, w[b, c]) for b in range(2) for c in range(2)]
    prog += [C.wr_bias(bias), C.mac_abk(0), C.mac_abk(1), C.rd_mac()]
    got = run_program(cfg, prog).outputs[0].values
    want = cfg.acc_format.fit(np.array(bias) + np.einsum("bcl,cl->b", w, x))
    assert got == tuple(want)


def test_timing_only_mode_gives_the_same_cycles():
    cfg = PimConfig(banks=2, rows=2, cols=2, lanes=2, timing=T)
    prog = [C.act_abk(0), C.wr(0, 0, [3, 4]), C.mac_abk(0), C.rd(1, 1), C.pre_abk(), C.rd_mac()]
    full, fast = run_program(cfg, prog), run_program(cfg, prog, values=False)
    assert full.issue_cycles == fast.issue_cycles
    assert [o.cycle for o in full.outputs] == [o.cycle for o in fast.outputs]


@pytest.mark.parametrize(
    ("prog", "match"),
    [
        ([C.mac_abk(0)], "command 0 \\(MAC_ABK col=0\\): bank 0 has no open row"),
        ([C.act(0, 0), C.mac_abk(0)], "command 1 .*bank 1 has no open row"),
        ([C.mac_sbk(1, 0)], "bank 1 has no open row"),
        ([C.act(0, 0), C.act(0, 1)], "bank 0 already has row 0 open"),
        ([C.act(1, 0), C.act_abk(0)], "bank 1 has a row open"),
        ([C.act(2, 0)], "bank=2 is out of range; allowed: 0..1"),
        ([C.act_abk(4)], "row=4 is out of range"),
        ([C.wr_gb(2, [0, 0])], "col=2 is out of range"),
        ([C.wr_gb(0, [0])], "data has 1 values; allowed: exactly 2"),
        ([C.wr_gb(0, [0, 128])], "data value 128 does not fit int8"),
        ([C.wr_bias([0, 2**31])], "bias value 2147483648 does not fit int32"),
        ([C(op=11)], "op 11 is not a PimOp"),
        (["RD"], "not a PimCommand"),
    ],
)
def test_bad_commands_raise_clear_errors(prog, match):
    cfg = PimConfig(banks=2, rows=4, cols=2, lanes=2, timing=T)
    with pytest.raises(PimCommandError, match=match):
        run_program(cfg, prog)


def test_model_continues_from_its_state():
    cfg = PimConfig(banks=1, rows=2, cols=2, lanes=1, timing=T)
    model = PimModel(cfg)
    model.run([C.act(0, 0)])
    second = model.run([C.wr(0, 1, [5]), C.rd(0, 1)])
    assert second.issue_cycles == [5, 7] and second.outputs[0].values == (5,)
    assert PimOp.RD in {o.op for o in second.outputs}


# --- bfloat16 lanes, float32 accumulator -------------------------------------------------

BF = PimConfig(banks=2, rows=2, cols=2, lanes=4, dtype="bfloat16", acc="float32", timing=T)
NAN32, INF32, NEG0 = float32.nan_code, float32.inf_code, 0x80000000


def _bf(values):
    return bfloat16.encode(np.asarray(values, dtype=np.float64)).astype(np.int64)


def _mac(w, x, acc=0):
    """One float MAC on a single bank; lanes = len(w)."""
    return int(float_mac([acc], [_bf(w)], _bf(x), bfloat16, float32)[0])


def _f32(value) -> int:
    return int(float32.encode(np.array([value], dtype=np.float64))[0])


@pytest.mark.parametrize(
    ("w", "x", "acc", "want"),
    [
        # products of 2**-150 (half the smallest float32 subnormal) are not rounded on their own:
        # the tree adds them exactly, 2**-149 is the smallest subnormal
        ([2.0**-75, 2.0**-75], [2.0**-75, 2.0**-75], 0, 1),
        ([2.0**-75], [2.0**-75], 0, 0),  # one lane: RNE(2**-150) ties to even: +0
        ([-(2.0**-75)], [2.0**-75], 0, NEG0),  # ... -0 keeps its sign
        # the pairwise order is observable: (2**30 + 1) and (-2**30 + 1) lose the 1s
        ([2.0**15, 1, -(2.0**15), 1], [2.0**15, 1, 2.0**15, 1], 0, 0),
        ([2.0**15, -(2.0**15), 1, 1], [2.0**15, 2.0**15, 1, 1], 0, _f32(2.0)),
        # exact products above the float32 range cancel without overflowing
        ([2.0**127, -(2.0**127)], [2.0**127, 2.0**127], 0, 0),
        ([2.0**127, 2.0**127], [2.0**127, 2.0**127], 0, INF32),
        ([2.0**127, 2.0**127], [-(2.0**127), 2.0**127], 0, 0),
        # signed zeros: (-0) + (-0) = -0; +0 + (-0) = +0
        ([-0.0, -0.0], [0.0, 0.0], NEG0, NEG0),
        ([-0.0, -0.0], [0.0, 0.0], 0, 0),
        ([-0.0, 0.0], [0.0, 0.0], NEG0, 0),  # (-0) + (+0) = +0 in the tree
        # specials: NaN propagates canonically, Inf * 0 and Inf - Inf are NaN
        ([np.nan, 1], [1, 1], 0, NAN32),
        ([np.inf, 1], [0, 1], 0, NAN32),
        ([np.inf, -np.inf], [1, 1], 0, NAN32),
        ([np.inf, 1], [1, 1], _f32(-5.0), INF32),
        ([1, 1], [1, 1], _f32(-np.inf), _f32(-np.inf)),
        ([1, 1], [1, 1], 0xFFFFFFFF, NAN32),  # a NaN bias code becomes the canonical NaN
        # one RNE rounding into the register: 1 + 2**-24 ties to 1, 1 + 1.5 * 2**-24 rounds up
        ([2.0**-12], [2.0**-12], _f32(1.0), _f32(1.0)),
        ([2.0**-12, 2.0**-13], [2.0**-12, 2.0**-12], _f32(1.0), _f32(1.0 + 2.0**-23)),
    ],
)
def test_float_mac_corner_values(w, x, acc, want):
    assert _mac(w, x, acc) == want


def test_float_mac_equals_float32_arithmetic_when_products_are_exact():
    # Moderate exponents: every product is exact in float32 and every float64 pair sum is
    # exact, so float32(p0 + p1) is the tree node's single RNE rounding.
    rng = np.random.default_rng(7)
    w = _bf(rng.standard_normal((200, 4)))
    x = _bf(rng.standard_normal(4))
    acc = float32.encode(rng.standard_normal(200) * 4).astype(np.int64)
    p = bfloat16.decode(w, np.float64) * bfloat16.decode(x, np.float64)
    n01 = (p[:, 0] + p[:, 1]).astype(np.float32)
    n23 = (p[:, 2] + p[:, 3]).astype(np.float32)
    root = n01 + n23
    want = float32.decode(acc, np.float32) + root
    got = float_mac(acc, w, x, bfloat16, float32)
    assert np.array_equal(got, want.view(np.uint32).astype(np.int64))


def test_float_mac_odd_lane_count_carries_the_last_product_up():
    # lanes 3: (p0 + p1) rounded, then + p2 exact in one more rounding
    a = 1 + 2.0**-7  # bf16; a * a = 1 + 2**-6 + 2**-14
    w, x = [a, -1, 2.0**-30], [a, 1, 1]
    want = np.float32(np.float32(a * a - 1) + np.float32(2.0**-30))
    assert _mac(w, x) == int(np.array([want], np.float32).view(np.uint32)[0])


def test_bf16_commands_carry_codes_and_mac_matches_float_mac():
    rng = np.random.default_rng(3)
    w = _bf(rng.standard_normal((2, 2, 4)))
    x = _bf(rng.standard_normal((2, 4)))
    bias = [_f32(0.5), NEG0]
    prog = [C.wr_gb(c, x[c]) for c in range(2)] + [C.act_abk(1)]
    prog += [C.wr(b, c, w[b, c]) for b in range(2) for c in range(2)]
    prog += [C.wr_bias(bias), C.mac_abk(0), C.mac_sbk(1, 1), C.rd_mac(), C.rd(0, 1)]
    run = run_program(BF, prog)
    acc = float_mac(bias, w[:, 0], x[0], bfloat16, float32)
    acc[1] = float_mac(acc[1:], w[1:, 1], x[1], bfloat16, float32)[0]
    assert run.outputs[0].values == tuple(int(v) for v in acc)
    assert run.outputs[1].values == tuple(int(v) for v in w[0, 1])


def test_bf16_timing_equals_int8_timing():
    int8 = dataclasses.replace(BF, dtype="int8", acc="int32")
    prog = [C.wr_gb(0, [0] * 4), C.act_abk(0), C.mac_abk(0), C.mac_abk(1), C.pre_abk(), C.rd_mac()]
    assert run_program(BF, prog).issue_cycles == run_program(int8, prog).issue_cycles


@pytest.mark.parametrize(
    ("prog", "match"),
    [
        ([C.wr_gb(0, [0, 0, 0, 1 << 16])], "data value 65536 does not fit a bfloat16 code; allowed: 0..65535"),
        ([C.wr_bias([-1, 0])], "bias value -1 does not fit a float32 code"),
    ],
)
def test_bf16_code_range_errors(prog, match):
    with pytest.raises(PimCommandError, match=match):
        run_program(BF, prog)
