"""Encode kernel for :class:`FloatFormat` under every rounding mode (integer add-and-shift)."""

import numpy as np

from ._float_codec import _CHUNK, _F32, _F64, _apply_overflow, _encode_consts
from .rounding import random_bits

__all__: list[str] = []

# Sub-min_normal inputs shifted further than this are reduced to a sticky bit first,
# which keeps (significand + increment) inside uint64.
_MAX_SUB_SHIFT = 60


def encode(fmt, arr: np.ndarray, rng) -> np.ndarray:
    """Encode a float32/float64 array with ``fmt.rounding`` (any mode) into codes."""
    src = _F32 if arr.dtype == np.float32 else _F64
    flat = np.ascontiguousarray(arr, dtype=src.float).reshape(-1)
    out = np.empty(flat.shape, dtype=fmt.code_dtype)
    k = _encode_consts(fmt, src)
    bits = flat.view(src.uint)
    with np.errstate(invalid="ignore"):
        for i in range(0, bits.size, _CHUNK):
            j = min(i + _CHUNK, bits.size)
            out[i:j] = _encode_chunk(fmt, src, k, bits[i:j], rng)
    return out.reshape(arr.shape)


def _increment(mode, u, t, s, shift, rng):
    """Value added before the right shift by ``shift``; ``s`` is the sign (0/1)."""
    full = u((1 << shift) - 1)
    if mode == "nearest_even":
        return ((t >> u(shift)) & u(1)) + u((1 << (shift - 1)) - 1)
    if mode == "nearest_away":
        return u(1 << (shift - 1))
    if mode == "toward_zero":
        return u(0)
    if mode == "up":
        return (s ^ u(1)) * full
    if mode == "down":
        return s * full
    return random_bits(rng, t.size, u) >> u(np.dtype(u).itemsize * 8 - shift)


def _magnitude_truncates(mode, s):
    """Mask of elements whose magnitude the mode rounds toward zero (IEEE: they never overflow to Inf)."""
    if mode == "toward_zero":
        return np.ones(s.shape, bool)
    if mode == "up":
        return s == 1
    if mode == "down":
        return s == 0
    return None


def _encode_chunk(fmt, src, k, b, rng):
    u = src.uint
    a = b & u((1 << (src.bits - 1)) - 1)
    s = b >> u(src.bits - 1)
    off = src.bias - fmt.bias
    t = a - u((off << src.man_bits) % (1 << src.bits))  # wraps below min_normal; redone there
    t += _increment(fmt.rounding, u, t, s, k.shift, rng)
    t >>= u(k.shift)
    tiny = a < u(k.min_normal_bits)
    if tiny.any():
        t[tiny] = _round_tiny(fmt, src, k, a[tiny], s[tiny], rng) if fmt.subnormals else 0
    trunc = _magnitude_truncates(fmt.rounding, s)
    if trunc is not None:
        trunc &= a < u(src.inf_bits)
        np.copyto(t, np.minimum(t, u(fmt.max_code)), where=trunc)
    _apply_overflow(fmt, src, k, a, t, np.empty(t.shape, bool))
    sign = (s << u(fmt.width - 1)).astype(u)
    if fmt.specials == "fnuz":
        sign[t == 0] = 0  # no -0
    return (t | sign).astype(fmt.code_dtype)


def _round_tiny(fmt, src, k, a, s, rng):
    """Round magnitudes below min_normal at the subnormal quantum (variable shift)."""
    e = (a >> src.uint(src.man_bits)).astype(np.int64)
    sig = (a & src.uint((1 << src.man_bits) - 1)).astype(np.uint64)
    sig |= (e > 0).astype(np.uint64) << np.uint64(src.man_bits)
    off = src.bias - fmt.bias
    sh = k.shift + off + 1 - np.maximum(e, 1)
    far = sh > _MAX_SUB_SHIFT
    if far.any():
        # Keep 60 fraction bits plus a sticky bit: exact for every mode, and stochastic
        # probabilities stay exact to 2**-60.
        d = np.minimum(sh[far] - _MAX_SUB_SHIFT, 63).astype(np.uint64)
        lost = (sig[far] & ((np.uint64(1) << d) - np.uint64(1))) != 0
        sig[far] = (sig[far] >> d) | lost.astype(np.uint64)
    sh = np.minimum(sh, _MAX_SUB_SHIFT).astype(np.uint64)
    one = np.uint64(1)
    mode = fmt.rounding
    if mode == "nearest_even":
        inc = ((sig >> sh) & one) + (one << (sh - one)) - one
    elif mode == "nearest_away":
        inc = one << (sh - one)
    elif mode == "toward_zero":
        inc = np.zeros_like(sig)
    elif mode in ("up", "down"):
        away = (s == 0) if mode == "up" else (s == 1)
        inc = ((one << sh) - one) * away.astype(np.uint64)
    else:
        inc = random_bits(rng, sig.size, np.uint64) >> (np.uint64(64) - sh)
    return (sig + inc) >> sh
