"""L-Mul, the multiplication-free approximate multiplier of "Addition is All You Need" (2024)."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._arrays import as_codes, float_dtype
from .errors import FormatError
from .float_format import FloatFormat

__all__ = ["DEFINITIONS", "LMul", "lmul", "lmul_offset_bits"]

#: ``"integer_add"``: add the exponent|mantissa fields as one integer, subtract
#: ``bias << m`` and add ``2**(m - l)``; a mantissa carry flows into the exponent
#: (what hardware does: 1.5 x 1.5 -> 2.25). ``"formula"``: the paper's equation
#: ``(1 + x_m + y_m + 2**-l) * 2**(x_e + y_e)`` taken literally (1.5 x 1.5 -> 2.125).
DEFINITIONS = ("integer_add", "formula")
_POLICIES = {
    "zero": ("exact", "raw"),
    "subnormal": ("flush", "normalize", "raw"),
    "overflow": ("format", "saturate", "inf"),
    "underflow": ("flush", "keep"),
    "nan": ("propagate",),
}
_LUT_MAX_WIDTH = 8


def lmul_offset_bits(man_bits: int) -> int:
    """The paper's ``l(m)``: ``m`` for ``m <= 3``, 3 for ``m = 4``, 4 for ``m > 4``."""
    return man_bits if man_bits <= 3 else (3 if man_bits == 4 else 4)


@dataclass(frozen=True)
class LMul:
    """An L-Mul multiplier for one FloatFormat, with named policies for the cases the paper leaves open.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format (signed; e4m3, e5m2, bf16, fp16, ...).
    definition : {"integer_add", "formula"}, default "integer_add"
        See :data:`DEFINITIONS`; they differ whenever ``x_m + y_m + 2**-l >= 1``.
    zero : {"exact", "raw"}, default "exact"
        ``"exact"``: a zero operand gives a signed zero. ``"raw"``: zero's fields
        go through the adder like any other code (what an adder without a
        zero detector computes).
    subnormal : {"flush", "normalize", "raw"}, default "flush"
        Subnormal operands: treated as zero; normalised exactly to
        ``(1 + m') * 2**e'`` first; or their fields used as if normal.
    overflow : {"format", "saturate", "inf"}, default "format"
        A result above ``fmt.max_finite``: the format's own overflow policy
        (Inf, NaN or saturation), ±max_finite, or ±Inf.
    underflow : {"flush", "keep"}, default "flush"
        A nonzero result below ``fmt.min_normal``: signed zero, or kept exactly.
    nan : {"propagate"}, default "propagate"
        NaN operands and Inf x 0 give NaN; Inf x finite nonzero gives ±Inf.

    Raises
    ------
    FormatError
        If ``fmt`` is not a signed FloatFormat or a policy is unknown.

    Notes
    -----
    Results are returned as float values, exact in float64 and in float32
    except beyond float32's exponent range (only ``underflow="keep"`` on
    8-exponent-bit formats). Formats up to 8 bits use a cached table of all
    operand pairs.
    """

    fmt: FloatFormat
    definition: str = "integer_add"
    zero: str = "exact"
    subnormal: str = "flush"
    overflow: str = "format"
    underflow: str = "flush"
    nan: str = "propagate"

    def __post_init__(self):
        if not isinstance(self.fmt, FloatFormat) or not self.fmt.signed:
            raise FormatError(f"fmt must be a signed FloatFormat; got {self.fmt!r}")
        if self.definition not in DEFINITIONS:
            raise FormatError(f"definition must be one of {', '.join(DEFINITIONS)}; got {self.definition!r}")
        for field, allowed in _POLICIES.items():
            if getattr(self, field) not in allowed:
                raise FormatError(f"{field} must be one of {', '.join(allowed)}; got {getattr(self, field)!r}")

    @property
    def offset_bits(self) -> int:
        """``l(m)`` of the format's mantissa width."""
        return lmul_offset_bits(self.fmt.man_bits)

    def __call__(self, a_codes, b_codes, dtype=np.float32) -> np.ndarray:
        """L-Mul of code arrays (broadcast together); returns values of ``dtype`` (float32/float64)."""
        a = as_codes(a_codes, self.fmt.width)
        b = as_codes(b_codes, self.fmt.width)
        dt = float_dtype(dtype)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError as exc:
            raise FormatError(f"a_codes shape {a.shape} and b_codes shape {b.shape} do not broadcast") from exc
        if self.fmt.width <= _LUT_MAX_WIDTH:
            lut = self._lut64 if dt == np.float64 else self._lut32
            idx = (a.astype(np.uint16) << np.uint16(self.fmt.width)) | b.astype(np.uint16)
            return lut[idx]
        # The kernel assigns through masks, which 0-d results (NumPy scalars) cannot take: work 1-D.
        a64, b64 = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
        return self._compute(a64.reshape(-1), b64.reshape(-1)).reshape(a64.shape).astype(dt)

    def values(self, a, b, dtype=np.float32) -> np.ndarray:
        """L-Mul of values already in ``fmt`` (they are encoded exactly first)."""
        return self(self.fmt.encode(a), self.fmt.encode(b), dtype=dtype)

    @cached_property
    def _lut64(self) -> np.ndarray:
        n = 1 << self.fmt.width
        c = np.arange(n, dtype=np.int64)
        lut = self._compute(np.repeat(c, n), np.tile(c, n))
        lut.flags.writeable = False
        return lut

    @cached_property
    def _lut32(self) -> np.ndarray:
        lut = self._lut64.astype(np.float32)
        lut.flags.writeable = False
        return lut

    def _fields(self, c):
        f, m = self.fmt, self.fmt.man_bits
        e = (c >> m) & ((1 << f.exp_bits) - 1)
        man = c & ((1 << m) - 1)
        zero = (e == 0) & (man == 0)
        sub = (e == 0) & (man != 0)
        if self.subnormal == "normalize" and m:
            lead = np.floor(np.log2(np.maximum(man, 1))).astype(np.int64)  # exact for small ints
            shift = np.where(sub, m - lead, 0)
            man = np.where(sub, (man << shift) & ((1 << m) - 1), man)
            e = np.where(sub, 1 - shift, e)
        return e, man, zero, sub

    def _compute(self, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
        f, m = self.fmt, self.fmt.man_bits
        ea, ma, za, sa = self._fields(ca)
        eb, mb, zb, sb = self._fields(cb)
        off = 1 << (m - self.offset_bits)
        if self.definition == "integer_add":
            r = (ea << m) + ma + (eb << m) + mb - (f.bias << m) + off
            sig, exp = (1 << m) + (r & ((1 << m) - 1)), (r >> m) - f.bias - m
        else:
            sig, exp = (1 << m) + ma + mb + off, ea + eb - 2 * f.bias - m
        with np.errstate(over="ignore"):
            val = np.ldexp(sig.astype(np.float64), exp)
        zero = np.zeros(val.shape, bool)
        if self.zero == "exact":
            zero |= za | zb
        if self.subnormal == "flush":
            zero |= sa | sb
        if self.underflow == "flush":
            zero |= val < f.min_normal
        val[zero] = 0.0
        val[val > f.max_finite] = self._overflow_value()
        self._specials(val, ca, cb)
        return np.where(((ca ^ cb) >> (f.width - 1)) & 1, -val, val)

    def _overflow_value(self) -> float:
        policy = self.overflow
        if policy == "format":
            policy = {"saturate": "saturate", "inf": "inf", "nan": "nan"}[self.fmt.resolved_overflow]
        return {"saturate": self.fmt.max_finite, "inf": np.inf, "nan": np.nan}[policy]

    def _specials(self, val, ca, cb) -> None:
        da = self.fmt.decode(ca, dtype=np.float64)
        db = self.fmt.decode(cb, dtype=np.float64)
        inf = np.isinf(da) | np.isinf(db)
        val[inf] = np.inf
        val[np.isnan(da) | np.isnan(db) | (inf & ((da == 0) | (db == 0)))] = np.nan


def lmul(a_codes, b_codes, fmt: FloatFormat, definition: str = "integer_add", **policies) -> np.ndarray:
    """Elementwise L-Mul of two code arrays of ``fmt``; see :class:`LMul` for the policies.

    Returns
    -------
    numpy.ndarray of float32
        Exact L-Mul values.
    """
    return LMul(fmt, definition, **policies)(a_codes, b_codes)
