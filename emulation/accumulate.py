"""Accumulators modelled explicitly: format, rounding and summation order (never a NumPy reduction)."""

import math

import numpy as np

from .errors import FormatError
from .float_format import FloatFormat
from .int_format import IntFormat
from .rounding import make_rng

__all__ = ["ORDERS", "accumulate", "is_float32_rne"]

#: ``"sequential"``: ``acc = round(acc + p_k)`` for k = 0..K-1 starting from +0.
#: ``"pairwise"``: a balanced adder tree over adjacent pairs, every node rounded
#: (an odd element is carried up unrounded). ``"chunked"``: each run of ``chunk``
#: consecutive products is summed exactly (a wide adder tree), then added
#: sequentially with one rounding per chunk.
ORDERS = ("sequential", "pairwise", "chunked")


def is_float32_rne(fmt) -> bool:
    """True if ``fmt`` rounds exactly like IEEE float32 arithmetic (RNE, subnormals, Inf)."""
    return (
        isinstance(fmt, FloatFormat)
        and (fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.specials) == (8, 23, 127, "ieee")
        and fmt.subnormals
        and fmt.rounding == "nearest_even"
        and fmt.resolved_overflow == "inf"
    )


def check_acc(acc, order, chunk) -> None:
    """Validate an accumulator spec and order; raise FormatError naming the bad field."""
    if not (isinstance(acc, (IntFormat, FloatFormat)) or acc == "exact"):
        raise FormatError(f"acc must be an IntFormat, a FloatFormat or 'exact'; got {acc!r}")
    if order not in ORDERS:
        raise FormatError(f"order must be one of {', '.join(ORDERS)}; got {order!r}")
    if order == "chunked" and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise FormatError(f"chunk must be a positive int with order='chunked'; got {chunk!r}")


def _odd_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 ``a + b`` rounded to odd (TwoSum), so one further rounding to <= 51 bits is exact."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = a + b
        bb = s - a
        err = (a - (s - bb)) + (b - bb)
    inexact = np.isfinite(s) & (err != 0)
    if inexact.any():
        si = s[inexact]
        even = (si.view(np.int64) & 1) == 0
        toward = np.where(err[inexact] > 0, np.inf, -np.inf)
        s[inexact] = np.where(even, np.nextafter(si, toward), si)
    return s


class Adder:
    """``add(x, y)``: one rounded addition in the accumulator format, vectorised."""

    def __init__(self, acc, rng=None):
        self.acc = acc
        self.rng = make_rng(rng) if getattr(acc, "rounding", None) == "stochastic" else None
        self.fast32 = is_float32_rne(acc)

    def zeros(self, shape) -> np.ndarray:
        if isinstance(self.acc, IntFormat):
            return np.zeros(shape, np.int64)
        return np.zeros(shape, np.float32 if self.fast32 else np.float64)

    def prepare(self, p: np.ndarray) -> np.ndarray:
        """Products as the adder's working dtype (raises if an integer acc gets non-integers)."""
        if isinstance(self.acc, IntFormat):
            if p.dtype.kind == "f":
                if not (np.isfinite(p).all() and (p == np.rint(p)).all()):
                    raise FormatError("an integer accumulator needs integer products")
                return p.astype(np.int64)
            return p.astype(np.int64, copy=False)
        if self.fast32:
            p32 = p.astype(np.float32)
            if not np.array_equal(p32, p, equal_nan=True):
                raise FormatError(
                    "float32 accumulation needs products exact in float32; pass mul=<format> to round them first"
                )
            return p32
        return p.astype(np.float64, copy=False)

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if isinstance(self.acc, IntFormat):
            return self.acc.fit(x + y)
        if self.fast32:
            with np.errstate(over="ignore", invalid="ignore"):  # IEEE: Inf and NaN are results
                return x + y
        if self.acc == "exact":
            return x + y  # callers guarantee exactness or use math.fsum
        return self.acc.quantise(_odd_sum(x, y), dtype=np.float64, rng=self.rng)


def _float_sum_is_exact(p: np.ndarray, axis: int) -> bool:
    """True if every partial sum along ``axis`` is exact in float64 (any order)."""
    nz = p[np.isfinite(p) & (p != 0)]
    if nz.size == 0:
        return True
    m, e = np.frexp(nz)
    mi = np.ldexp(m, 53).astype(np.int64)
    tz = np.log2((mi & -mi).astype(np.float64)).astype(np.int64)
    quantum = int((e - 53 + tz).min())
    bound = float(np.abs(np.where(np.isfinite(p), p, 0)).sum(axis=axis).max())
    return bound < 2.0 ** (53 + quantum)


def exact_sum(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """Exact sum along ``axis`` rounded once to float64 (nearest even)."""
    if _float_sum_is_exact(p, axis):
        return p.sum(axis=axis, dtype=np.float64)
    moved = np.moveaxis(p, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.array([_fsum(row) for row in flat], np.float64)
    return out.reshape(moved.shape[:-1])


def _fsum(row) -> float:
    if not np.isfinite(row).all():
        return float(np.sum(row))
    return math.fsum(row.tolist())


#: Fewest contiguous outputs for which NumPy keeps them innermost and adds along the
#: outer (K) axis in order; narrower, it may reduce K innermost with several partial sums.
MIN_SEQUENTIAL_WIDTH = 8


def sequential_reduce_ok(p: np.ndarray) -> bool:
    """Whether ``np.add.reduce(p, axis=0)`` adds the rows of ``p`` strictly in order.

    NumPy sums along the innermost loop pairwise; with the reduced axis outermost and
    at least 8 contiguous outputs inside, each output instead gets ``out += p[k]``
    for k in order (checked against an explicit loop by the tests).
    """
    return p.ndim >= 2 and p.flags.c_contiguous and p[0].size >= MIN_SEQUENTIAL_WIDTH


def _tree(adder: Adder, p: np.ndarray) -> np.ndarray:
    while p.shape[0] > 1:
        pairs = adder.add(p[0 : p.shape[0] - 1 : 2], p[1::2])
        p = np.concatenate([pairs, p[-1:]]) if p.shape[0] % 2 else pairs
    return p[0]


def reduce_axis0(adder: Adder, p: np.ndarray, order: str, chunk, init=None) -> np.ndarray:
    """Accumulate prepared products ``p`` (K first) into ``init`` (default zeros) in ``order``."""
    acc = adder.zeros(p.shape[1:]) if init is None else init
    if p.shape[0] == 0:
        return acc
    if adder.acc == "exact":
        return exact_sum(np.concatenate([acc[None], p]), axis=0)
    if order == "pairwise":
        return adder.add(acc, _tree(adder, p)) if init is not None else _pairwise_from_zero(adder, p)
    if order == "chunked":
        for k in range(0, p.shape[0], chunk):
            part = p[k : k + chunk]
            wide = part.sum(axis=0) if part.dtype.kind == "i" else exact_sum(part.astype(np.float64))
            if adder.fast32:
                # The chunk's exact sum need not fit float32: add it in float64 rounded to
                # odd, then one RNE cast to float32 rounds acc + chunk exactly once.
                with np.errstate(over="ignore"):
                    acc = _odd_sum(acc.astype(np.float64), np.asarray(wide, np.float64)).astype(np.float32)
            else:
                acc = adder.add(acc, wide)
        return acc
    if isinstance(adder.acc, IntFormat) and adder.acc.overflow == "wrap":
        return adder.acc.fit(acc + p.sum(axis=0))  # wrapping addition is associative
    if adder.fast32 and sequential_reduce_ok(p):
        p = p.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            p[0] += acc
            return np.add.reduce(p, axis=0)
    for k in range(p.shape[0]):
        acc = adder.add(acc, p[k])
    return acc


def _pairwise_from_zero(adder: Adder, p: np.ndarray) -> np.ndarray:
    # A single product is still rounded into the accumulator (0 + p).
    return adder.add(adder.zeros(p.shape[1:]), _tree(adder, p)) if p.shape[0] == 1 else _tree(adder, p)


def accumulate(products, acc, order: str = "sequential", chunk=None, axis: int = -1, rng=None) -> np.ndarray:
    """Sum ``products`` along ``axis`` in the accumulator ``acc``, in an explicit order.

    Parameters
    ----------
    products : array_like
        Exact products (floats, or integers for an integer accumulator).
    acc : IntFormat, FloatFormat or "exact"
        Accumulator: an integer register (wrap or saturate at every addition),
        a float register rounding every addition with ``acc.rounding`` (the
        exact sum is rounded once per addition), or ``"exact"`` (the exact sum,
        rounded once to float64 at the end).
    order : {"sequential", "pairwise", "chunked"}, default "sequential"
        See :data:`ORDERS`.
    chunk : int, optional
        Chunk length ``W`` for ``order="chunked"``.
    axis : int, default -1
        Reduction axis.
    rng : None, int or numpy.random.Generator, optional
        Random source for a stochastic-rounding accumulator.

    Returns
    -------
    numpy.ndarray
        int64 for an integer accumulator, float32 for a float32-RNE one,
        float64 otherwise (the accumulator's values, exactly).

    Raises
    ------
    FormatError
        On an unknown ``acc``/``order``/``chunk``, non-integer products into an
        integer accumulator, or products not exact in float32 for float32.
    """
    check_acc(acc, order, chunk)
    p = np.moveaxis(np.asarray(products), axis, 0)
    if p.dtype.kind not in "biuf":
        raise FormatError(f"products must be numeric; got dtype {p.dtype}")
    adder = Adder(acc, rng)
    return reduce_axis0(adder, adder.prepare(p), order, chunk)
