"""Every rounding mode against the exact Fraction reference; stochastic rounding's statistics."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from _reference import round_code
from hypothesis import given, settings
from hypothesis import strategies as st

from hwgen import emulation as emu
from hwgen.emulation import ROUNDING_MODES, FloatFormat, FormatError, IntFormat

DIRECT = [m for m in ROUNDING_MODES if m != "stochastic"]
BASES = [
    emu.float8_e4m3fn,
    emu.float8_e5m2,
    emu.float8_e4m3fnuz,
    emu.float4_e2m1fn,
    emu.float6_e3m2fn,
    emu.bfloat16,
    FloatFormat("e4m3_ftz", 4, 3, 7, "fn", subnormals=False),
    FloatFormat("e5m2_sat", 5, 2, 15, "ieee", overflow="saturate"),
]


def sample(fmt, n: int, seed: int) -> np.ndarray:
    """Values, midpoints, quarter points and float64 neighbours, plus log-uniform randoms."""
    rng = np.random.default_rng(seed)
    vals = fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)
    ext = np.append(vals, 2 * vals[-1] - vals[-2])
    pts = np.concatenate([ext, (ext[:-1] + ext[1:]) / 2, ext[:-1] * 0.75 + ext[1:] * 0.25, [3 * ext[-1]]])
    if pts.size > 3000:
        pts = rng.choice(pts, 3000, replace=False)
    pts = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf)])
    lo, hi = np.log2(fmt.min_subnormal) - 3, np.log2(fmt.max_finite) + 1
    rnd = np.exp2(rng.uniform(lo, hi, n))
    x = np.concatenate([pts, rnd])
    return np.concatenate([x, -x])


@pytest.mark.parametrize("mode", DIRECT)
@pytest.mark.parametrize("base", BASES, ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mode_matches_fraction_reference(base, mode, dtype):
    fmt = replace(base, rounding=mode)
    with np.errstate(over="ignore"):
        x = sample(fmt, 300, seed=len(mode)).astype(dtype)
    x = x[np.isfinite(x)]
    want = np.array([round_code(fmt, float(v), mode) for v in x], dtype=np.int64)
    np.testing.assert_array_equal(fmt.encode(x).astype(np.int64), want)


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(allow_nan=False, allow_infinity=False, width=64),
    mode=st.sampled_from(DIRECT),
    base=st.sampled_from(BASES),
)
def test_hypothesis_single_rounding(x, mode, base):
    fmt = replace(base, rounding=mode)
    assert int(fmt.encode(np.float64(x))) == round_code(fmt, x, mode)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=32), base=st.sampled_from(BASES))
def test_hypothesis_float32_nearest_even(x, base):
    assert int(base.encode(np.float32(x))) == round_code(base, x, "nearest_even")


@pytest.mark.parametrize(
    ("mode", "x", "want"),
    [
        ("toward_zero", [1000.0, -1000.0, np.inf], [448.0, -448.0, np.nan]),
        ("up", [1000.0, -1000.0, 1.01], [np.nan, -448.0, 1.125]),
        ("down", [1000.0, -1000.0, -1.01], [448.0, np.nan, -1.125]),
        ("nearest_away", [1.0625, -1.0625, 1.1875], [1.125, -1.125, 1.25]),
        ("nearest_even", [1.0625, -1.0625, 1.1875], [1.0, -1.0, 1.25]),
    ],
)
def test_directed_overflow_follows_ieee(mode, x, want):
    fmt = replace(emu.float8_e4m3fn, rounding=mode)
    np.testing.assert_array_equal(fmt.quantise(np.array(x)), want)


def test_stochastic_reproducible_and_seeded():
    fmt = replace(emu.float8_e4m3fn, rounding="stochastic")
    x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    a, b = fmt.encode(x, rng=42), fmt.encode(x, rng=42)
    np.testing.assert_array_equal(a, b)
    assert (fmt.encode(x, rng=43) != a).any()
    gen = np.random.default_rng(7)
    assert (fmt.encode(x, rng=gen) != fmt.encode(x, rng=gen)).any()  # a Generator advances
    with pytest.raises(FormatError, match="rng"):
        fmt.encode(x, rng="seed")


@pytest.mark.parametrize("base", [emu.float8_e4m3fn, emu.float4_e2m1fn, emu.bfloat16], ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stochastic_probability_proportional_to_distance(base, dtype):
    fmt = replace(base, rounding="stochastic")
    vals = base.decode(np.arange(1, 6), dtype=np.float64)
    n = 200_000
    for lo, hi, t in [(vals[0], vals[1], 0.3), (vals[3], vals[4], 0.875)]:  # a subnormal gap, too
        x = np.full(n, lo + t * (hi - lo), dtype)
        q = fmt.quantise(x, dtype=np.float64, rng=1)
        assert set(np.unique(q)) <= {lo, hi}
        p = (q == hi).mean()
        assert abs(p - t) < 5 * np.sqrt(t * (1 - t) / n), (lo, hi, p)
        assert abs(q.mean() - x[0]) < 5 * (hi - lo) * np.sqrt(t * (1 - t) / n)  # unbiased


def test_stochastic_tiny_float64_inputs_keep_their_probability():
    fmt = replace(emu.float8_e4m3fn, rounding="stochastic")
    n = 400_000
    for t in (0.01, 2.0**-10 * 1.5):  # the second needs more than 60 shifted-out bits
        q = fmt.quantise(np.full(n, t * fmt.min_subnormal), rng=2)
        assert abs((q != 0).mean() - t) < 5 * np.sqrt(t / n) + 1 / n


def test_stochastic_exact_values_never_move():
    fmt = replace(emu.float8_e5m2, rounding="stochastic")
    codes = np.arange(0, 0x7C)
    vals = fmt.decode(codes)
    np.testing.assert_array_equal(fmt.encode(np.tile(vals, 50), rng=3), np.tile(codes, 50))


@pytest.mark.parametrize(
    ("mode", "want"),
    [
        ("nearest_even", [2, -2, 4, 0, 2]),
        ("nearest_away", [3, -3, 4, 1, 2]),
        ("toward_zero", [2, -2, 3, 0, 2]),
        ("up", [3, -2, 4, 1, 3]),
        ("down", [2, -3, 3, 0, 2]),
    ],
)
def test_int_rounding_modes(mode, want):
    fmt = IntFormat("i8", 8, overflow="saturate", rounding=mode)
    np.testing.assert_array_equal(fmt.quantise([2.5, -2.5, 3.5, 0.5, 2.25]), want)


def test_int_stochastic_unbiased():
    fmt = IntFormat("i8", 8, rounding="stochastic")
    q = fmt.quantise(np.full(100_000, 1.25), rng=0)
    assert set(np.unique(q)) == {1, 2}
    assert abs(q.mean() - 1.25) < 0.01


def test_fraction_reference_sanity():
    fmt = emu.float8_e4m3fn
    assert round_code(fmt, 464.0, "nearest_even") == 0x7E
    assert round_code(fmt, -431.99999999999994, "nearest_even") == 0x80 | int(fmt.encode(416.0))
    assert round_code(fmt, 1.0625, "stochastic", Fraction(1, 3)) == int(fmt.encode(1.125))
