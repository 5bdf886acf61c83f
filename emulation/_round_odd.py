"""Exact values as float64 rounded to odd: sums of many floats, integers of any size, two-term sums.

A real value rounded to odd at 53 bits (the float64 neighbour whose last bit is 1,
unless the value is exact) rounds correctly once more into any format of at most 51
significant bits, in every rounding mode. Every format of the kit has at most 24, so
these helpers let an exact quantity (a chunk's sum, an int64 input) be rounded once.
Magnitudes beyond float64 become ±``DBL_MAX`` (odd, and beyond every format's range,
so each format applies its own overflow rule to it).
"""

import numpy as np

__all__: list[str] = []

DBL_MAX = float(np.finfo(np.float64).max)
_LIMB = 32  # bits per limb of the exact fixed-point sums
_M32 = np.uint64(0xFFFFFFFF)
# Terms per column summed in one float64 bincount: each adds < 2**33 to a limb, so sums stay < 2**53.
_TERMS_PER_PASS = 1 << 19


def odd_sum(a, b) -> np.ndarray:
    """``a + b`` (float64) rounded to odd by TwoSum; an ndarray, 0-d for scalars."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    s = np.empty(np.broadcast_shapes(a.shape, b.shape))
    with np.errstate(invalid="ignore", over="ignore"):
        np.add(a, b, out=s)
        bb = s - a
        err = (a - (s - bb)) + (b - bb)
    over = np.isinf(s) & np.isfinite(a) & np.isfinite(b)
    if over.any():
        s[over] = np.copysign(DBL_MAX, s[over])
    inexact = np.isfinite(s) & (err != 0) & ~over
    if inexact.any():
        si = s[inexact]
        even = (si.view(np.int64) & 1) == 0
        toward = np.where(err[inexact] > 0, np.inf, -np.inf)
        s[inexact] = np.where(even, np.nextafter(si, toward), si)
    return s


def int_to_odd(x: np.ndarray) -> np.ndarray:
    """Integer (bool/int/uint up to 64 bits) array as float64 rounded to odd: exact beyond 2**53 too."""
    if x.dtype.kind == "b" or x.dtype.itemsize < 8 or x.size == 0:
        return x.astype(np.float64)
    if x.dtype.kind == "i" and int(x.min()) > -(2**53) and int(x.max()) < 2**53:
        return x.astype(np.float64)
    if x.dtype.kind == "u" and int(x.max()) < 2**53:
        return x.astype(np.float64)
    # x == hi * 2**32 + lo with both parts exact in float64 (hi keeps the sign).
    hi = (x >> x.dtype.type(_LIMB)).astype(np.float64) * 2.0**_LIMB
    lo = (x & x.dtype.type(0xFFFFFFFF)).astype(np.float64)
    return odd_sum(hi, lo)


def pyint_to_odd(n: int) -> float:
    """A Python int of any size as a float64 rounded to odd (±DBL_MAX beyond float64)."""
    try:
        f = float(n)  # correctly rounded, nearest even
    except OverflowError:
        return DBL_MAX if n > 0 else -DBL_MAX
    rest = n - int(f)
    if rest and np.frexp(f)[0] * 2.0**53 % 2 == 0:
        f = float(np.nextafter(f, np.inf if rest > 0 else -np.inf))
    return DBL_MAX if f == np.inf else (-DBL_MAX if f == -np.inf else f)


def sum_odd(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """Exact sum of float64 ``p`` along ``axis``, rounded once to odd.

    IEEE conventions for the specials: NaN if a term is NaN or both infinities occur,
    else ±Inf if one occurs. An exact zero is -0 only if every term is -0.
    """
    p = np.moveaxis(np.asarray(p, np.float64), axis, 0)
    flat = p.reshape(p.shape[0], -1)
    out = np.zeros(flat.shape[1])
    finite = np.isfinite(flat).all(axis=0)
    if not finite.all():
        out[~finite] = special_sum(flat[:, ~finite])
    if finite.any():
        out[finite] = _finite_sum_odd(flat[:, finite] if not finite.all() else flat)
    return out.reshape(p.shape[1:])


def special_sum(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """IEEE sum of terms that include NaN or ±Inf (the finite terms cannot change it), in any order."""
    x = np.moveaxis(np.asarray(x), axis, 0)
    pos, neg = (x == np.inf).any(axis=0), (x == -np.inf).any(axis=0)
    nan = np.isnan(x).any(axis=0) | (pos & neg)
    return np.where(nan, np.nan, np.where(pos, np.inf, -np.inf))


def _finite_sum_odd(x: np.ndarray) -> np.ndarray:
    """Column sums of finite ``x`` (n, c), exact then rounded to odd."""
    neg, mag, q = _decompose(x)
    nz = mag != 0
    # A column whose terms are all multiples of 2**quantum and whose sum of magnitudes is
    # below 2**(53 + quantum) has every partial sum exact: NumPy's sum is the exact sum.
    lowest = (mag & (~mag + np.uint64(1))).astype(np.float64)  # lowest set bit (exact power of two)
    lsb = np.where(nz, q + (lowest.view(np.uint64) >> np.uint64(52)).astype(np.int64) - 1023, 1 << 20)
    quantum = np.minimum(lsb.min(axis=0), 970)
    with np.errstate(over="ignore"):  # an infinite bound just sends the column to the limbs
        bound = np.abs(x).sum(axis=0)  # rounded, hence the one bit of margin below
    easy = bound < np.ldexp(1.0, quantum + 52)
    out = np.empty(x.shape[1])
    if easy.any():
        out[easy] = x[:, easy].sum(axis=0)  # -0 only if every term is -0, as IEEE addition
    hard = ~easy
    if hard.any():
        out[hard] = _limb_sum_odd(neg[:, hard], mag[:, hard], q[:, hard])
    return out


def _decompose(x: np.ndarray):
    """``x == (-1)**neg * mag * 2**q`` exactly, from the bit patterns (``mag`` < 2**53, uint64)."""
    bits = np.ascontiguousarray(x, np.float64).view(np.uint64)
    field = (bits >> np.uint64(52)) & np.uint64(0x7FF)
    mag = (bits & np.uint64((1 << 52) - 1)) | ((field != 0).astype(np.uint64) << np.uint64(52))
    q = np.maximum(field, np.uint64(1)).astype(np.int64) - 1075
    return (bits >> np.uint64(63)).astype(bool), mag, q


def _limb_sum_odd(neg, mag, q) -> np.ndarray:
    """Exact column sums in 32-bit limbs (nonzero columns only reach here), rounded to odd."""
    nz = mag != 0
    base = int(q[nz].min()) - 2 * _LIMB  # two zero limbs below every term keep the extraction in range
    off = np.where(nz, q - base, 0)
    j = off >> 5
    n_limbs = int(j.max()) + 4  # three limbs per term plus one for carries
    limbs = _limb_sums(neg, mag, j, (off & 31).astype(np.uint64), n_limbs)
    _carry(limbs)
    negative = limbs[:, -1] < 0
    if negative.any():
        limbs[negative] = -limbs[negative]
        _carry(limbs)
    out = _odd_from_limbs(limbs, base)  # an exact zero (cancellation) is +0
    return np.where(negative, -out, out)


def _limb_sums(neg, mag, j, r, n_limbs: int) -> np.ndarray:
    """(c, n_limbs) int64 column sums of the 32-bit digits of ``±mag * 2**(32 j + r)``."""
    n, c = mag.shape
    low = (mag & _M32) << r  # < 2**64
    high = (mag >> np.uint64(_LIMB)) << r  # < 2**53
    sign = np.where(neg, -1.0, 1.0)
    digits = (
        sign * (low & _M32).astype(np.float64),
        sign * ((low >> np.uint64(_LIMB)) + (high & _M32)).astype(np.float64),
        sign * (high >> np.uint64(_LIMB)).astype(np.float64),
    )
    idx = np.arange(c) * n_limbs + j
    total = np.zeros(c * n_limbs, np.int64)
    for k0 in range(0, n, _TERMS_PER_PASS):
        rows = slice(k0, k0 + _TERMS_PER_PASS)
        part = np.zeros(c * n_limbs)
        for shift, d in enumerate(digits):
            part += np.bincount((idx[rows] + shift).ravel(), weights=d[rows].ravel(), minlength=c * n_limbs)
        total += part.astype(np.int64)  # each limb sum is an integer below 2**53: exact
    return total.reshape(c, n_limbs)


def _carry(limbs: np.ndarray) -> None:
    """Propagate carries so every limb but the top one is in [0, 2**32) (value unchanged)."""
    for k in range(limbs.shape[1] - 1):
        c = limbs[:, k] >> _LIMB
        limbs[:, k] -= c << _LIMB
        limbs[:, k + 1] += c


def _odd_from_limbs(limbs: np.ndarray, base: int) -> np.ndarray:
    """Non-negative normalised limbs (value ``sum limbs[:, k] * 2**(base + 32 k)``) rounded to odd float64."""
    c, n_limbs = limbs.shape
    nonzero = limbs != 0
    t = n_limbs - 1 - np.argmax(nonzero[:, ::-1], axis=1)  # top nonzero limb (>= 2 when any)
    live = nonzero.any(axis=1)
    t = np.where(live, t, 2)
    rows = np.arange(c)
    dt = limbs[rows, t].astype(np.uint64)
    hi = (dt << np.uint64(_LIMB)) | limbs[rows, t - 1].astype(np.uint64)
    d2 = limbs[rows, t - 2].astype(np.uint64)
    below = np.cumsum(nonzero, axis=1)[rows, np.maximum(t - 3, 0)] > 0
    sticky = (t >= 3) & below
    # hi has bl in [33, 64] bits; keep the top 53 of the 96 bits hi:d2.
    bl = np.frexp(np.maximum(dt, 1).astype(np.float64))[1].astype(np.int64) + _LIMB
    drop = bl - 21
    s_a = np.clip(drop - _LIMB, 0, 63).astype(np.uint64)
    s_b = np.clip(drop, 0, _LIMB - 1).astype(np.uint64)
    wide = drop >= _LIMB
    top = np.where(wide, hi >> s_a, (hi << (np.uint64(_LIMB) - s_b)) | (d2 >> s_b))
    one = np.uint64(1)
    rest = np.where(wide, ((hi & ((one << s_a) - one)) != 0) | (d2 != 0), (d2 & ((one << s_b) - one)) != 0)
    top |= (sticky | rest).astype(np.uint64)
    with np.errstate(over="ignore"):
        out = np.ldexp(top.astype(np.float64), base + _LIMB * (t - 2) + drop)
    out[np.isinf(out)] = DBL_MAX
    return np.where(live, out, 0.0)
