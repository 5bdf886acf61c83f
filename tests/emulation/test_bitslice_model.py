"""Golden bit-slice models: digit recodings reconstruct their values, MAC and fusion models are exact."""

import numpy as np
import pytest

from hwgen.emulation import IntFormat, int32
from hwgen.emulation.bitslice import (
    SliceCoding,
    bitslice_dot,
    carry_save_add,
    fused_lanes,
    fusion_dot,
)
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, pe_cycles, plan_fusion_gemm

CODINGS = [SliceCoding("radix4", 2), SliceCoding("unsigned", 2), SliceCoding("unsigned", 1)]


@pytest.mark.parametrize("coding", CODINGS, ids=lambda c: f"{c.encoding}{c.slice_bits}")
@pytest.mark.parametrize("bits", range(2, 9))
def test_digits_reconstruct_every_value(coding, bits):
    values = np.arange(-(1 << (bits - 1)), 1 << (bits - 1))
    digits = coding.digits(values, bits)
    weights = 1 << (coding.slice_bits * np.arange(digits.shape[-1]))
    assert (digits * weights).sum(axis=-1).tolist() == values.tolist()
    lo, hi = (-2, 2) if coding.encoding == "radix4" else (-(1 << (coding.slice_bits - 1)), (1 << coding.slice_bits) - 1)
    assert digits.min() >= lo and digits.max() <= hi


def test_radix4_digits_known_values():
    coding = SliceCoding()
    # 0x55 = 85 -> digits 1, 1, 1, 1; -128 -> 0, 0, 0, -2; 7 -> -1, 2, 0, 0.
    assert coding.digits([85, -128, 7], 8).tolist() == [[1, 1, 1, 1], [0, 0, 0, -2], [-1, 2, 0, 0]]
    assert coding.nonzero([0, 85, -128, 7, -1], 8).tolist() == [0, 4, 1, 2, 1]


def test_radix4_nonzero_digits_do_not_depend_on_precision():
    # Why the PE recodes radix-4 at max_bits: a narrower value's digits are the same plus zeros.
    coding = SliceCoding()
    for bits in range(2, 8):
        v = np.arange(-(1 << (bits - 1)), 1 << (bits - 1))
        assert (coding.nonzero(v, bits) == coding.nonzero(v, 8)).all()


def test_twos_complement_slices_pay_for_negative_numbers():
    coding = SliceCoding("unsigned", 2)
    assert coding.nonzero([-1], 8).tolist() == [4]
    assert coding.nonzero([-1], 2).tolist() == [1]
    assert SliceCoding().nonzero([-1], 8).tolist() == [1]


def test_carry_save_step_preserves_the_sum():
    rng = np.random.default_rng(0)
    width = 12
    s, c = np.zeros(100, dtype=np.uint64), np.zeros(100, dtype=np.uint64)
    total = np.zeros(100, dtype=np.int64)
    for _ in range(20):
        x = rng.integers(-3000, 3000, size=100)
        s, c = carry_save_add(s, c, x, width)
        total += x
    assert (((s + c) & np.uint64(0xFFF)).astype(np.int64) == total % 4096).all()


@pytest.mark.parametrize("coding", CODINGS, ids=lambda c: f"{c.encoding}{c.slice_bits}")
def test_bitslice_dot_is_exact_and_counts_cycles(coding):
    rng = np.random.default_rng(1)
    for a_bits, w_bits in [(8, 8), (2, 8), (5, 3)]:
        a = rng.integers(-(1 << (a_bits - 1)), 1 << (a_bits - 1), size=(40, 9))
        w = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(40, 9))
        res = bitslice_dot(a, w, a_bits, w_bits, coding, int32)
        assert res.acc.tolist() == (a * w).sum(axis=1).tolist()
        want = [sum(max(1, int(np.count_nonzero(coding.digits([x], a_bits)))) for x in row) for row in a]
        assert res.cycles.tolist() == want
        assert pe_cycles(coding, a, a_bits) == sum(want)


def test_bitslice_dot_wraps_the_accumulator():
    acc = IntFormat("int16", 16)
    a = np.full((1, 4), -128)
    res = bitslice_dot(a, a, 8, 8, SliceCoding(), acc)
    assert res.acc.tolist() == [acc.fit(4 * 16384).item()] == [0]


def test_bitslice_dot_rejects_bad_precision_and_range():
    with pytest.raises(ConfigError, match="a_bits=9"):
        bitslice_dot([[1]], [[1]], 9, 8, SliceCoding(), int32)
    with pytest.raises(ValueError, match="a value 8 does not fit 4 bits"):
        bitslice_dot([[8]], [[1]], 4, 8, SliceCoding(), int32)
    with pytest.raises(ValueError, match="w value -3 does not fit 2 bits"):
        bitslice_dot([[1]], [[-3]], 8, 2, SliceCoding(), int32)


def test_fused_lanes_match_bit_fusion():
    coding = SliceCoding("unsigned", 2)
    got = {(a, w): fused_lanes(a, w, coding) for a, w in [(8, 8), (8, 4), (4, 4), (8, 2), (2, 2), (3, 5)]}
    assert got == {(8, 8): 1, (8, 4): 2, (4, 4): 4, (8, 2): 4, (2, 2): 16, (3, 5): 2}


@pytest.mark.parametrize("coding", CODINGS, ids=lambda c: f"{c.encoding}{c.slice_bits}")
def test_fusion_dot_is_exact(coding):
    rng = np.random.default_rng(2)
    for a_bits, w_bits in [(8, 8), (4, 4), (2, 2), (8, 2), (3, 7)]:
        a = rng.integers(-(1 << (a_bits - 1)), 1 << (a_bits - 1), size=(8, 37))
        w = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(8, 37))
        assert fusion_dot(a, w, a_bits, w_bits, coding, int32).tolist() == (a * w).sum(axis=1).tolist()


def test_fusion_plan_cycles_and_tiles():
    cfg = BitSliceConfig(rows=2, cols=3)
    plan = plan_fusion_gemm(cfg, 5, 33, 4, 4, 4)
    assert plan.lanes == 4 and plan.beats == 9
    assert len(plan.tiles) == 3 * 2
    assert plan.cycles == 6 * 9 + 2
    rng = np.random.default_rng(3)
    a, b = rng.integers(-8, 8, size=(5, 33)), rng.integers(-8, 8, size=(33, 4))
    tiles = plan.tile_outputs(a, b)
    full = np.zeros((6, 6), dtype=np.int64)
    for (m0, n0), t in zip(plan.tiles, tiles, strict=True):
        full[m0 : m0 + 2, n0 : n0 + 3] = t
    assert (full[:5, :4] == a @ b).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rows": 0}, "rows"),
        ({"cols": 17}, "cols"),
        ({"encoding": "booth8"}, "encoding"),
        ({"slice_bits": 3}, "slice_bits"),
        ({"encoding": "radix4", "slice_bits": 1}, "slice_bits"),
        ({"max_bits": 6}, "max_bits"),
        ({"acc": "int8"}, "acc"),
        ({"unit": "core"}, "unit"),
    ],
)
def test_config_errors_name_field_value_and_allowed(kwargs, field):
    with pytest.raises(ConfigError) as info:
        BitSliceConfig(**kwargs)
    assert info.value.field == field
    assert "allowed" in str(info.value)


def test_config_round_trips_and_rejects_unknown_keys():
    cfg = BitSliceConfig(rows=3, encoding="unsigned", slice_bits=1)
    assert BitSliceConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="colz"):
        BitSliceConfig.from_dict({"colz": 2})
