"""Rounding to integers at and one ulp around every half-way point: IntFormat, BipolarFormat, block formats."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from _reference import exact_code, round_int

from hwgen import emulation as emu
from hwgen.emulation import ROUNDING_MODES, BFPFormat, BipolarFormat, IntFormat, MXFormat

DIRECT = [m for m in ROUNDING_MODES if m != "stochastic"]
TINY = [5e-324, 1e-300, 1e-20, 2.0**-60]


def _around(points) -> np.ndarray:
    """Each point and its float64 neighbours, both signs."""
    x = np.asarray(points, np.float64)
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    return np.unique(np.concatenate([x, -x, [0.0, -0.0]]))


def _half_way_points() -> np.ndarray:
    ks = [0, 1, 2, 3, 4, 7, 100, 2**20 + 1, 2**30, 2**50 - 1, 2**51 - 1, 2**51, 2**52 - 1, 2**52, 2**53, 2**60]
    pts = [float(k) for k in ks] + [k + 0.5 for k in ks if k < 2**52] + [k + 0.25 for k in ks if k < 2**51]
    return _around(pts + TINY + [0.5, 1.5, 2.5])


@pytest.mark.parametrize("mode", DIRECT)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_int_format_every_mode_around_half_way_points(mode, dtype):
    fmt = IntFormat("i64", 64, overflow="saturate", rounding=mode)
    x = _half_way_points().astype(dtype)
    want = [round_int(Fraction(float(v)), mode) for v in x]
    np.testing.assert_array_equal(fmt.fit(x), np.array(want, np.int64))


def test_nearest_away_just_inside_minus_one_half():
    fmt = IntFormat("i8", 8, rounding="nearest_away")
    x = np.nextafter(-0.5, 0)
    assert fmt.fit([x])[0] == 0
    assert fmt.fit([-0.5, np.nextafter(-0.5, -1), 0.5, np.nextafter(0.5, 0)]).tolist() == [-1, -1, 1, 0]


@pytest.mark.parametrize("mode", DIRECT)
def test_round_integer_keeps_nan_and_inf(mode):
    from hwgen.emulation.rounding import round_integer

    got = round_integer(np.array([np.nan, np.inf, -np.inf, -0.0, 2.5]), mode)
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf
    assert got[3] == 0


def test_int_stochastic_stays_between_neighbours_and_is_unbiased():
    fmt = IntFormat("i64", 64, rounding="stochastic")
    x = _half_way_points()
    q = fmt.fit(np.tile(x, 20), rng=5).reshape(20, -1)
    lo = np.array([round_int(Fraction(float(v)), "down") for v in x])
    assert ((q == lo) | (q == lo + 1)).all()
    exact = x == np.floor(x)
    assert (q[:, exact] == lo[exact]).all()
    for v, t in ((-0.25, 0.25), (-2.75, 0.75), (np.nextafter(-0.5, 0), 0.5)):
        q = fmt.fit(np.full(200_000, v), rng=1)
        p = (q != np.trunc(v)).mean()  # rounded away from zero
        assert abs(p - t) < 5 * np.sqrt(t * (1 - t) / 200_000), (v, p)


# --- BipolarFormat ------------------------------------------------------------------------


def ref_bipolar(fmt: BipolarFormat, x: float, mode: str) -> int:
    m = fmt.max_value
    return max(0, min(m, round_int((Fraction(x) + m) / 2, mode)))


def _bipolar_points(bits: int) -> np.ndarray:
    m = (1 << bits) - 1
    if bits <= 4:
        ints = range(-m - 3, m + 4)  # odd: the values; even: the half-way points between codes
    else:
        ints = [*range(-5, 6), m - 2, m - 1, m, m + 1, m + 2, 2 * m, -m - 1]
    pts = [float(i) for i in ints] + [i + 0.5 for i in ints]
    return _around(pts + TINY + [1e300])


@pytest.mark.parametrize("mode", DIRECT)
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8, 32])
def test_bipolar_exact_around_every_boundary(bits, mode):
    fmt = BipolarFormat(f"bp{bits}", bits, rounding=mode)
    x = _bipolar_points(bits)
    want = [ref_bipolar(fmt, float(v), mode) for v in x]
    np.testing.assert_array_equal(fmt.encode(x).astype(np.int64), want)


def test_bipolar_named_cases():
    assert emu.bipolar1.encode([1e-20])[0] == 1
    assert emu.bipolar1.encode([-1e-20, 0.0, -0.0, 5e-324, -5e-324]).tolist() == [0, 0, 0, 1, 0]
    b2 = BipolarFormat("bp2", 2)
    # 2 and -2 are ties: even codes 2 (value 1) and 0 (value -3).
    assert b2.quantise([2.0000000000000004, 1.9999999999999998, 2.0, -2.0]).tolist() == [3, 1, 1, -3]
    assert BipolarFormat("bp3", 3).quantise([np.nextafter(4.0, 5), np.nextafter(-4.0, -5)]).tolist() == [5, -5]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_bipolar_refuses_nan_and_inf(bad):
    with pytest.raises(emu.FormatError, match="NaN or Inf"):
        BipolarFormat("bp2", 2).encode([1.0, bad])


def test_bipolar_stochastic_probability():
    fmt = BipolarFormat("b", 1, rounding="stochastic")
    for x, t in ((0.5, 0.75), (-0.5, 0.25), (-1e-20, 0.5)):  # P(code 1) = (x + 1) / 2
        q = fmt.encode(np.full(200_000, x), rng=2)
        assert abs(q.mean() - t) < 5 * np.sqrt(t * (1 - t) / 200_000), (x, q.mean())


# --- block formats: elements far below the block maximum ----------------------------------


@pytest.mark.parametrize("mode", DIRECT)
def test_bfp_tiny_elements_under_directed_rounding(mode):
    fmt = BFPFormat("bfp", 4, man_bits=7, exp_bits=10, rounding=mode)
    x = np.array([2.0**100, 2.0**-1000, -(2.0**-1000), 5e-324])
    exps, elems = fmt.encode(x)
    e = int(exps[0]) - fmt.exp_bias
    assert e == 100
    for v, c in zip(x, elems.tolist(), strict=True):
        y = Fraction(float(v)) * Fraction(2) ** (fmt.man_bits - 1 - e)
        mag = min(abs(round_int(y, mode)), (1 << fmt.man_bits) - 1)
        assert c & ((1 << fmt.man_bits) - 1) == mag, (v, mode)


@pytest.mark.parametrize("mode", DIRECT)
def test_mx_tiny_elements_under_directed_rounding(mode):
    elem = replace(emu.float8_e4m3fn, rounding=mode, overflow="saturate")
    fmt = MXFormat("mx", elem, block_size=4)
    x = np.array([2.0**120, 2.0**-1070, -(2.0**-1070), 5e-324])
    scales, elems = fmt.encode(x)
    sx = int(scales[0]) - 127
    want = [exact_code(elem, Fraction(float(v)) / Fraction(2) ** sx, mode) for v in x]
    assert elems.tolist() == want
