"""Rounding modes shared by every format, and the seeded random source of stochastic rounding."""

import numpy as np

from .errors import FormatError

__all__ = ["ROUNDING_MODES", "make_rng", "random_bits"]

#: Rounding modes accepted by the ``rounding`` field of every format.
#: ``"nearest_even"`` and ``"nearest_away"`` round to the nearest value, ties to the
#: even code / away from zero; ``"toward_zero"``, ``"up"`` (toward +Inf) and
#: ``"down"`` (toward -Inf) are the IEEE directed modes; ``"stochastic"`` rounds
#: up (in magnitude) with probability equal to the distance to the value below
#: divided by the gap between the two neighbours.
ROUNDING_MODES = (
    "nearest_even",
    "nearest_away",
    "toward_zero",
    "up",
    "down",
    "stochastic",
)


def make_rng(rng) -> np.random.Generator:
    """Return a NumPy Generator for ``rng``.

    Parameters
    ----------
    rng : None, int or numpy.random.Generator
        ``None`` draws fresh OS entropy (not reproducible); an int seeds a new
        PCG64 generator (reproducible); a Generator is used as is (its state
        advances).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    FormatError
        If ``rng`` is none of the above.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return rng if rng is not None else np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise FormatError(f"rng must be None, a non-negative int seed or a numpy Generator; got {rng!r}")


def random_bits(rng: np.random.Generator, n: int, dtype) -> np.ndarray:
    """``n`` uniformly random unsigned integers of ``dtype`` (uint32 or uint64), all bits random."""
    dt = np.dtype(dtype)
    words = (n * dt.itemsize + 7) // 8
    return rng.bit_generator.random_raw(words).view(dt)[:n]


def check_rounding(value) -> None:
    """Raise FormatError unless ``value`` is one of :data:`ROUNDING_MODES`."""
    if value not in ROUNDING_MODES:
        raise FormatError(f"rounding must be one of {', '.join(ROUNDING_MODES)}; got {value!r}")


def round_integer(x: np.ndarray, mode: str, rng=None) -> np.ndarray:
    """Round float64 ``x`` to integral float64 values with ``mode`` (NaN/Inf pass through).

    Exact for every float64: half-way decisions compare the exact fraction, which
    ``x - trunc(x)`` is (``x - floor(x)`` is not for ``-1 < x < 0``:
    ``nextafter(-0.5, 0) - (-1)`` rounds to 0.5). ``rng`` (a Generator) is needed for
    ``"stochastic"`` only, which rounds away from the lower neighbour with
    probability equal to the exact fraction (up to the 53-bit resolution of
    ``rng.random``).
    """
    if mode == "nearest_even":
        return np.rint(x)
    if mode == "toward_zero":
        return np.trunc(x)
    if mode == "up":
        return np.ceil(x)
    if mode == "down":
        return np.floor(x)
    x = np.asarray(x, np.float64)
    t = np.trunc(x)
    with np.errstate(invalid="ignore"):
        f = np.where(np.isfinite(x), x - t, 0.0)  # exact: t is x with its fraction bits cleared
    neg = f < 0
    out = round_split(t - neg, neg.astype(np.float64), f, 1.0, mode, rng)
    return np.where(np.isfinite(x), out, x)


def round_split(lo, c, d, scale: float, mode: str, rng=None) -> np.ndarray:
    """Round ``y = lo + c + d / scale`` to an integer, deciding exactly on the parts.

    ``lo`` is integral (float64), ``c`` one of 0, 1/2, 1 and ``d`` a float64 with
    ``0 <= c + d / scale < 1``, so ``lo = floor(y)``; ``scale`` is 1 or 2. Every
    comparison of the fraction with 0 and 1/2 (and a stochastic draw ``u`` with
    the fraction) is made on ``d`` against an exact float64, never on a rounded
    ``c + d / scale``. Returns ``lo`` or ``lo + 1`` as float64.
    """
    lo, c, d = np.asarray(lo, np.float64), np.asarray(c, np.float64), np.asarray(d, np.float64)
    if mode == "stochastic":
        u = rng.random(np.broadcast_shapes(lo.shape, c.shape, d.shape))
        return lo + ((u - c) * scale < d)  # u - c is exact for u in [0, 1) on a 2**-53 grid
    inexact = d != -c * scale
    if mode == "up":
        return lo + inexact
    if mode == "down":
        return lo + 0.0
    if mode == "toward_zero":
        return lo + (inexact & (lo < 0))
    half = (0.5 - c) * scale  # the fraction is 1/2 exactly when d == half
    above, tie = d > half, d == half
    if mode == "nearest_even":
        return lo + (above | (tie & (np.fmod(lo, 2.0) != 0)))
    return lo + (above | (tie & (lo >= 0)))  # nearest_away
