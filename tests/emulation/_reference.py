"""Exact Fraction references shared by the emulation tests (independent of the vectorised kernels)."""

import functools
import math
from bisect import bisect_left
from dataclasses import replace
from fractions import Fraction

import numpy as np

from hwgen.emulation import FloatFormat


def grid(fmt: FloatFormat) -> list[Fraction]:
    """Non-negative values of every positive code 0..max_code, plus the virtual code beyond."""
    return _grid(replace(fmt, rounding="nearest_even", overflow="default"))


@functools.cache
def _grid(fmt: FloatFormat) -> list[Fraction]:
    assert fmt.width <= 16, "the grid reference is for formats of up to 16 bits"
    vals = [Fraction(float(v)) for v in fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)]
    vals.append(2 * vals[-1] - vals[-2])
    return vals


def round_code(fmt: FloatFormat, x: float, mode: str, u: Fraction | None = None) -> int:
    """Correctly rounded code of finite x under ``mode`` (``u`` in [0, 1) for stochastic)."""
    vals = grid(fmt)
    neg = bool(np.signbit(x))
    mag = abs(Fraction(x))
    if not fmt.subnormals and mag < Fraction(fmt.min_normal):
        return fmt.sign_mask if neg and fmt.specials != "fnuz" else 0
    i = bisect_left(vals, mag)
    if i < len(vals) and vals[i] == mag:
        code = i
    elif i == len(vals):
        code = len(vals)  # beyond the virtual code: overflow
    else:
        lo, hi = vals[i - 1], vals[i]
        d = (mag - lo) / (hi - lo)
        up = {
            "nearest_even": d > Fraction(1, 2) or (d == Fraction(1, 2) and (i - 1) % 2 == 1),
            "nearest_away": d >= Fraction(1, 2),
            "toward_zero": False,
            "up": not neg,
            "down": neg,
            "stochastic": u is not None and u < d,
        }[mode]
        code = i if up else i - 1
    return _signed_code(fmt, code, neg, mode)


def round_fraction(fmt: FloatFormat, v: Fraction, mode: str = "nearest_even") -> Fraction:
    """Value of ``v`` rounded once into ``fmt`` (finite results only; overflow -> inf/nan as float)."""
    from hwgen.emulation.posit import round_to_odd_float64

    x = round_to_odd_float64(v)  # then one more rounding to <= 24 bits is exact
    if fmt.width == 32:  # float32 layout: NumPy's float64 -> float32 cast is RNE
        assert mode == "nearest_even"
        return Fraction(float(np.float32(x)))
    code = round_code(fmt, x, mode)
    return Fraction(float(fmt.decode(np.array([code]), dtype=np.float64)[0]))


def floor_log2(v: Fraction) -> int:
    """Exact ``floor(log2(v))`` of a positive rational."""
    e = v.numerator.bit_length() - v.denominator.bit_length()
    return e if Fraction(2) ** e <= v else e - 1


def round_int(y: Fraction, mode: str, u: Fraction | None = None) -> int:
    """``y`` rounded to an integer under ``mode`` (``u`` in [0, 1) for stochastic), exactly."""
    lo = math.floor(y)
    d = y - lo
    if d == 0:
        return lo
    up = {
        "nearest_even": d > Fraction(1, 2) or (d == Fraction(1, 2) and lo % 2 == 1),
        "nearest_away": d > Fraction(1, 2) or (d == Fraction(1, 2) and lo >= 0),
        "toward_zero": lo < 0,
        "up": True,
        "down": False,
        "stochastic": u is not None and u < d,
    }[mode]
    return lo + up


def exact_code(fmt: FloatFormat, v: Fraction, mode: str = "nearest_even", neg_zero: bool = False) -> int:
    """Code of the exact rational ``v`` rounded once into ``fmt`` (any width; not ``"fnu"``).

    Pure integer arithmetic on the format's fields, independent of the emulator's kernels
    and of float64. ``neg_zero`` gives a zero ``v`` the sign of -0.
    """
    assert fmt.specials != "fnu"
    neg = v < 0 or (v == 0 and neg_zero)
    mag = abs(v)
    emin = 1 - fmt.bias
    if mag == 0 or (not fmt.subnormals and mag < Fraction(2) ** emin):
        code = 0
    else:
        e = max(floor_log2(mag), emin)
        scaled = mag / Fraction(2) ** (e - fmt.man_bits)  # in [1, 2) * 2**man_bits, or below for subnormals
        lo = ((e - emin) << fmt.man_bits) + math.floor(scaled)  # code of the magnitude rounded down
        d = scaled - math.floor(scaled)
        half = Fraction(1, 2)
        away = {
            "nearest_even": d > half or (d == half and lo % 2 == 1),
            "nearest_away": d >= half,
            "toward_zero": False,
            "up": not neg,
            "down": neg,
        }[mode]
        code = lo + (d != 0 and away)
        if not fmt.subnormals and code < 1 << fmt.man_bits:
            code = 0
    return _signed_code(fmt, code, neg, mode)


def _signed_code(fmt: FloatFormat, code: int, neg: bool, mode: str) -> int:
    """The magnitude ``code`` after the format's overflow policy, with the sign bit of ``neg``."""
    if code > fmt.max_code:
        trunc = mode == "toward_zero" or (mode == "up" and neg) or (mode == "down" and not neg)
        policy = fmt.resolved_overflow
        if trunc or policy == "saturate":
            code = fmt.max_code
        else:
            code = fmt.nan_code if policy == "nan" else fmt.inf_code
    if code == 0 and fmt.specials == "fnuz":
        return 0
    return code | (fmt.sign_mask if neg else 0)
