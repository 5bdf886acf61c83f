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

    ``rng`` (a Generator) is needed for ``"stochastic"`` only.
    """
    if mode == "nearest_even":
        return np.rint(x)
    if mode == "toward_zero":
        return np.trunc(x)
    if mode == "up":
        return np.ceil(x)
    if mode == "down":
        return np.floor(x)
    lo = np.floor(x)
    frac = x - lo  # exact: lo and x share the binade or lo is 0
    if mode == "nearest_away":
        return lo + np.where(x >= 0, frac >= 0.5, frac > 0.5)
    return lo + (rng.random(np.shape(x)) < frac)
