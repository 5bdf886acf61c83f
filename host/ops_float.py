"""The layer IR's host ops in float32 NumPy (embedding, layernorm, softmax, erf GELU, pooling)."""

from __future__ import annotations

import numpy as np

from hwgen.emulation.errors import ConfigError

__all__ = ["erf", "gelu", "layernorm", "run_host_op", "softmax"]

_SERIES_TERMS = 34  # x * P(x**2) on |x| < 2: the last term is below 1e-17 of the result
_CF_TERMS = 60
_CHUNK = 1 << 15  # elements per pass (256 KB of float64): the Horner loop runs in cache
# Taylor coefficients of erf(x) / x in t = x**2, highest power first (for Horner).
_COEFFS = [
    2.0 / np.sqrt(np.pi) * (-1.0) ** n / (np.prod(np.arange(1.0, n + 1)) * (2 * n + 1))
    for n in reversed(range(_SERIES_TERMS))
]


def _real(field: str, x) -> np.ndarray:
    """``x`` as an array if it holds real numbers (strings, bools, complex and objects are refused)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise ConfigError(field, f"array of dtype {x.dtype}", "an integer or float array")
    return x


def _erf_small(x: np.ndarray) -> np.ndarray:
    t = x * x
    p = np.full_like(x, _COEFFS[0])
    for c in _COEFFS[1:]:
        p *= t
        p += c
    return p * x


def _erf_large(x: np.ndarray) -> np.ndarray:
    """erf for |x| >= 2 from the continued fraction of erfc (60 terms, evaluated backwards)."""
    z = np.abs(x)
    frac = np.zeros_like(z)
    for n in range(_CF_TERMS, 0, -1):
        frac = (n / 2.0) / (z + frac)
    erfc = np.exp(-z * z) / np.sqrt(np.pi) / (z + frac)
    return np.copysign(1.0 - erfc, x)


def erf(x) -> np.ndarray:
    """The error function in float64, to within a few ulp of ``math.erf`` (NumPy has none).

    Taylor series (Horner, 34 terms) for ``|x| < 2``, where at most ~2 digits are lost to
    cancellation; the continued fraction of ``erfc`` beyond. Runs in cache-sized chunks.
    """
    x = _real("x", x).astype(np.float64)
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for i in range(0, flat.size, _CHUNK):
        xs = flat[i : i + _CHUNK]
        big = np.abs(xs) >= 2.0
        out[i : i + _CHUNK] = _erf_small(np.where(big, 0.0, xs))
        if big.any():
            out[i : i + _CHUNK][big] = _erf_large(xs[big])
    return out.reshape(x.shape)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, ``x * (1 + erf(x / sqrt(2))) / 2``, computed in float64 and returned as float32."""
    x64 = _real("x", x).astype(np.float64)
    return (0.5 * x64 * (1.0 + erf(x64 / np.sqrt(2.0)))).astype(np.float32)


def layernorm(x: np.ndarray, gamma, beta, eps: float) -> np.ndarray:
    """Layer normalisation over the last axis (biased variance), float32.

    Raises
    ------
    ConfigError
        If ``x`` is not a real array or ``eps`` is not a finite number >= 0.
    """
    x = _real("x", x)
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating) or not 0 <= eps < np.inf:
        raise ConfigError("eps", eps, "a finite number >= 0")
    mean = x.mean(axis=-1, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=-1, keepdims=True)
    return (d / np.sqrt(var + np.float32(eps)) * gamma + beta).astype(np.float32)


def softmax(scores: np.ndarray, mask=None, causal: bool = False) -> np.ndarray:
    """Softmax over the last axis of (B, H, Sq, Sk) scores; ``mask`` (B, Sk) 0 hides a key.

    ``causal`` hides key ``j`` from query ``i`` when ``j > i + Sk - Sq`` (queries are the
    last ``Sq`` positions, as in decoding with a KV cache).

    Raises
    ------
    ConfigError
        If ``scores`` is not a real array of at least 2 axes, or ``mask`` is not a real
        ``(B, Sk)`` array for ``(B, H, Sq, Sk)`` scores.
    """
    s = _real("scores", scores).astype(np.float32, copy=True)
    if s.ndim < 2:
        raise ConfigError("scores", f"array of shape {s.shape}", "(..., Sq, Sk) scores")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise ConfigError("mask", f"array of dtype {mask.dtype}", "a 0/1 (bool, integer or float) array")
        if s.ndim != 4 or mask.shape != (s.shape[0], s.shape[-1]):
            raise ConfigError("mask", f"array of shape {mask.shape}", f"(B, Sk) for scores of shape {s.shape}")
        s = np.where(mask[:, None, None, :] > 0, s, np.float32(-np.inf))
    if causal:
        sq, sk = s.shape[-2:]
        hide = np.arange(sk)[None, :] > np.arange(sq)[:, None] + (sk - sq)
        s = np.where(hide, np.float32(-np.inf), s)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # a fully masked row gives zeros, not NaN
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total > 0, total, 1)).astype(np.float32)


def _embedding(attrs, ids: np.ndarray) -> np.ndarray:
    table = attrs["table"]
    index = attrs.get("index", "ids")
    if index == "ids":
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or (ids.size and (ids.min() < 0 or ids.max() >= table.shape[0])):
            raise ConfigError("ids", f"array of dtype {ids.dtype}", f"integer ids from 0 to {table.shape[0] - 1}")
        return table[ids]
    offset = attrs.get("offset", 0)
    rows = table[offset : offset + ids.shape[-1]] if index == "position" else table[np.zeros(1, int)]
    return np.broadcast_to(rows, (*ids.shape, table.shape[1])).astype(np.float32)


def _mean_pool(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask, np.float32)[..., None]
    return ((x * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))).astype(np.float32)


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    return (x / np.maximum(norm, np.float32(1e-12))).astype(np.float32)


def _split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    b, s, d = x.shape
    return np.ascontiguousarray(x.reshape(b, s, heads, d // heads).transpose(0, 2, 1, 3))


def _merge_heads(x: np.ndarray) -> np.ndarray:
    b, h, s, d = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3).reshape(b, s, h * d))


def run_host_op(node, args: list) -> np.ndarray:
    """Value of a non-GEMM ``node`` (see :class:`hwgen.host.ir.Node`) from its input values."""
    a = node.attrs
    op = node.op
    if op == "embedding":
        return _embedding(a, args[0])
    if op == "add":
        out = args[0]
        for other in args[1:]:
            out = out + other
        return out.astype(np.float32, copy=False)
    if op == "layernorm":
        return layernorm(args[0], a["gamma"], a["beta"], a["eps"])
    if op == "softmax":
        return softmax(args[0], args[1] if len(args) > 1 else None, a.get("causal", False))
    if op == "gelu":
        return gelu(args[0])
    if op == "mean_pool":
        return _mean_pool(args[0], args[1])
    if op == "l2_normalize":
        return _l2_normalize(args[0])
    if op == "split_heads":
        return _split_heads(args[0], a["heads"])
    if op == "merge_heads":
        return _merge_heads(args[0])
    if op == "concat":
        return np.concatenate(args, axis=a.get("axis", -2)).astype(np.float32, copy=False)
    raise ValueError(f"op {op!r} has no host implementation")
