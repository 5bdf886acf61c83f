"""Accumulators modelled explicitly: format, rounding and summation order (never a NumPy reduction)."""

import math
from fractions import Fraction

import numpy as np

from ._arrays import check_axis
from ._round_odd import odd_sum, special_sum, sum_odd
from .errors import FormatError
from .float_format import FloatFormat
from .int_format import IntFormat
from .rounding import make_rng

__all__ = ["ORDERS", "accumulate", "is_float32_rne"]

#: ``"sequential"``: ``acc = round(acc + p_k)`` for k = 0..K-1 starting from +0.
#: ``"pairwise"``: a balanced adder tree over adjacent pairs, every node rounded
#: (an odd element is carried up unrounded). ``"chunked"``: each run of ``chunk``
#: consecutive products is summed exactly (a wide adder tree, no rounding inside),
#: then added sequentially with one rounding per chunk:
#: ``acc = round(acc + (p_k + ... + p_{k+chunk-1}))`` with the whole sum exact and
#: rounded once (never rounded to float64 first).
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


#: ``a + b`` in float64 rounded to odd (kept under this name for the host's kernels).
_odd_sum = odd_sum
_INT64_MIN, _INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


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
            return self._prepare_int(p)
        if self.fast32:
            p32 = p.astype(np.float32)
            if not np.array_equal(p32, p, equal_nan=True):
                raise FormatError(
                    "float32 accumulation needs products exact in float32; pass mul=<format> to round them first"
                )
            return p32
        return p.astype(np.float64, copy=False)

    def _prepare_int(self, p: np.ndarray) -> np.ndarray:
        if p.dtype.kind == "f":
            if not (np.isfinite(p).all() and (p == np.rint(p)).all()):
                raise FormatError("an integer accumulator needs integer products")
            beyond = p.size and float(np.abs(p).max()) >= 2.0**63
        else:
            beyond = p.dtype == np.uint64 and p.size and int(p.max()) > _INT64_MAX
        if not beyond:
            return p.astype(np.int64, copy=False)
        if self.acc.overflow == "saturate":
            raise FormatError(
                f"products beyond int64 (max |p| = {np.abs(p).max()}) cannot be summed exactly by the "
                f"saturating accumulator {self.acc.name}; allowed: |p| < 2**63"
            )
        return IntFormat("int64", 64).fit(p)  # congruent mod 2**64, which a wrapping sum only needs

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if isinstance(self.acc, IntFormat):
            return self.acc.fit(_int_add(x, y, self.acc.overflow == "saturate"))
        if self.fast32:
            with np.errstate(over="ignore", invalid="ignore"):  # IEEE: Inf and NaN are results
                return x + y
        if self.acc == "exact":
            return x + y  # callers guarantee exactness or use math.fsum
        return self.round(odd_sum(x, y))

    def round(self, x: np.ndarray) -> np.ndarray:
        """Float64 values rounded to odd (exact values stand for themselves) rounded once into the acc."""
        if self.fast32:
            with np.errstate(over="ignore"):
                return np.asarray(x).astype(np.float32)
        return self.acc.quantise(x, dtype=np.float64, rng=self.rng)


def _int_add(x: np.ndarray, y: np.ndarray, saturate: bool) -> np.ndarray:
    """int64 ``x + y``: wraps mod 2**64, or with ``saturate`` an overflow goes to the int64 end."""
    with np.errstate(over="ignore"):  # wrapping is the int64 arithmetic asked for
        s = np.add(x, y, dtype=np.int64)
    if saturate:
        over = ((x ^ s) & (y ^ s)) < 0  # both operands' sign differs from the wrapped sum's
        if np.any(over):
            s = np.where(over, np.where(np.asarray(x) < 0, _INT64_MIN, _INT64_MAX), s)
    return s


def _float_sum_is_exact(p: np.ndarray, axis: int) -> bool:
    """True if every partial sum along ``axis`` is exact in float64 (any order)."""
    nz = p[np.isfinite(p) & (p != 0)]
    if nz.size == 0:
        return True
    m, e = np.frexp(nz)
    mi = np.ldexp(m, 53).astype(np.int64)
    tz = np.log2((mi & -mi).astype(np.float64)).astype(np.int64)
    quantum = int((e - 53 + tz).min())
    with np.errstate(over="ignore"):  # an infinite bound is simply not exact
        bound = float(np.abs(np.where(np.isfinite(p), p, 0)).sum(axis=axis).max())
    return bound < math.ldexp(1.0, min(52 + quantum, 1023))  # one bit of margin for the rounded bound


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
        return float(special_sum(row))
    try:
        return math.fsum(row.tolist())
    except OverflowError:  # a partial sum left float64: sum exactly, then round once (to Inf if beyond)
        total = sum(map(Fraction, row.tolist()), Fraction(0))
        try:
            return float(total)
        except OverflowError:
            return math.inf if total > 0 else -math.inf


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
            acc = _add_chunk(adder, acc, p[k : k + chunk])
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


def _add_chunk(adder: Adder, acc: np.ndarray, part: np.ndarray) -> np.ndarray:
    """``acc + sum(part)`` with the chunk summed exactly and the total rounded once."""
    if part.dtype.kind != "i":
        # The exact sum of acc and the chunk, rounded to odd, then once into the accumulator.
        return adder.round(sum_odd(np.concatenate([acc[None].astype(np.float64), part.astype(np.float64)])))
    if adder.acc.overflow == "wrap" or float(np.abs(part.astype(np.float64)).sum(axis=0).max()) < 2.0**62:
        return adder.add(acc, part.sum(axis=0))  # the int64 chunk sum is exact (or congruent, for wrap)
    exact = part.astype(object).sum(axis=0) + acc.astype(object)  # Python ints: a saturating acc needs the value
    return adder.acc.fit(exact)


def _pairwise_from_zero(adder: Adder, p: np.ndarray) -> np.ndarray:
    # A single product is still rounded into the accumulator (0 + p).
    return adder.add(adder.zeros(p.shape[1:]), _tree(adder, p)) if p.shape[0] == 1 else _tree(adder, p)


def accumulate(products, acc, order: str = "sequential", chunk=None, axis: int = -1, rng=None) -> np.ndarray:
    """Sum ``products`` along ``axis`` in the accumulator ``acc``, in an explicit order.

    Parameters
    ----------
    products : array_like
        Exact products (floats, or integers for an integer accumulator), any
        number of dimensions; 1-D input gives a 0-d result.
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
        integer accumulator, products beyond int64 into a saturating one, or
        products not exact in float32 for float32.

    Notes
    -----
    Float accumulators: every addition (two terms, or the accumulator plus a
    whole chunk) rounds the exact sum once, even where that sum has no float64
    value (it is formed exactly, rounded to odd in float64 and then into
    ``acc``, which is one correct rounding). Overflow follows ``acc``'s policy
    (a directed mode rounding toward zero stops at ``max_finite``). NaN
    propagates and ``Inf - Inf`` is NaN; an exact zero sum is -0 only when
    every term is -0. Integer accumulators: ``"wrap"`` reduces modulo
    ``2**bits`` (int64 arithmetic is congruent); ``"saturate"`` clamps the
    exact value after every addition, int64 overflow included.
    """
    check_acc(acc, order, chunk)
    p = np.asarray(products)
    if p.dtype.kind not in "biuf":
        raise FormatError(f"products must be numeric; got dtype {p.dtype}")
    p = np.moveaxis(p, check_axis(axis, p.ndim), 0)
    adder = Adder(acc, rng)
    return reduce_axis0(adder, adder.prepare(p), order, chunk)
