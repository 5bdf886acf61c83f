"""OCP MX and BFP block formats against a scalar exact reference."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from _reference import round_code

from hwgen import emulation as emu
from hwgen.emulation import SCALE_RULES, BFPFormat, FormatError, IntFormat, MXFormat

MX = [emu.mxfp8_e4m3, emu.mxfp8_e5m2, emu.mxfp6_e2m3, emu.mxfp6_e3m2, emu.mxfp4, emu.mxint8]


def ref_scale(amax: float, rule: str, fmt: MXFormat) -> int:
    if amax == 0:
        return -127
    fe = math.frexp(amax)[1] - 1
    emax = fmt.emax
    if rule == "floor":
        x = fe - emax
    elif rule == "ceil":
        x = fe + (amax != 2.0**fe) - emax
    elif rule == "even":
        prec = fmt.element.bits - 2 if isinstance(fmt.element, IntFormat) else fmt.element.man_bits
        r = round(Fraction(amax) / 2**fe * 2**prec)  # Python rounds Fractions half to even
        x = fe + (r == 2 ** (prec + 1)) - emax
    else:
        x = -200
        while Fraction(amax) > Fraction(fmt.elem_max) * Fraction(2) ** x:
            x += 1
    return max(-127, min(127, x))


def ref_element(fmt: MXFormat, v: float, x: int) -> int:
    y = Fraction(v) / Fraction(2) ** x
    if isinstance(fmt.element, IntFormat):
        q = max(-127, min(127, round(y * 64)))
        return q & 0xFF
    return round_code(fmt.element, float(y), "nearest_even")


def data(seed: int, shape=(6, 70)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, (*shape[:-1], 1)))
    x[0, :40] *= 1e-30
    x[1, :5] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize("rule", SCALE_RULES)
@pytest.mark.parametrize("base", MX, ids=lambda f: f.name)
def test_mx_matches_scalar_reference(base, rule):
    fmt = MXFormat(base.name, base.element, block_size=32, scale_rule=rule)
    x = data(len(rule))
    scales, elems = fmt.encode(x)
    assert scales.shape == (6, 3) and elems.shape == x.shape
    for r in range(x.shape[0]):
        for b in range(3):
            blk = x[r, 32 * b : 32 * b + 32].astype(np.float64)
            s = ref_scale(float(np.abs(blk).max()), rule, fmt)
            assert scales[r, b] == s + 127, (r, b)
            want = [ref_element(fmt, float(v), s) for v in blk]
            np.testing.assert_array_equal(elems[r, 32 * b : 32 * b + blk.size], want)


def test_mx_elements_match_ml_dtypes_cast():
    x = data(9, (16, 256))
    scales, elems = emu.mxfp8_e4m3.encode(x)
    scale = np.repeat(np.ldexp(1.0, scales.astype(int) - 127), 32, axis=-1)
    y = np.clip(x / scale, -448, 448).astype(np.float32)
    np.testing.assert_array_equal(elems, y.astype(ml_dtypes.float8_e4m3fn).view(np.uint8))


def test_floor_log2_from_exponent_bits():
    # float32 log2 of 2**k * (1 - 2**-24) returns k: the scale must not use it.
    for k in (4, 10, 40):
        v = np.float32(2.0**k * (1 - 2.0**-24))
        assert np.log2(v) == k
        scales, _ = emu.mxfp8_e4m3.encode(np.full(32, v, np.float32))
        assert scales[0] == 127 + (k - 1) - 8


def test_mx_special_blocks_and_decode():
    x = np.arange(64, dtype=np.float32)
    x[40] = np.nan
    scales, elems = emu.mxfp4.encode(x)
    assert scales[1] == 0xFF
    out = emu.mxfp4.decode(scales, elems)
    assert np.isnan(out[32:]).all() and not np.isnan(out[:32]).any()
    s, e = emu.mxfp8_e5m2.encode(np.zeros(32, np.float32))
    assert s[0] == 0 and (e == 0).all()
    inf = np.zeros(32, np.float32)
    inf[3] = np.inf
    assert emu.mxfp8_e4m3.encode(inf)[0][0] == 0xFF


@pytest.mark.parametrize("base", MX, ids=lambda f: f.name)
def test_mx_representable_values_roundtrip_and_axis(base):
    rng = np.random.default_rng(1)
    if isinstance(base.element, IntFormat):
        elems = rng.integers(-127, 128, (4, 64)) / 64.0
    else:
        codes = rng.integers(0, base.element.max_code + 1, (4, 64))
        elems = base.element.decode(codes, dtype=np.float64) * rng.choice([-1, 1], (4, 64))
    elems[:, ::32] = base.elem_max  # each block reaches the element maximum
    scale = np.ldexp(1.0, rng.integers(-20, 20, (4, 2)) - (base.emax if base.scale_rule == "floor" else 0))
    x = elems * np.repeat(scale, 32, axis=1)
    np.testing.assert_array_equal(base.quantise(x), x)
    np.testing.assert_array_equal(base.quantise(x.T, axis=0), x.T)
    s0, e0 = base.encode(x.T, axis=0)
    s1, e1 = base.encode(x)
    np.testing.assert_array_equal(s0, s1.T)
    np.testing.assert_array_equal(e0, e1.T)


def test_rceil_never_overflows_and_stochastic_elements():
    x = data(3, (8, 64))
    for base in (emu.mxfp8_e4m3, emu.mxfp4):
        fmt = MXFormat("r", base.element, scale_rule="rceil")
        s, _ = fmt.encode(x)
        amax = np.abs(x.reshape(8, 2, 32)).max(-1)
        ok = amax > 2.0**-120
        assert (amax[ok] <= fmt.elem_max * np.ldexp(1.0, s[ok].astype(int) - 127)).all()
    from dataclasses import replace

    sr = MXFormat("sr", replace(emu.mxfp8_e4m3.element, rounding="stochastic"))
    np.testing.assert_array_equal(sr.encode(x, rng=5)[1], sr.encode(x, rng=5)[1])


def test_mx_validation():
    with pytest.raises(FormatError, match="block_size"):
        MXFormat("m", emu.float4_e2m1fn, block_size=0)
    with pytest.raises(FormatError, match="scale_rule"):
        MXFormat("m", emu.float4_e2m1fn, scale_rule="round")
    with pytest.raises(FormatError, match="element"):
        MXFormat("m", emu.float8_e8m0fnu)
    with pytest.raises(FormatError, match="axis"):
        emu.mxfp4.encode(np.zeros((2, 32)), axis=2)
    with pytest.raises(FormatError, match="does not match"):
        emu.mxfp4.decode(np.zeros(3, np.uint8), np.zeros(32, np.uint8))


def test_bfp():
    fmt = BFPFormat("bfp8", block_size=16, man_bits=7)
    x = np.random.default_rng(0).standard_normal((3, 40))
    exps, codes = fmt.encode(x)
    assert exps.shape == (3, 3) and codes.shape == x.shape and codes.dtype == np.uint8
    q = fmt.quantise(x)
    for r in range(3):
        for b in range(3):
            blk = x[r, 16 * b : 16 * b + 16]
            e = math.frexp(float(np.abs(blk).max()))[1] - 1
            step = 2.0 ** (e - 6)
            want = np.clip(np.rint(blk / step), -127, 127) * step
            np.testing.assert_array_equal(q[r, 16 * b : 16 * b + 16], want)
    # floor saturates a block max that rounds up; "even" moves the exponent instead.
    v = np.array([255.9, 1.0])
    assert BFPFormat("b", 2, 7).quantise(v)[0] == 254.0
    assert BFPFormat("b", 2, 7, scale_rule="even").quantise(v)[0] == 256.0
    with pytest.raises(FormatError, match="NaN"):
        fmt.encode([np.nan])
    with pytest.raises(FormatError, match="man_bits"):
        BFPFormat("b", 16, 0)
