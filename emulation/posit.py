"""Posit(n, es) formats for n <= 16 (2022 Posit Standard) and the exact quire accumulator."""

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from ._arrays import as_codes, as_real, check_axis, code_dtype, float_dtype
from .errors import FormatError

__all__ = ["PositFormat", "Quire", "posit8", "posit16", "round_to_odd_float64"]


def _posit_values(n: int, es: int) -> np.ndarray:
    """float64 value of every n-bit posit code (NaR as NaN); exact for n <= 17."""
    codes = np.arange(1 << n, dtype=np.int64)
    sign = codes >> (n - 1)
    mag = np.where(sign == 1, (1 << n) - codes, codes) & ((1 << n) - 1)
    out = np.zeros(1 << n)
    for i, c in enumerate(mag.tolist()):
        if c == 0:
            continue
        bits = format(c, f"0{n}b")[1:]  # drop the (zero) sign bit
        run = len(bits) - len(bits.lstrip(bits[0]))
        k = run - 1 if bits[0] == "1" else -run
        rest = bits[run + 1 :]
        e = int(rest[:es].ljust(es, "0") or "0", 2)
        frac = rest[es:]
        f = int(frac, 2) / (1 << len(frac)) if frac else 0.0
        out[i] = (1 + f) * 2.0 ** (k * (1 << es) + e)
    out[1 << (n - 1)] = np.nan
    return np.where(sign == 1, -out, out)


@dataclass(frozen=True)
class PositFormat:
    """A posit format: sign, regime, ``es`` exponent bits and fraction, tapered precision.

    Code ``1 << (n-1)`` is NaR (Not a Real); negative values are the two's
    complement of the positive code; there is no -0 and no Inf.

    Parameters
    ----------
    name : str
        E.g. ``"posit8"``.
    n : int
        Width, 2..16.
    es : int
        Exponent field width, 0..4.

    Raises
    ------
    FormatError
        If a field is invalid.

    Notes
    -----
    Encoding rounds the exact input once to nearest, ties to the even code,
    with the Standard's rules: values above maxpos become maxpos and nonzero
    values below minpos become minpos (a posit never rounds to 0 or NaR).
    NaN and ±Inf encode as NaR. Ties are decided on the bit string (the value
    of the (n+1)-bit posit between two neighbours), not on the arithmetic mean.
    Integer inputs of any width are exact (``2**54 + 1`` is above the posit16
    tie at ``2**54``, which float64 would round it onto).
    """

    name: str
    n: int
    es: int

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise FormatError(f"name must be a non-empty str; got {self.name!r}")
        for field, lo, hi in (("n", 2, 16), ("es", 0, 4)):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise FormatError(f"{field} must be an int in {lo}..{hi}; got {v!r}")

    @property
    def width(self) -> int:
        """Width of a code in bits."""
        return self.n

    @property
    def code_dtype(self) -> np.dtype:
        """Smallest unsigned NumPy dtype holding a code."""
        return code_dtype(self.n)

    @property
    def nar_code(self) -> int:
        """Code of NaR."""
        return 1 << (self.n - 1)

    @property
    def max_value(self) -> float:
        """maxpos, ``2**((n - 2) * 2**es)``."""
        return 2.0 ** ((self.n - 2) << self.es)

    @property
    def min_value(self) -> float:
        """minpos, ``2**(-(n - 2) * 2**es)``."""
        return 1.0 / self.max_value

    @cached_property
    def _tables(self):
        vals = _posit_values(self.n, self.es)
        vals.flags.writeable = False
        half = 1 << (self.n - 1)
        # Boundaries between positive codes c and c+1: the (n+1)-bit posit code 2c+1.
        wide = _posit_values(self.n + 1, self.es)
        mids = wide[3 : 2 * half - 1 : 2]
        return vals, mids

    def decode(self, codes, dtype=np.float64) -> np.ndarray:
        """Decode codes to float64 (exact) or float32 values; NaR decodes as NaN.

        Raises
        ------
        FormatError
            If ``codes`` is not an integer array of codes in range, or ``dtype`` is not float32/float64.
        """
        dt = float_dtype(dtype)
        vals = self._tables[0]
        return vals[as_codes(codes, self.n)].astype(dt)

    def encode(self, values) -> np.ndarray:
        """Encode values as codes, rounding once (nearest, ties to even code; see Notes).

        Integers of any width are exact inputs (rounded once, never through float64).
        """
        x = as_real(values).astype(np.float64)
        _, mids = self._tables
        mag = np.abs(x)
        idx = np.searchsorted(mids, mag, side="left")  # mids[idx-1] < mag <= mids[idx]
        code = idx + 1
        tie = (idx < mids.size) & (mids[np.minimum(idx, mids.size - 1)] == mag)
        code = np.where(tie & (code % 2 == 1), code + 1, code)
        code = np.where(mag == 0, 0, code)
        neg = x < 0
        code = np.where(neg, (1 << self.n) - code, code)
        code = np.where(np.isfinite(x), code, self.nar_code)
        return code.astype(self.code_dtype).reshape(x.shape)

    def quantise(self, values) -> np.ndarray:
        """Return ``decode(encode(values))`` as float64."""
        return self.decode(self.encode(values))

    def encode_fraction(self, value: Fraction) -> int:
        """Code of an exact rational, rounded once (as :meth:`encode`)."""
        return int(self.encode(np.float64(round_to_odd_float64(value))))


def round_to_odd_float64(value: Fraction) -> float:
    """Round an exact rational to float64 with round-to-odd.

    Rounding the result again to any format with at most 51 significant bits
    (nearest or directed) gives the correctly rounded result of ``value``, so a
    ``Fraction`` can be rounded once through float64.
    """
    f = float(value)  # correctly rounded, nearest even
    if Fraction(f) == value or not np.isfinite(f):
        return f
    m = np.frexp(f)[0] * 2.0**53
    if int(m) % 2 == 0:  # even: step to the odd neighbour on the exact value's side
        f = float(np.nextafter(f, np.inf if Fraction(f) < value else -np.inf))
    return f


class Quire:
    """Exact accumulator of posit products (the Standard's quire), vectorised over outputs.

    Parameters
    ----------
    fmt : PositFormat
        Posit format of the operands and of the rounded result.
    shape : tuple of int, default ()
        Shape of the accumulator array (one quire per output).

    Notes
    -----
    Products are exact (integer significands times powers of two) and summed in
    Python integers, so the sum is exact in any order; :meth:`to_codes` rounds
    once. A NaR operand makes that quire NaR.
    """

    def __init__(self, fmt: PositFormat, shape=()):
        if not isinstance(fmt, PositFormat):
            raise FormatError(f"fmt must be a PositFormat; got {fmt!r}")
        self.fmt = fmt
        self.shape = _quire_shape(shape)
        # Every product is a multiple of minpos**2 = 2**-lsb_exp.
        self._lsb = 2 * ((fmt.n - 2) << fmt.es) + 2 * fmt.n
        self._acc = np.zeros(self.shape, dtype=object)
        self._acc[...] = 0
        self._nar = np.zeros(self.shape, bool)

    def _scaled_ints(self, codes) -> tuple[np.ndarray, np.ndarray]:
        v = self.fmt.decode(codes)
        nar = np.isnan(v)
        m, e = np.frexp(np.where(nar, 0.0, v))
        n = self.fmt.n
        sig = np.ldexp(m, n).astype(np.int64)  # v = sig * 2**(e - n), exact: < n significant bits
        return sig, e.astype(np.int64) - n, nar

    def add_products(self, a_codes, b_codes, axis: int = -1) -> None:
        """Add ``sum(a * b)`` over ``axis`` (after broadcasting) exactly to each quire."""
        sa, ea, na = self._scaled_ints(a_codes)
        sb, eb, nb = self._scaled_ints(b_codes)
        try:
            shape = np.broadcast_shapes(sa.shape, sb.shape)
        except ValueError as exc:
            raise FormatError(f"a_codes shape {sa.shape} and b_codes shape {sb.shape} do not broadcast") from exc
        axis = check_axis(axis, len(shape))
        if shape[:axis] + shape[axis:][1:] != self.shape:
            raise FormatError(
                f"products of shape {shape} summed over axis {axis} do not give the quire shape {self.shape}"
            )
        sa, sb, ea, eb, na, nb = np.broadcast_arrays(sa, sb, ea, eb, na, nb)
        shift = ea + eb + self._lsb  # >= 0: every product is a multiple of 2**-lsb
        # The shifted products need up to ~4 * maxpos exponent bits: Python ints (object arrays).
        terms = (sa * sb).astype(object) * (2 ** shift.astype(object))
        total = terms.sum(axis=axis)
        acc = np.empty(self.shape, dtype=object)
        acc[...] = self._acc + total
        self._acc = acc
        self._nar = np.asarray(self._nar | (na | nb).any(axis=axis)).reshape(self.shape)

    def values(self) -> np.ndarray:
        """Exact sums as an object array of Fractions (NaR as None)."""
        out = np.empty(self.shape, dtype=object)
        for idx in np.ndindex(self.shape):
            out[idx] = None if self._nar[idx] else Fraction(int(self._acc[idx]), 1 << self._lsb)
        return out

    def to_codes(self) -> np.ndarray:
        """Round every quire once to the posit format."""
        vals = self.values()
        flat = [np.nan if v is None else round_to_odd_float64(v) for v in vals.reshape(-1)]
        return self.fmt.encode(np.array(flat, np.float64).reshape(self.shape))


#: Most quires one :class:`Quire` holds (each is a Python int in an object array).
_MAX_QUIRES = 1 << 24


def _quire_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints of at most ``_MAX_QUIRES`` entries, else FormatError."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    ok = isinstance(dims, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and 0 <= d <= _MAX_QUIRES for d in dims
    )
    if not ok or math.prod(int(d) for d in dims) > _MAX_QUIRES:
        raise FormatError(f"shape must be non-negative ints with at most {_MAX_QUIRES} quires in all; got {shape!r}")
    return tuple(int(d) for d in dims)


posit8 = PositFormat("posit8", 8, 2)
posit16 = PositFormat("posit16", 16, 2)
