"""L-Mul: both definitions and every policy against a scalar Fraction reference."""

import math
from fractions import Fraction

import numpy as np
import pytest

from hwgen import emulation as emu
from hwgen.emulation import FormatError, LMul, lmul
from hwgen.emulation.lmul import lmul_offset_bits


def ref_lmul(fmt, ca: int, cb: int, definition: str, subnormal="flush", underflow="flush", overflow="format"):
    """L-Mul of two codes from the definition, on values (NaN-free operands only)."""
    m = fmt.man_bits
    sign = -1 if (ca ^ cb) >> (fmt.width - 1) else 1
    ops = []
    for c in (ca, cb):
        e, man = (c >> m) & ((1 << fmt.exp_bits) - 1), c & ((1 << m) - 1)
        if e == 0 and man == 0:
            return 0.0 * sign
        if e == 0:
            if subnormal == "flush":
                return 0.0 * sign
            if subnormal == "normalize":
                v = Fraction(man, 2**m) * Fraction(2) ** (1 - fmt.bias)
                e2 = math.floor(math.log2(v))
                ops.append((v / Fraction(2) ** e2 - 1, e2))
                continue
        ops.append((Fraction(man, 2**m), e - fmt.bias))
    (xm, xe), (ym, ye) = ops
    s = xm + ym + Fraction(1, 2 ** lmul_offset_bits(m))
    if definition == "formula":
        v = (1 + s) * Fraction(2) ** (xe + ye)
    else:
        k = math.floor(s)
        v = (1 + s - k) * Fraction(2) ** (xe + ye + k)
    if v < Fraction(fmt.min_normal) and underflow == "flush":
        return 0.0 * sign
    if v > Fraction(fmt.max_finite):
        if overflow == "saturate" or (overflow == "format" and fmt.resolved_overflow == "saturate"):
            return sign * fmt.max_finite
        return math.nan if overflow == "format" and fmt.resolved_overflow == "nan" else sign * math.inf
    return sign * float(v)


@pytest.mark.parametrize(
    ("definition", "pairs"),
    [
        ("integer_add", [(1.5, 1.5, 2.25), (1.75, 1.75, 3.25), (1.0, 1.0, 1.125), (-1.5, 1.5, -2.25)]),
        ("formula", [(1.5, 1.5, 2.125), (1.75, 1.75, 2.625), (1.0, 1.0, 1.125), (1.5, -1.5, -2.125)]),
    ],
)
def test_worked_examples(definition, pairs):
    f = emu.float8_e4m3fn
    a, b, want = (np.array(c) for c in zip(*pairs, strict=True))
    np.testing.assert_array_equal(lmul(f.encode(a), f.encode(b), f, definition), want)


@pytest.mark.parametrize("fmt", [emu.float8_e4m3fn, emu.float8_e5m2, emu.float8_e4m3], ids=lambda f: f.name)
@pytest.mark.parametrize("definition", ["integer_add", "formula"])
def test_all_pairs_of_8bit_formats(fmt, definition):
    lm = LMul(fmt, definition)
    c = np.arange(256)
    got = lm(c[:, None], c[None, :], dtype=np.float64)
    vals = fmt.decode(c, dtype=np.float64)
    for i in range(0, 256, 3):
        for j in range(256):
            if np.isnan(vals[i]) or np.isnan(vals[j]) or np.isinf(vals[i]) or np.isinf(vals[j]):
                continue
            want = ref_lmul(fmt, i, j, definition)
            g = got[i, j]
            assert (np.isnan(g) and math.isnan(want)) or (g == want and np.signbit(g) == np.signbit(want)), (i, j)


@pytest.mark.parametrize("fmt", [emu.bfloat16, emu.float16], ids=lambda f: f.name)
@pytest.mark.parametrize("definition", ["integer_add", "formula"])
def test_16bit_formats_random_pairs(fmt, definition):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 1 << 16, 3000)
    b = rng.integers(0, 1 << 16, 3000)
    ok = np.isfinite(fmt.decode(a)) & np.isfinite(fmt.decode(b))
    a, b = a[ok], b[ok]
    got = LMul(fmt, definition)(a, b, dtype=np.float64)
    want = np.array([ref_lmul(fmt, int(x), int(y), definition) for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "policy",
    [
        {"subnormal": "normalize"},
        {"underflow": "keep"},
        {"overflow": "saturate"},
        {"subnormal": "normalize", "underflow": "keep", "overflow": "inf"},
    ],
)
def test_policies(policy):
    fmt = emu.float8_e4m3fn
    lm = LMul(fmt, **policy)
    c = np.arange(256)
    got = lm(c[:, None], c[None, :], dtype=np.float64)
    for i in range(0, 127, 2):
        for j in range(0, 127):
            want = ref_lmul(fmt, i, j, "integer_add", **policy)
            assert got[i, j] == want or (np.isnan(got[i, j]) and math.isnan(want)), (i, j)


def test_specials_and_raw_zero():
    f = emu.float8_e5m2
    inf, nan, one, zero = 0x7C, 0x7E, 0x3C, 0x00
    got = lmul([inf, inf, nan, 0x80 | inf], [one, zero, one, one], f)
    assert got[0] == np.inf and np.isnan(got[1]) and np.isnan(got[2]) and got[3] == -np.inf
    # Without a zero detector the adder sees 0 as 2**-bias: 0 x 1 is not 0.
    raw = LMul(f, zero="raw", subnormal="raw", underflow="keep")
    assert raw([zero], [one])[0] == 2.0**-15 * 1.25
    assert LMul(f)([zero], [one])[0] == 0.0


def test_lut_and_arithmetic_paths_agree_and_validation():
    lm = LMul(emu.float8_e4m3fn)
    c = np.arange(256, dtype=np.int64)
    np.testing.assert_array_equal(lm(c[:, None], c[None, :]), lm._compute(c[:, None], c[None, :]).astype(np.float32))
    np.testing.assert_array_equal(lm.values([1.5], [1.5]), [2.25])
    with pytest.raises(FormatError, match="definition"):
        LMul(emu.float8_e4m3fn, "paper")
    with pytest.raises(FormatError, match="underflow"):
        LMul(emu.float8_e4m3fn, underflow="denormal")
    with pytest.raises(FormatError, match="signed FloatFormat"):
        LMul(emu.int8)
    with pytest.raises(FormatError, match="out of range"):
        lm([256], [1])


def test_offset_bits():
    assert [lmul_offset_bits(m) for m in (1, 2, 3, 4, 5, 7, 10)] == [1, 2, 3, 3, 4, 4, 4]


def test_precision_claim_four_bit_mantissa_close_to_e4m3_multiply():
    # The paper: L-Mul with a 4-bit mantissa is about as precise as e4m3 multiplication.
    rng = np.random.default_rng(0)
    x, y = rng.uniform(1, 2, 20000), rng.uniform(1, 2, 20000)
    e3m4 = emu.float8_e3m4
    lm = LMul(e3m4, underflow="keep")(e3m4.encode(x), e3m4.encode(y), dtype=np.float64)
    err_lmul = np.mean(np.abs(lm - x * y) / (x * y))
    e4 = emu.float8_e4m3fn
    err_e4m3 = np.mean(np.abs(e4.quantise(e4.quantise(x) * e4.quantise(y)) - x * y) / (x * y))
    assert err_lmul < 1.5 * err_e4m3
