"""Matrix and dot products exactly as a dataflow computes them: multiplier, accumulator and order."""

import numpy as np

from .accumulate import Adder, check_acc, reduce_axis0
from .errors import FormatError
from .f32_sequential import matmul_f32_sequential
from .float_format import FloatFormat
from .formats import float32
from .int_format import IntFormat
from .lmul import LMul

__all__ = ["dot", "matmul"]

# Elements of the (K-chunk, rows, N) product block materialised at a time.
_BLOCK_ELEMS = 1 << 18
# The same for order="chunked", whose exact chunk sums make ~30 passes over a block:
# smaller blocks stay in cache (measured ~2x faster than 2**18 for FP8 GEMMs).
_CHUNK_BLOCK_ELEMS = 1 << 14


def _sig_stats(x: np.ndarray):
    """(max significant bits, min quantum exponent, max exponent) over nonzero finite x."""
    nz = x[np.isfinite(x) & (x != 0)].astype(np.float64)
    if nz.size == 0:
        return 0, 0, -1075
    m, e = np.frexp(nz)
    mi = np.ldexp(np.abs(m), 53).astype(np.int64)
    tz = np.log2((mi & -mi).astype(np.float64)).astype(np.int64)
    return int((53 - tz).max()), int((e - 53 + tz).min()), int(e.max())


def _f32_stats(x: np.ndarray):
    """(max significant bits, lower bound of the min quantum exponent, max exponent) of float32 x.

    Integer passes on the bit patterns (the significand bits come from one OR
    reduction); None if x holds float32 subnormals, which the bounds do not cover.
    """
    bits = x.view(np.uint32).reshape(-1)
    e = (bits >> np.uint32(23)) & np.uint32(0xFF)
    live = (e != 0) & (e != 0xFF)
    if ((e == 0) & (bits & np.uint32(0x7FFFFFFF) != 0)).any():
        return None
    if not live.any():
        return 0, 0, -1075
    sig = np.bitwise_or.reduce((bits[live] & np.uint32(0x7FFFFF)) | np.uint32(0x800000))
    ctz = (int(sig) & -int(sig)).bit_length() - 1
    el = e[live]
    return 24 - ctz, int(el.min()) - 150 + ctz, int(el.max()) - 127


def _products_exact_in_float32(a32: np.ndarray, b32: np.ndarray) -> bool:
    sa, sb = _f32_stats(a32), _f32_stats(b32)
    if sa is None or sb is None:
        return False
    return sa[0] + sb[0] <= 24 and sa[1] + sb[1] >= -149 and sa[2] + sb[2] <= 126


def _as_float32_exactly(x: np.ndarray):
    """x as float32 if that is exact (NaN kept), else None."""
    if x.dtype == np.float32:
        return x
    x32 = x.astype(np.float32)
    with np.errstate(invalid="ignore"):
        return x32 if np.array_equal(x32, x, equal_nan=True) else None


class _Multiplier:
    """Products of a column of ``a`` and a row of ``b`` for one multiplier spec."""

    def __init__(self, mul, a, b):
        self.mul = mul
        if isinstance(mul, LMul):
            self.a, self.b = mul.fmt.encode(a), mul.fmt.encode(b)
            if not (
                np.array_equal(mul.fmt.decode(self.a, np.float64), a, equal_nan=True)
                and np.array_equal(mul.fmt.decode(self.b, np.float64), b, equal_nan=True)
            ):
                raise FormatError(f"L-Mul operands must be values of {mul.fmt.name}")
        elif mul == "exact" or isinstance(mul, (FloatFormat, IntFormat)):
            self.a, self.b = a, b
        else:
            raise FormatError(f"mul must be 'exact', a FloatFormat, an IntFormat or an LMul; got {mul!r}")

    def block(self, rows: slice, k0: int, k1: int) -> np.ndarray:
        """Products, shape (k1 - k0, len(rows), N)."""
        a = self.a[rows, k0:k1].T[:, :, None]
        b = self.b[k0:k1, None, :]
        if isinstance(self.mul, LMul):
            return self.mul(a, b, dtype=np.float64)
        p = a * b  # float64 (or int64): exact for inputs of <= 26 significant bits
        if isinstance(self.mul, (FloatFormat, IntFormat)):
            p = self.mul.quantise(p)
        return p


def _as_operand(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" or arr.ndim != 2:
        raise FormatError(f"{name} must be a 2-D numeric array; got dtype {arr.dtype}, shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise FormatError(f"{name} dtype {arr.dtype} not supported; allowed: float16/32/64 or int")
    return arr


def _check_int_products(a: np.ndarray, b: np.ndarray, mul, acc) -> None:
    """Refuse integer operands whose int64 products could wrap where a saturating format needs their value.

    Wrapping formats only need the products modulo 2**64, which int64 arithmetic keeps.
    """
    saturating = [f.name for f in (mul, acc) if isinstance(f, IntFormat) and f.overflow == "saturate"]
    if not saturating or a.dtype.kind not in "biu" or b.dtype.kind not in "biu" or not (a.size and b.size):
        return
    bound = max(-int(a.min()), int(a.max())) * max(-int(b.min()), int(b.max()))
    if bound >= 2**63:
        raise FormatError(
            f"integer products up to {bound} overflow int64, so the saturating {saturating[0]} cannot see "
            f"their exact values; allowed: max|a| * max|b| < 2**63"
        )


def _widen(x: np.ndarray) -> np.ndarray:
    return x.astype(np.int64 if x.dtype.kind in "biu" else np.float64, copy=False)


def matmul(a, b, mul="exact", acc=float32, order: str = "sequential", chunk=None, rng=None) -> np.ndarray:
    """``a @ b`` as a MAC array computes it: one multiplier, one accumulator, one order.

    Parameters
    ----------
    a : array_like, shape (M, K)
        Values (already in their formats, e.g. ``fmt.decode(codes)``) or integers.
    b : array_like, shape (K, N)
    mul : "exact", FloatFormat, IntFormat or LMul, default "exact"
        ``"exact"``: exact products (float64 holds them for inputs with up to
        26 significant bits: every format up to float16/bfloat16, or integers).
        A format: the exact product rounded (or fitted) into it. An
        :class:`~hwgen.emulation.lmul.LMul`: the L-Mul approximation.
    acc : IntFormat, FloatFormat or "exact", default float32
        Accumulator, see :func:`~hwgen.emulation.accumulate.accumulate`.
    order : {"sequential", "pairwise", "chunked"}, default "sequential"
        Order of the K reduction for every output.
    chunk : int, optional
        ``W`` for ``order="chunked"``.
    rng : None, int or numpy.random.Generator, optional
        Random source of a stochastic-rounding accumulator.

    Returns
    -------
    numpy.ndarray, shape (M, N)
        float32 for a float32 accumulator, int64 for integer ones, float64 otherwise.

    Raises
    ------
    FormatError
        If the shapes do not chain or a spec is invalid, or integer operands
        have products beyond int64 while ``mul`` or ``acc`` saturates (a
        wrapping format only needs them modulo 2**64, which int64 keeps).

    Notes
    -----
    Exact fast paths: an exact multiplier into a float32 round-to-nearest-even
    accumulator, in sequential order, with products that are exact in float32
    (e.g. any FP8 x FP8), runs in float32 NumPy arithmetic, each addition
    rounding exactly as the hardware adder, on worker threads
    (:mod:`~hwgen.emulation.f32_sequential`); a wrapping integer accumulator sums
    exactly in int64; ``acc="exact"`` uses a float64 product when every
    partial sum is provably exact. Everything else loops over K, vectorised
    over the M x N outputs. ``order="chunked"`` sums each chunk of products
    exactly (fixed-point limbs, :func:`~hwgen.emulation.accumulate.accumulate`)
    and rounds ``acc + chunk`` once.
    """
    a, b = _as_operand(a, "a"), _as_operand(b, "b")
    if a.shape[1] != b.shape[0]:
        raise FormatError(f"shapes {a.shape} and {b.shape} do not chain as (M, K) x (K, N)")
    check_acc(acc, order, chunk)
    _check_int_products(a, b, mul, acc)
    adder = Adder(acc, rng)
    if mul == "exact" and adder.fast32 and order == "sequential" and a.dtype.kind == "f":
        a32, b32 = _as_float32_exactly(a), _as_float32_exactly(b)
        if a32 is not None and b32 is not None and _products_exact_in_float32(a32, b32):
            return matmul_f32_sequential(a32, b32)
    a, b = _widen(a), _widen(b)
    if mul == "exact" and isinstance(acc, IntFormat) and acc.overflow == "wrap" and a.dtype.kind == "i":
        return acc.fit(a @ b)  # int64 arithmetic wraps mod 2**64, which 2**bits divides
    if mul == "exact" and acc == "exact":
        return _exact_matmul(a, b)
    return _matmul_blocked(_Multiplier(mul, a, b), adder, a.shape, b.shape[1], order, chunk)


def _exact_matmul(a, b) -> np.ndarray:
    sa, qa, _ = _sig_stats(a)
    sb, qb, _ = _sig_stats(b)
    bound = float((np.abs(a) @ np.abs(b)).max(initial=0))
    finite = np.isfinite(a).all() and np.isfinite(b).all()
    if finite and sa + sb <= 53 and bound < 2.0 ** (53 + qa + qb):
        return a @ b  # every partial sum is a multiple of 2**(qa+qb) below 2**53 of them: exact
    return _matmul_blocked(_Multiplier("exact", a, b), Adder("exact"), a.shape, b.shape[1], "sequential", None)


def _matmul_blocked(mult: _Multiplier, adder: Adder, a_shape, n: int, order: str, chunk) -> np.ndarray:
    m, k = a_shape
    if order == "chunked" and adder.acc != "exact":  # one chunk of K is materialised at a time
        rows = max(1, _CHUNK_BLOCK_ELEMS // max(1, min(k, chunk) * n))
    else:
        rows = max(1, _BLOCK_ELEMS // max(1, k * n))
    out = adder.zeros((m, n))
    for r0 in range(0, m, rows):
        sl = slice(r0, min(m, r0 + rows))
        if order == "pairwise" or adder.acc == "exact":
            out[sl] = reduce_axis0(adder, adder.prepare(mult.block(sl, 0, k)), order, chunk)
            continue
        step = chunk if order == "chunked" else max(1, _BLOCK_ELEMS // max(1, (sl.stop - sl.start) * n))
        acc = adder.zeros((sl.stop - sl.start, n))
        for k0 in range(0, k, step):
            p = adder.prepare(mult.block(sl, k0, min(k, k0 + step)))
            acc = reduce_axis0(adder, p, order, chunk, init=acc)
        out[sl] = acc
    return out


def dot(a, b, mul="exact", acc=float32, order: str = "sequential", chunk=None, rng=None):
    """Dot product of two vectors under the same semantics as :func:`matmul`.

    Returns
    -------
    numpy scalar
        The accumulator's value.
    """
    a1, b1 = np.asarray(a), np.asarray(b)
    if a1.ndim != 1 or b1.ndim != 1:
        raise FormatError(f"dot needs 1-D vectors; got shapes {a1.shape} and {b1.shape}")
    return matmul(a1[None, :], b1[:, None], mul, acc, order, chunk, rng)[0, 0]
