"""Encode/decode for unsigned exponent-only formats (``specials="fnu"``, e.g. float8_e8m0fnu)."""

import numpy as np

__all__: list[str] = []


def encode(fmt, arr: np.ndarray, rng) -> np.ndarray:
    """Round positive values to powers of two ``2**(code - bias)``; NaN, zero and negatives give NaN."""
    with np.errstate(invalid="ignore"):
        x = np.asarray(arr, dtype=np.float64).reshape(-1)
        pos = (x > 0) & (x < np.inf)
        m, e = np.frexp(np.where(pos, x, 1.0))
    frac = 2.0 * m - 1.0  # x = (1 + frac) * 2**(e - 1), exactly
    code = (e - 1 + fmt.bias).astype(np.int64)
    code += _round_up(fmt.rounding, frac, code, rng)
    # Below 2**-bias there is no zero to round to: the smallest value is the nearest.
    code = np.maximum(code, 0)
    truncating = fmt.rounding in ("toward_zero", "down")
    over = code > fmt.max_code
    code[over] = fmt.max_code if (truncating or fmt.resolved_overflow == "saturate") else fmt.nan_code
    code[~pos] = fmt.nan_code
    if fmt.resolved_overflow == "saturate":
        code[x == np.inf] = fmt.max_code
    return code.astype(fmt.code_dtype).reshape(np.shape(arr))


def _round_up(mode, frac, code, rng):
    if mode == "nearest_even":
        return (frac > 0.5) | ((frac == 0.5) & (code % 2 == 1))
    if mode == "nearest_away":
        return frac >= 0.5
    if mode == "up":
        return frac > 0
    if mode == "stochastic":
        return rng.random(frac.shape) < frac
    return np.zeros(frac.shape, bool)


def decode(fmt, codes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Decode codes ``c`` as ``2**(c - bias)``; the all-ones code is NaN."""
    c = codes.astype(np.int64).reshape(-1)
    val = np.ldexp(1.0, c - fmt.bias)
    val[c == fmt.nan_code] = np.nan
    return val.astype(dtype).reshape(codes.shape)
