"""Integer inputs (int64, uint64, Python ints of any size) are rounded once, exactly, by every format."""

from bisect import bisect_left
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from _reference import exact_code, floor_log2, round_code, round_int

from hwgen import emulation as emu
from hwgen.emulation import (
    FORMATS,
    ROUNDING_MODES,
    BFPFormat,
    BipolarFormat,
    FloatFormat,
    FormatError,
    IntFormat,
    MXFormat,
)

DIRECT = [m for m in ROUNDING_MODES if m != "stochastic"]
FLOATS = [f for f in FORMATS.values() if isinstance(f, FloatFormat) and f.specials != "fnu"]


def tie_ints(fmt: FloatFormat) -> list[int]:
    """Integers at, and one either side of, the midpoints of fmt's largest-spaced integer values."""
    out = []
    for k in (53, 54, 60, 62, 63):
        if fmt.max_finite < 2.0 ** (k + 1):
            continue
        step = 2 ** (k - fmt.man_bits)  # spacing of fmt in [2**k, 2**(k+1))
        for base in (2**k, 2**k + step, 2**k + 2 * step, 2 ** (k + 1) - step):
            mid = base + step // 2
            out += [mid - 1, mid, mid + 1, base]
    top = int(fmt.max_finite)
    if top >= 2:
        out += [top, top + 1, top - 1]
    return out


def int_samples(fmt: FloatFormat) -> list[int]:
    ints = [*tie_ints(fmt), 0, 1, 3, 2**53 + 1, 2**62 + 1, 2**63 - 1]
    ints = [v for v in ints if v < 2**63]
    return sorted(set(ints + [-v for v in ints] + [-(2**63)]))


@pytest.mark.parametrize("mode", DIRECT)
def test_exact_reference_agrees_with_the_grid_reference(mode):
    # exact_code (field arithmetic on rationals) against round_code (bisection of the value grid).
    rng = np.random.default_rng(1)
    for fmt in (emu.float8_e4m3fn, emu.float8_e5m2, emu.float8_e4m3fnuz, emu.float4_e2m1fn, emu.bfloat16):
        f = replace(fmt, rounding=mode)
        vals = f.decode(np.arange(f.max_code + 1), np.float64)
        x = np.concatenate([vals, (vals[1:] + vals[:-1]) / 2, rng.uniform(-2, 2, 200) * f.max_finite])
        x = rng.choice(x, min(x.size, 600), replace=False)
        x = np.concatenate([x, np.nextafter(x, np.inf), -x])
        for v in x:
            assert exact_code(f, Fraction(float(v)), mode, bool(np.signbit(v))) == round_code(f, float(v), mode), v


@pytest.mark.parametrize("mode", DIRECT)
@pytest.mark.parametrize("fmt", FLOATS, ids=lambda f: f.name)
def test_float_formats_round_int64_once(fmt, mode):
    f = replace(fmt, rounding=mode)
    ints = int_samples(f)
    want = [exact_code(f, Fraction(v), mode) for v in ints]
    np.testing.assert_array_equal(f.encode(np.array(ints, np.int64)).astype(np.int64), want)


@pytest.mark.parametrize("fmt", [emu.float32, emu.bfloat16, emu.float8_e4m3fn], ids=lambda f: f.name)
def test_float_formats_round_uint64_and_python_ints_once(fmt):
    big = [2**64 - 1, 2**63, 2**63 + 2**39 + 1, 2**64 - 2**39 - 1]
    want = [exact_code(fmt, Fraction(v)) for v in big]
    np.testing.assert_array_equal(fmt.encode(np.array(big, np.uint64)).astype(np.int64), want)
    huge = [2**70 + 2**46 + 1, -(2**100) - 1, 10**400, -(10**400), 3, 2**64 + 1]
    want = [exact_code(fmt, Fraction(v)) for v in huge]
    np.testing.assert_array_equal(fmt.encode(huge).astype(np.int64), want)
    assert int(fmt.encode(2**60 + 2**36 + 1)) == exact_code(fmt, Fraction(2**60 + 2**36 + 1))


def test_float32_named_case():
    assert int(emu.float32.encode(np.int64(2**60 + 2**36 + 1))) == 0x5D800001
    assert emu.float32.quantise(np.int64(2**60 + 2**36 + 1)) == 2.0**60 + 2.0**37


def test_float_stochastic_int_inputs_stay_between_neighbours():
    fmt = replace(emu.bfloat16, rounding="stochastic")
    ints = int_samples(fmt)
    lo = [exact_code(fmt, Fraction(v), "toward_zero") for v in ints]
    hi = [exact_code(fmt, Fraction(v), "nearest_away" if v == 0 else ("up" if v > 0 else "down")) for v in ints]
    got = fmt.encode(np.tile(np.array(ints, np.int64), 30), rng=4).reshape(30, -1).astype(np.int64)
    assert ((got == lo) | (got == hi)).all()


def ref_e8m0(n: int) -> int:
    f = emu.float8_e8m0fnu
    if n <= 0:
        return f.nan_code
    k = floor_log2(Fraction(n))
    frac = Fraction(n, 2**k) - 1
    code = k + f.bias
    code += frac > Fraction(1, 2) or (frac == Fraction(1, 2) and code % 2 == 1)
    return code if code <= f.max_code else f.nan_code


def test_e8m0_rounds_ints_once():
    ints = [3 * 2**60 + 1, 3 * 2**60, 3 * 2**60 - 1, 3 * 2**61 + 1, 3 * 2**61, 2**63 - 1, 1, 3, 0, -5]
    want = [ref_e8m0(v) for v in ints]
    np.testing.assert_array_equal(emu.float8_e8m0fnu.encode(np.array(ints, np.int64)).astype(np.int64), want)


# --- IntFormat and BipolarFormat ----------------------------------------------------------


def test_int_format_int_inputs_are_exact():
    sat = IntFormat("s40", 40, overflow="saturate")
    assert sat.fit(np.int64(2**62 + 1)) == sat.max_value
    assert emu.int32.fit(np.int64(2**53 + 1)) == 1
    i64 = IntFormat("i64", 64, overflow="saturate")
    np.testing.assert_array_equal(i64.fit(np.array([2**63 - 1, -(2**63) + 1], np.int64)), [2**63 - 1, -(2**63) + 1])
    np.testing.assert_array_equal(i64.fit(np.array([2**64 - 1], np.uint64)), [2**63 - 1])
    # Python ints beyond int64/uint64 wrap or saturate exactly.
    huge = [2**70 + 5, -(2**70) - 5, 2**64 + 2**31 + 7, 3]
    np.testing.assert_array_equal(emu.int32.fit(huge), [5, -5, 2**31 + 7 - 2**32, 3])
    np.testing.assert_array_equal(sat.fit(huge), [sat.max_value, sat.min_value, sat.max_value, 3])
    assert int(emu.int8.encode(2**100 + 255)) == 0xFF
    np.testing.assert_array_equal(i64.quantise([2**100]), [2**63 - 1])


def test_bipolar_int_inputs_saturate_exactly():
    b3 = BipolarFormat("bp3", 3)
    got = b3.encode(np.array([2**62, -(2**62), 4, -4, 2**63 - 1], np.int64))
    assert got.tolist() == [7, 0, 6, 2, 7]  # 4 and -4 are ties: even codes 6 (value 5) and 2 (value -3)
    assert b3.encode(np.array([2**64 - 1], np.uint64)).tolist() == [7]
    assert b3.encode([2**70, -(2**70)]).tolist() == [7, 0]


def test_non_integer_objects_are_refused_with_the_dtype():
    with pytest.raises(FormatError, match="object"):
        emu.float32.encode(np.array([1, "a"], dtype=object))
    with pytest.raises(FormatError, match="object"):
        emu.int8.fit(np.array([1.5, None], dtype=object))


# --- block formats and posits -------------------------------------------------------------


def ref_mx_block(fmt: MXFormat, ints: list[int]) -> tuple[int, list[int]]:
    amax = max(abs(v) for v in ints)
    x = max(-127, min(127, floor_log2(Fraction(amax)) - fmt.emax)) if amax else -127
    codes = []
    for v in ints:
        y = Fraction(v) / Fraction(2) ** x
        if isinstance(fmt.element, IntFormat):
            q = max(-127, min(127, round_int(y * 2 ** (fmt.element.bits - 2), "nearest_even")))
            codes.append(q & 0xFF)
        else:
            codes.append(exact_code(fmt.element, y))
    return x + 127, codes


@pytest.mark.parametrize("fmt", [emu.mxfp8_e4m3, emu.mxfp6_e2m3, emu.mxfp4, emu.mxint8], ids=lambda f: f.name)
def test_mx_int_inputs_round_once(fmt):
    # Each block's max sits one above an element tie; float64 would drop the 1 and break the tie evenly.
    rows = []
    for k in (55, 60, 62):
        prec = fmt.element.bits - 2 if isinstance(fmt.element, IntFormat) else fmt.element.man_bits
        for j in range(1, 1 << prec):
            mid = (2 * ((1 << prec) + j) + 1) * 2 ** (k - prec - 1)  # between grid points j and j + 1
            rows.append([mid + 1, -(mid - 1), 2 ** (k - 3) + 1, 5])
    x = np.array(rows, np.int64)
    mx = replace(fmt, block_size=4)
    scales, elems = mx.encode(x)
    for r, row in enumerate(rows):
        s, c = ref_mx_block(mx, row)
        assert int(scales[r, 0]) == s and elems[r].tolist() == c, (r, row)


def test_bfp_int_inputs_round_once():
    fmt = BFPFormat("bfp8", 4, man_bits=7)
    rows = [[(2 * (64 + j) + 1) * 2**50 + 1, 2**50 + 1, -(2**51) - 1, 3] for j in range(0, 64, 7)]
    exps, elems = fmt.encode(np.array(rows, np.int64))
    for r, row in enumerate(rows):
        e = floor_log2(Fraction(max(abs(v) for v in row)))
        assert int(exps[r, 0]) - fmt.exp_bias == e
        for v, c in zip(row, elems[r].tolist(), strict=True):
            mag = min(round_int(abs(Fraction(v)) * Fraction(2) ** (fmt.man_bits - 1 - e), "nearest_even"), 127)
            assert c == (mag | (128 if v < 0 else 0)), (r, v)


def test_posit_int_inputs_round_once():
    fmt = emu.posit16
    mids = fmt._tables[1]
    big = [int(m) for m in mids if 2.0**53 < m < 2.0**62 and float(m).is_integer()]
    assert big
    ints = sorted({v + d for v in big for d in (-1, 0, 1)})
    got = fmt.encode(np.array(ints, np.int64)).astype(np.int64)
    exact_mids = [Fraction(float(m)) for m in mids]
    for v, c in zip(ints, got.tolist(), strict=True):
        idx = bisect_left(exact_mids, Fraction(v))
        want = idx + 1
        if idx < len(exact_mids) and exact_mids[idx] == v and want % 2:
            want += 1
        assert c == want, v


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 on this platform")
def test_floats_wider_than_float64_are_refused_everywhere():
    # 2.5 + 2**-60 in long double would round to the tie 2.5 in float64 first: refuse, not double-round.
    x = np.array([2.5], np.longdouble) + np.longdouble(2) ** -60
    encoders = (emu.int8.fit, emu.bipolar1.encode, emu.mxfp8_e4m3.encode, BFPFormat("b", 4, 7).encode)
    for encode in (*encoders, emu.posit8.encode, emu.float32.encode):
        with pytest.raises(FormatError, match="not supported"):
            encode(x)
