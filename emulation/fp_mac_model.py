"""Golden model of the floating-point dot-product PEs: fused multiply-add into a float accumulator."""

import numpy as np

from ._arrays import as_codes
from .accumulate import _odd_sum
from .errors import FormatError
from .float_format import FloatFormat
from .lmul import LMul

__all__ = ["canonical_codes", "check_acc_format", "check_in_format", "exact_products", "fp_add", "fp_dot"]

_IN_SPECIALS = ("ieee", "fn")


def check_acc_format(fmt) -> None:
    """Raise FormatError unless ``fmt`` is an IEEE-style accumulator the PE adder implements.

    Allowed: ``specials="ieee"``, subnormals kept, round to nearest even and
    overflow to Inf (float32, bfloat16, float16, float8_e5m2, ...).
    """
    if not isinstance(fmt, FloatFormat):
        raise FormatError(f"acc_fmt must be a FloatFormat; got {fmt!r}")
    if fmt.specials != "ieee" or not fmt.subnormals or fmt.rounding != "nearest_even":
        raise FormatError(
            f"acc_fmt {fmt.name} is not allowed: the adder needs specials 'ieee', subnormals and "
            f"rounding 'nearest_even'; got specials {fmt.specials!r}, subnormals {fmt.subnormals}, "
            f"rounding {fmt.rounding!r}"
        )
    if fmt.resolved_overflow != "inf":
        raise FormatError(f"acc_fmt {fmt.name} overflow must resolve to 'inf'; got {fmt.overflow!r}")


def check_in_format(fmt) -> None:
    """Raise FormatError unless ``fmt`` is an input format of the PEs (``"ieee"`` or ``"fn"``, subnormals kept)."""
    if not isinstance(fmt, FloatFormat) or fmt.specials not in _IN_SPECIALS or not fmt.subnormals:
        raise FormatError(f"in_fmt must be a FloatFormat with specials 'ieee' or 'fn' and subnormals; got {fmt!r}")


def canonical_codes(fmt: FloatFormat, values: np.ndarray) -> np.ndarray:
    """Encode ``values`` of ``fmt``; every NaN becomes the positive code ``fmt.nan_code``.

    Parameters
    ----------
    fmt : FloatFormat
    values : numpy.ndarray of float64
        Values of ``fmt`` (NaN of any sign or payload allowed).

    Returns
    -------
    numpy.ndarray of int64
        Codes, the canonical NaN code for every NaN (the hardware adders' NaN).
    """
    nan = np.isnan(values)
    codes = fmt.encode(np.where(nan, 0.0, values))
    codes[nan] = fmt.nan_code
    return codes


def _round_add(fmt: FloatFormat, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x + y`` (float64, exact values) rounded once into ``fmt``; returned as float64 values."""
    # Round to odd in float64 (53 bits) then once to fmt (<= 24 bits): a single correct rounding.
    return fmt.quantise(_odd_sum(x, y), dtype=np.float64)


def fp_add(a_codes, b_codes, fmt: FloatFormat) -> np.ndarray:
    """IEEE addition of two code arrays of ``fmt``, rounded to nearest even; returns codes.

    Golden model of :class:`hwgen.rtl.fp_add.FpAdder`. ``x + (-x)`` is +0,
    ``(-0) + (-0)`` is -0, ``Inf - Inf`` is NaN, overflow gives ±Inf, and every
    NaN result is the canonical positive ``fmt.nan_code`` (IEEE 754 leaves the
    sign and payload of a NaN result open; the hardware fixes them).

    Raises
    ------
    FormatError
        If ``fmt`` is not an accumulator format (see :func:`check_acc_format`).
    """
    check_acc_format(fmt)
    a, b = np.broadcast_arrays(as_codes(a_codes, fmt.width), as_codes(b_codes, fmt.width))
    x = fmt.decode(a.reshape(-1), np.float64)  # 1-D: the format codecs do not take 0-d arrays
    y = fmt.decode(b.reshape(-1), np.float64)
    return canonical_codes(fmt, _round_add(fmt, x, y)).reshape(a.shape)


def exact_products(a_codes, b_codes, in_fmt: FloatFormat, mul="exact") -> np.ndarray:
    """Products of two code arrays as exact float64 values (NaN where the product is NaN).

    ``mul="exact"``: the exact product (at most 2 * (man_bits + 1) significant
    bits, exact in float64 for every format up to 8 exponent bits and 23
    mantissa bits). An :class:`~hwgen.emulation.lmul.LMul`: its approximation.
    """
    if isinstance(mul, LMul):
        if mul.fmt != in_fmt:
            raise FormatError(f"LMul format {mul.fmt.name} differs from in_fmt {in_fmt.name}")
        return mul(a_codes, b_codes, dtype=np.float64)
    if mul != "exact":
        raise FormatError(f"mul must be 'exact' or an LMul; got {mul!r}")
    with np.errstate(invalid="ignore"):
        return in_fmt.decode(a_codes, np.float64) * in_fmt.decode(b_codes, np.float64)


def fp_dot(a_codes, b_codes, in_fmt: FloatFormat, acc_fmt: FloatFormat, mul="exact") -> np.ndarray:
    """Dot products along the last axis exactly as the FP MAC / L-Mul PE computes them.

    ``acc = +0``; for k = 0..K-1: ``acc = RNE_acc(acc + p_k)`` where ``p_k`` is
    the product of ``a[..., k]`` and ``b[..., k]`` (exact, or the L-Mul value)
    and the sum is rounded once (a fused multiply-add: the product is never
    rounded on its own). Sequential K order, as in
    ``hwgen.emulation.accumulate(order="sequential")``. For FP8 inputs into
    float32 every product is exact in float32, so this equals
    ``hwgen.emulation.dot(a, b, mul="exact", acc=float32)``.

    Parameters
    ----------
    a_codes, b_codes : array_like of int, shape (..., K)
        Operand codes of ``in_fmt``.
    in_fmt : FloatFormat
        Input format (``"ieee"`` or ``"fn"`` specials).
    acc_fmt : FloatFormat
        Accumulator format (see :func:`check_acc_format`).
    mul : "exact" or LMul, default "exact"

    Returns
    -------
    numpy.ndarray of ``acc_fmt.code_dtype``, shape (...)
        Accumulator codes; every NaN is the canonical ``acc_fmt.nan_code``.

    Raises
    ------
    FormatError
        On an unsupported format, a multiplier spec or mismatched shapes.
    """
    check_in_format(in_fmt)
    check_acc_format(acc_fmt)
    a = as_codes(a_codes, in_fmt.width)
    b = as_codes(b_codes, in_fmt.width)
    if a.shape != b.shape or a.ndim == 0:
        raise FormatError(f"a and b must have the same shape (..., K); got {a.shape} and {b.shape}")
    # Flattened to 2-D: the format codecs do not take 0-d arrays.
    p = exact_products(a, b, in_fmt, mul).reshape(-1, a.shape[-1])
    acc = np.zeros(p.shape[0], np.float64)
    for k in range(p.shape[1]):
        acc = _round_add(acc_fmt, acc, p[:, k])
    return canonical_codes(acc_fmt, acc).reshape(a.shape[:-1])
