"""Fast bit-exact GEMM kernels for the executor, each equal to ``hwgen.emulation.matmul`` on its domain."""

from __future__ import annotations

import functools

import numpy as np

from hwgen.emulation import FloatFormat, IntFormat, LMul, matmul
from hwgen.emulation.accumulate import _odd_sum, is_float32_rne, sequential_reduce_ok
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.f32_sequential import matmul_f32_sequential

__all__ = ["acc_decode", "acc_encode", "gemm_batched_values", "gemm_values"]

_F32_MAX_EXP = 126  # a product's exponent must stay below float32 overflow
_F32_MIN_QUANTUM = -149  # and its last bit above float32's smallest subnormal
_LMUL_LUT_BITS = 11  # L-Mul formats up to this width get a table of all operand pairs (16 MB at 11 bits)
_ROW_LOOP_OUTPUTS = 1 << 14  # above this many outputs per product, loop over rows instead of K


def _check_acc(acc) -> None:
    if not (acc == "exact" if isinstance(acc, str) else isinstance(acc, IntFormat | FloatFormat)):
        raise ConfigError("acc", acc, "'exact', an IntFormat or a FloatFormat")


def acc_encode(values: np.ndarray, acc) -> np.ndarray:
    """Accumulator codes of accumulator values (float64 bit patterns for ``"exact"``)."""
    _check_acc(acc)
    if isinstance(acc, str):
        return np.ascontiguousarray(values, np.float64).view(np.uint64)
    if is_float32_rne(acc) and values.dtype == np.float32 and not np.isnan(values).any():
        return np.ascontiguousarray(values).view(np.uint32).copy()  # the IEEE bit pattern is the code
    return acc.encode(values)


def acc_decode(codes: np.ndarray, acc) -> np.ndarray:
    """Accumulator values of accumulator codes (inverse of :func:`acc_encode`)."""
    _check_acc(acc)
    if isinstance(acc, str):
        return np.ascontiguousarray(codes, np.uint64).view(np.float64)
    if isinstance(acc, IntFormat):
        return acc.decode(codes)
    return acc.decode(codes, np.float32 if is_float32_rne(acc) else np.float64)


def _data_stats(x: np.ndarray):
    """(significant bits, exponent of the lowest set bit, max exponent) over nonzero finite x; None if none."""
    nz = np.abs(x[np.isfinite(x) & (x != 0)]).astype(np.float64)
    if nz.size == 0:
        return None
    m, e = np.frexp(nz)
    mi = np.ldexp(m, 53).astype(np.int64)
    low = int(np.bitwise_or.reduce(mi))  # the lowest bit set in any significand bounds every quantum
    sig = 53 - int(np.log2((mi & -mi).astype(np.float64)).min())
    return sig, int((e - 53).min()) + (low & -low).bit_length() - 1, int(e.max()) - 1


def _stats(x: np.ndarray, fmt):
    """Like :func:`_data_stats` but from the format when it bounds the values (no pass over the data)."""
    if isinstance(fmt, FloatFormat):
        lo = int(np.log2(fmt.min_subnormal))
        return fmt.man_bits + 1, lo, int(np.floor(np.log2(fmt.max_finite)))
    if isinstance(fmt, IntFormat):
        return fmt.bits, 0, fmt.bits
    return _data_stats(x)


def _exact_in_float64(a: np.ndarray, b: np.ndarray, a_fmt=None, b_fmt=None) -> bool:
    """Every partial sum of ``a @ b`` (any order, any batch) is exact in float64."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    # Row sums of |a| times max|b| bound every partial sum; each is a multiple of 2**(qa+qb).
    bound = float(np.abs(a).sum(axis=-1).max(initial=0)) * float(np.abs(b).max(initial=0))

    def holds(sa, sb) -> bool:
        return sa is None or sb is None or (sa[0] + sb[0] <= 53 and bound < 2.0 ** (53 + sa[1] + sb[1]))

    # The formats' bounds cost nothing; a wide format (bfloat16) may still pass on its data.
    return holds(_stats(a, a_fmt), _stats(b, b_fmt)) or holds(_data_stats(a), _data_stats(b))


def _products_exact_in_float32(a: np.ndarray, b: np.ndarray, a_fmt=None, b_fmt=None) -> bool:
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False

    def holds(sa, sb) -> bool:
        if sa is None or sb is None:
            return True
        return sa[0] + sb[0] <= 24 and sa[1] + sb[1] >= _F32_MIN_QUANTUM and sa[2] + sb[2] < _F32_MAX_EXP

    return holds(_stats(a, a_fmt), _stats(b, b_fmt)) or holds(_data_stats(a), _data_stats(b))


def _is_int(x: np.ndarray, fmt=None) -> bool:
    """Integer operand: an integer dtype, or integer values of an IntFormat held as floats."""
    return x.dtype.kind in "iu" or isinstance(fmt, IntFormat)


def gemm_values(a: np.ndarray, b: np.ndarray, mul, acc, order: str, chunk=None, a_fmt=None, b_fmt=None):
    """Accumulator values of ``a @ b`` (2-D), bit-exact with :func:`hwgen.emulation.matmul`.

    Fast paths: exact products into ``acc="exact"`` run as one float64 BLAS product
    when every partial sum is provably exact; integer operands into a wrapping integer
    accumulator likewise (the exact sum is then wrapped once, which equals wrapping
    at every addition); L-Mul of formats up to 11 bits into sequential float32 reads
    its products from a table of all operand pairs. Everything else is
    :func:`hwgen.emulation.matmul`. ``a_fmt``/``b_fmt`` (the operands' formats, optional)
    bound the values without a pass over them.
    """
    return gemm_batched_values(a[None], b[None], mul, acc, order, chunk, a_fmt, b_fmt)[0]


def _exact_path(a3, b3, mul, acc, a_fmt, b_fmt):
    """float64 BLAS result if it is provably the exact result, else None."""
    ints = _is_int(a3, a_fmt) and _is_int(b3, b_fmt) and isinstance(acc, IntFormat) and acc.overflow == "wrap"
    if mul != "exact" or not (acc == "exact" or ints):
        return None
    if not _exact_in_float64(a3, b3, a_fmt, b_fmt):
        return None
    r = np.matmul(a3.astype(np.float64, copy=False), b3.astype(np.float64, copy=False))
    return r if acc == "exact" else acc.fit(r.astype(np.int64))


def gemm_batched_values(a3: np.ndarray, b3: np.ndarray, mul, acc, order: str, chunk=None, a_fmt=None, b_fmt=None):
    """Accumulator values of a stack of products ``a3[i] @ b3[i]``, each as :func:`gemm_values`.

    Raises
    ------
    ConfigError
        If the operands are not ``(batch, m, k)`` and ``(batch, k, n)`` real arrays
        (unsigned ones within int64), or ``chunk`` is not an integer >= 1 with ``order="chunked"``.
    """
    a3, b3 = _check_operand("a", a3), _check_operand("b", b3)
    if a3.ndim != 3 or b3.ndim != 3 or a3.shape[0] != b3.shape[0] or a3.shape[2] != b3.shape[1]:
        raise ConfigError("a @ b", f"{a3.shape} @ {b3.shape}", "(batch, m, k) @ (batch, k, n) arrays")
    if order == "chunked" and (isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1):
        raise ConfigError("chunk", chunk, "an integer >= 1 with order='chunked'")
    r = _exact_path(a3, b3, mul, acc, a_fmt, b_fmt)
    if r is not None:
        return r
    if is_float32_rne(acc) and order == "chunked" and mul == "exact" and not _is_int(a3, a_fmt):
        r = _chunked_f32(a3, b3, chunk, a_fmt, b_fmt)
        if r is not None:
            return r
    if is_float32_rne(acc) and order == "sequential" and not _is_int(a3, a_fmt):
        if mul == "exact" and _products_exact_in_float32(a3, b3, a_fmt, b_fmt):
            return _sequential_f32(a3.astype(np.float32), b3.astype(np.float32))
        if isinstance(mul, LMul) and mul.fmt.width <= _LMUL_LUT_BITS and _lmul_table(mul) is not None:
            return _lmul_sequential_f32(mul, a3, b3)
    if mul == "exact" and is_float32_rne(acc) and not _products_exact_in_float32(a3, b3, a_fmt, b_fmt):
        mul = acc  # wide operands (e.g. float32): the product is rounded to float32, then added (no FMA)
    return np.stack([matmul(a3[i], b3[i], mul, acc, order, chunk) for i in range(a3.shape[0])])


def _check_operand(field: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise ConfigError(field, f"array of dtype {x.dtype}", "an integer or float array")
    if x.dtype.kind == "u" and x.itemsize == 8 and x.size and x.max() > np.iinfo(np.int64).max:
        raise ConfigError(field, int(x.max()), "values that int64 holds")
    return x


def _sequential_f32(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """``acc = fl32(acc + a[i,k] * b[k,j])`` for k in order; products are exact in float32."""
    if a3.shape[1] * b3.shape[2] >= _ROW_LOOP_OUTPUTS:  # the emulator's kernel (the caller checked the products)
        return np.stack([matmul_f32_sequential(a3[i], b3[i]) for i in range(a3.shape[0])])
    acc = np.zeros((a3.shape[0], a3.shape[1], b3.shape[2]), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE: Inf and NaN are results
        for k in range(a3.shape[2]):  # vectorised over every output of the stack
            acc += a3[:, :, k, None] * b3[:, None, k, :]
    return acc


def _chunked_f32(a3, b3, chunk: int, a_fmt, b_fmt) -> np.ndarray | None:
    """Chunked order into float32: each chunk's exact sum (float64 BLAS, provably exact) added with one rounding.

    ``fl32(acc + wide)`` is one correct rounding: the float64 sum is rounded to odd first
    (the emulator's own primitive), then to nearest float32. None if not provably exact.
    """
    a64, b64 = a3.astype(np.float64, copy=False), b3.astype(np.float64, copy=False)
    if not _exact_in_float64(a64, b64, a_fmt, b_fmt):
        return None
    acc = np.zeros((a3.shape[0], a3.shape[1], b3.shape[2]), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE: overflow to Inf is a result
        for k0 in range(0, a3.shape[2], chunk):
            wide = np.matmul(a64[:, :, k0 : k0 + chunk], b64[:, k0 : k0 + chunk, :])
            acc = _odd_sum(acc.astype(np.float64), wide).astype(np.float32)
    return acc


@functools.lru_cache(maxsize=8)
def _lmul_table(mul: LMul) -> np.ndarray | None:
    """All ``2**(2w)`` L-Mul products, indexed ``a_code << w | b_code``; None if one is not exact in float32."""
    n = 1 << mul.fmt.width
    codes = np.arange(n, dtype=np.uint32)
    t64 = np.concatenate([mul(np.full(n, c, np.uint32), codes, dtype=np.float64) for c in range(n)])
    t32 = t64.astype(np.float32)
    return t32 if np.array_equal(t32, t64, equal_nan=True) else None


def _lmul_sequential_f32(mul: LMul, a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """L-Mul products from a table, summed in sequential float32 order (table values are exact in float32)."""
    w = mul.fmt.width
    ca = mul.fmt.encode(a3).astype(np.uint32) << np.uint32(w)
    cb = mul.fmt.encode(b3).astype(np.uint32)
    table = _lmul_table(mul)
    out = np.zeros((a3.shape[0], a3.shape[1], b3.shape[2]), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE: Inf and NaN are results
        for i in range(a3.shape[0]):
            for r in range(a3.shape[1]):
                prod = table[ca[i, r, :, None] | cb[i]]  # (K, N): the products of row r, K outermost
                if sequential_reduce_ok(prod):
                    np.add.reduce(prod, axis=0, out=out[i, r])  # adds rows in K order (accumulate docs)
                else:
                    for k in range(prod.shape[0]):
                        out[i, r] += prod[k]
    return out
