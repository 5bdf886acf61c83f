"""Posit formats and the exact quire against Fraction references."""

import functools
from bisect import bisect_left
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwgen.emulation import FormatError, PositFormat, Quire, posit8, posit16
from hwgen.emulation.posit import round_to_odd_float64


def ref_value(code: int, n: int, es: int):
    """Posit value from the Standard's definition (Fractions), None for NaR."""
    if code == 0:
        return Fraction(0)
    if code == 1 << (n - 1):
        return None
    neg = code >> (n - 1)
    c = ((1 << n) - code) if neg else code
    bits = [(c >> i) & 1 for i in range(n - 2, -1, -1)]
    r0 = bits[0]
    run = 1
    while run < len(bits) and bits[run] == r0:
        run += 1
    k = run - 1 if r0 else -run
    rest = bits[run + 1 :]
    e = 0
    for i in range(es):
        e = 2 * e + (rest[i] if i < len(rest) else 0)
    frac = rest[es:]
    f = sum(Fraction(b, 2 ** (i + 1)) for i, b in enumerate(frac))
    v = (1 + f) * Fraction(2) ** (k * 2**es + e)
    return -v if neg else v


@pytest.mark.parametrize(("n", "es"), [(8, 0), (8, 1), (8, 2), (6, 1), (10, 3), (16, 1)])
def test_decode_every_code(n, es):
    fmt = PositFormat(f"p{n}_{es}", n, es)
    vals = fmt.decode(np.arange(1 << n))
    step = 1 if n <= 10 else 97
    for c in range(0, 1 << n, step):
        want = ref_value(c, n, es)
        assert np.isnan(vals[c]) if want is None else Fraction(float(vals[c])) == want, c


def test_known_values():
    assert posit8.decode([0x40, 0x7F, 0x01, 0x80, 0xC0]).tolist()[:3] == [1.0, 2.0**24, 2.0**-24]
    assert np.isnan(posit8.decode([0x80])[0]) and posit8.decode([0xC0])[0] == -1.0
    assert posit16.max_value == 2.0**56 and posit16.min_value == 2.0**-56


@pytest.mark.parametrize(("n", "es"), [(8, 0), (8, 2), (6, 1), (12, 1)])
def test_encode_is_bitstring_round_to_nearest_even(n, es):
    fmt = PositFormat("p", n, es)
    vals = [ref_value(c, n, es) for c in range(1 << (n - 1))]  # 0 .. maxpos
    wide = [ref_value(c, n + 1, es) for c in range(1 << n)]
    rng = np.random.default_rng(n)
    xs = [float(v) for v in wide[1:]] + list(rng.standard_normal(300) * 2.0 ** rng.integers(-30, 30, 300))
    xs += [float(w) * (1 + d) for w in wide[1::7] for d in (2.0**-40, -(2.0**-40))]
    got = fmt.encode(np.array(xs))
    for x, g in zip(xs, got.tolist(), strict=True):
        mag = abs(Fraction(x))
        if mag == 0:
            want = 0
        elif mag >= vals[-1]:
            want = len(vals) - 1
        elif mag <= vals[1]:
            want = 1
        else:
            i = bisect_left(vals, mag)
            mid = wide[2 * (i - 1) + 1]
            want = i if mag > mid or (mag == mid and i % 2 == 0) else i - 1
        if x < 0:
            want = (1 << n) - want
        assert g == want, (x, g, want)


def test_encode_specials_and_validation():
    np.testing.assert_array_equal(posit8.encode([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300]), [128, 128, 128, 0, 0, 1])
    for bad in ({"n": 17}, {"n": 1}, {"es": 5}):
        with pytest.raises(FormatError):
            PositFormat("p", **{"n": 8, "es": 1, **bad})


def test_quire_is_exact_and_rounds_once():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 200))
    b = rng.integers(0, 256, (3, 200))
    a[a == 128] = 0
    b[b == 128] = 0
    q = Quire(posit8, (3,))
    q.add_products(a[:, :100], b[:, :100])
    q.add_products(a[:, 100:], b[:, 100:])
    exact = [
        sum((ref_value(int(x), 8, 2) * ref_value(int(y), 8, 2) for x, y in zip(ra, rb, strict=True)), Fraction(0))
        for ra, rb in zip(a, b, strict=True)
    ]
    assert list(q.values()) == exact
    np.testing.assert_array_equal(q.to_codes(), [posit8.encode_fraction(v) for v in exact])
    # Catastrophic cancellation is exact in the quire: maxpos^2 - maxpos^2 + minpos^2.
    q2 = Quire(posit8)
    q2.add_products([0x7F, 0x7F, 0x01], [0x7F, 0x81, 0x01])
    assert q2.values()[()] == Fraction(2) ** -48
    q3 = Quire(posit8)
    q3.add_products([0x80], [0x40])
    assert q3.to_codes() == 0x80


def test_round_to_odd():
    v = Fraction(1) + Fraction(1, 2**60)
    f = round_to_odd_float64(v)
    assert f == 1 + 2.0**-52 and round_to_odd_float64(Fraction(3, 4)) == 0.75


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_hypothesis_posit8_encode_is_nearest_on_the_bit_string(x):
    n, es = 8, 2
    code = int(posit8.encode(np.float64(x)))
    vals = _positive_values(n, es)
    wide = _positive_values(n + 1, es)
    mag = abs(Fraction(x))
    if mag == 0:
        assert code == 0
        return
    c = code if x > 0 else (1 << n) - code
    assert 1 <= c < 1 << (n - 1)
    if c < len(vals) - 1:
        assert mag <= wide[2 * c + 1]  # not past the boundary above
    if c > 1:
        assert mag >= wide[2 * c - 1]  # not below the boundary under it


@functools.cache
def _positive_values(n, es):
    return [ref_value(c, n, es) for c in range(1 << (n - 1))]
