"""Operand quantisation for the executor: float casts, scaled integers, MX blocks, N:M pruning, L-Mul operands."""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from hwgen.emulation import FloatFormat, IntFormat, LMul, MXFormat
from hwgen.emulation.errors import ConfigError
from hwgen.host.nm_sparsity import prune_nm

__all__ = ["Operand", "prune_weights", "quantise_activation", "quantise_weight"]

_WEIGHT_CACHE_SIZE = 512
_weight_cache: OrderedDict = OrderedDict()


@dataclass(frozen=True)
class Operand:
    """A quantised GEMM operand.

    Attributes
    ----------
    values : numpy.ndarray
        Exact values of ``fmt`` the multipliers see: float32 for float and MX formats (MX
        block scales folded in), integers held in float64 for integer formats (before
        ``scale``; float64 feeds the exact BLAS path without a conversion per GEMM).
    codes : numpy.ndarray or None
        Codes of ``fmt``; None for MX operands (their codes need the block scales too).
    fmt : FloatFormat, IntFormat or MXFormat
    scale : float, numpy.ndarray or None
        Dequantisation factor of integer operands: a scalar (per tensor) or one per
        output column (weights); None when ``values`` are already the real values.
    """

    values: np.ndarray
    codes: np.ndarray | None
    fmt: object
    scale: object = None

    @functools.cached_property
    def values64(self) -> np.ndarray:
        """``values`` as float64 (exact), computed once: the exact BLAS path multiplies these."""
        return self.values.astype(np.float64, copy=False)

    def item(self, i: int) -> Operand:
        """Operand ``i`` of a stacked (batched) operand."""
        return Operand(self.values[i], None if self.codes is None else self.codes[i], self.fmt, self.scale)


def _satfinite(fmt: FloatFormat) -> FloatFormat:
    # Hardware casts saturate (OCP/NVIDIA "satfinite"): an activation above max_finite
    # becomes max_finite, never NaN/Inf. Same bit layout, so codes are codes of ``fmt``.
    return fmt if fmt.overflow == "saturate" else replace(fmt, overflow="saturate")


def _int_scale(amax, fmt: IntFormat):
    amax = np.asarray(amax, np.float64)
    return np.where(amax > 0, amax / fmt.max_value, 1.0)


def _quantise(x: np.ndarray, fmt, amax, axis: int) -> Operand:
    if isinstance(fmt, FloatFormat):
        codes = _satfinite(fmt).encode(x)
        return Operand(fmt.decode(codes, np.float32), codes, fmt)
    if isinstance(fmt, MXFormat):
        scales, elems = fmt.encode(x, axis=axis)
        return Operand(fmt.decode(scales, elems, axis=axis, dtype=np.float32), None, fmt)
    scale = _int_scale(amax, fmt)
    q = np.clip(np.rint(x.astype(np.float64) / scale), -fmt.max_value, fmt.max_value)
    return Operand(q, fmt.encode(q), fmt, scale if scale.ndim else float(scale))


def _check_fmt(fmt) -> None:
    if not isinstance(fmt, FloatFormat | IntFormat | MXFormat):
        raise ConfigError("fmt", fmt, "a FloatFormat, IntFormat or MXFormat")


def _real(field: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise ConfigError(field, f"array of dtype {x.dtype}", "an integer or float array")
    return x


def _to_lmul(op: Operand, lmul: LMul | None) -> Operand:
    """Round the operand's values to the L-Mul operand format (m-bit mantissas)."""
    if lmul is None:
        return op
    codes = _satfinite(lmul.fmt).encode(op.values.astype(np.float32))
    return Operand(lmul.fmt.decode(codes, np.float32), codes, lmul.fmt, op.scale)


def quantise_activation(x: np.ndarray, fmt, amax=None, lmul: LMul | None = None, axis: int = -1) -> Operand:
    """Quantise an activation tensor (K along ``axis``).

    Integer formats: one symmetric scale for the whole tensor, ``amax / max_value``
    with ``amax`` the calibrated maximum (or ``max|x|`` when None); values beyond it
    saturate. Float formats: cast with saturation, round to nearest even. MX formats:
    blocks of 32 along K.

    Raises
    ------
    ConfigError
        If ``fmt`` is not a format, ``x`` is not a real array or ``amax`` is not a
        finite number >= 0.
    """
    _check_fmt(fmt)
    x = _real("x", x)
    if amax is not None and (
        isinstance(amax, bool) or not isinstance(amax, int | float | np.integer | np.floating) or not 0 <= amax < np.inf
    ):
        raise ConfigError("amax", amax, "None or a finite number >= 0")
    if amax is None and isinstance(fmt, IntFormat):
        amax = float(np.abs(x).max(initial=0))
    return _to_lmul(_quantise(x, fmt, amax, axis), lmul)


def prune_weights(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Keep the ``n`` largest-magnitude of every ``m`` consecutive weights along K (axis 0) of ``w`` (K, N).

    Uses :func:`hwgen.host.nm_sparsity.prune_nm` on the float32 bit patterns of ``|w|``
    (ordered like the magnitudes), so ties and the kept positions match the sparse chain.
    """
    keys = np.abs(w.astype(np.float32)).view(np.int32).T
    keep = prune_nm(keys, n, m) != 0
    return np.where(keep.T, w, np.float32(0)).astype(np.float32)


def quantise_weight(w: np.ndarray, fmt, nm=None, lmul: LMul | None = None) -> Operand:
    """Quantise a weight matrix ``w`` (K, N), cached per (array, format, pruning, L-Mul).

    Integer formats: one symmetric scale per output column, ``max|w[:, j]| / max_value``.
    MX formats: blocks of 32 along K. ``nm=(n, m)``: prune first (:func:`prune_weights`).

    Raises
    ------
    ConfigError
        If ``fmt`` is not a format, ``w`` is not a real matrix or ``nm`` is not None or an ``(n, m)`` pair.
    """
    _check_fmt(fmt)
    if nm is not None and (not isinstance(nm, tuple) or len(nm) != 2):
        raise ConfigError("nm", nm, "None or an (n, m) pair")
    if _real("w", w).ndim != 2:
        raise ConfigError("w", f"array of shape {np.shape(w)}", "a 2-D (K, N) matrix")
    key = (id(w), fmt, nm, lmul)
    hit = _weight_cache.get(key)
    if hit is not None and hit[0] is w:
        _weight_cache.move_to_end(key)
        return hit[1]
    src = prune_weights(w, *nm) if nm else w
    amax = np.abs(src).max(axis=0) if isinstance(fmt, IntFormat) else None
    op = _to_lmul(_quantise(src, fmt, amax, axis=0), lmul)
    _weight_cache[key] = (w, op)
    if len(_weight_cache) > _WEIGHT_CACHE_SIZE:
        _weight_cache.popitem(last=False)
    return op
