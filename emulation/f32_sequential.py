"""float32 GEMM with one round-to-nearest-even addition per product, in K order.

The hardware model: ``acc = fl32(acc + a[i, k] * b[k, n])`` for k = 0..K-1 from
``acc = +0``, where every product is exact in float32 (e.g. FP8 x FP8). A fused
and an unfused multiply-add then round identically, so any NumPy loop that adds
the products into a float32 accumulator one k after the other computes it.

``numpy.einsum("ik,kn->in")`` (``optimize=False``, no BLAS) is such a loop: its
iterator keeps ``n`` innermost (the axis along which ``b`` and the output are
contiguous), ``k`` outside it, and it sums into float32. That order is NumPy's
choice, not its contract, so :func:`einsum_is_sequential` checks it once per
process against an explicit loop and the caller falls back to a row-by-row
axis-0 reduction (also checked by the tests) if it ever changes. Both hold only
while the output rows are at least 8 wide (with N = 1 einsum becomes a dot
product with several partial sums); narrower results loop over K explicitly.
"""

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache

import numpy as np

from .accumulate import MIN_SEQUENTIAL_WIDTH

__all__ = ["DEFAULT_THREADS", "einsum_is_sequential", "kernel_is_sequential", "matmul_f32_sequential"]

#: Worker threads by default (NumPy's loops release the GIL).
DEFAULT_THREADS = min(4, os.cpu_count() or 1)
_MIN_WORK_PER_THREAD = 1 << 22  # multiply-adds; below this a thread costs more than it saves


def matmul_f32_sequential(a: np.ndarray, b: np.ndarray, threads: int = DEFAULT_THREADS) -> np.ndarray:
    """``a @ b`` in float32 with sequential-K round-to-nearest-even accumulation.

    Parameters
    ----------
    a : numpy.ndarray, float32, shape (M, K)
    b : numpy.ndarray, float32, shape (K, N)
        Every product ``a[i, k] * b[k, n]`` must be exact in float32; the caller
        checks that.
    threads : int, optional
        Upper bound on worker threads (NumPy releases the GIL in its loops).

    Returns
    -------
    numpy.ndarray, float32, shape (M, N)
    """
    m, k = a.shape
    n = b.shape[1]
    a = np.ascontiguousarray(a, np.float32)
    b = np.ascontiguousarray(b, np.float32)
    out = np.empty((m, n), np.float32)
    if n < MIN_SEQUENTIAL_WIDTH:  # e.g. N = 1, where einsum turns into a dot product
        kernel = _k_loop_rows
    else:
        kernel = _einsum_rows if einsum_is_sequential() else _reduce_rows
    workers = max(1, min(threads, m, m * k * n // _MIN_WORK_PER_THREAD))
    bounds = np.linspace(0, m, workers + 1).astype(int)
    if workers == 1:
        kernel(a, b, out, 0, m)
        return out
    jobs = [_pool(threads).submit(kernel, a, b, out, r0, r1) for r0, r1 in itertools.pairwise(bounds)]
    for job in jobs:
        job.result()
    return out


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    # One pool per process: starting threads costs about a millisecond per call.
    return ThreadPoolExecutor(threads, thread_name_prefix="hwgen-f32-gemm")


def _einsum_rows(a, b, out, r0: int, r1: int) -> None:
    with np.errstate(all="ignore"):  # IEEE: Inf and NaN are results; errstate is per thread
        np.einsum("ik,kn->in", a[r0:r1], b, out=out[r0:r1], optimize=False)


def _reduce_rows(a, b, out, r0: int, r1: int) -> None:
    at = a.T
    prod = np.empty(b.shape, np.float32)
    with np.errstate(all="ignore"):
        for i in range(r0, r1):
            # All K products of row i, then an axis-0 reduction, which NumPy performs as
            # out += prod[k] for k in order when the reduced axis is outermost.
            np.multiply(at[:, i, None], b, out=prod)
            np.add.reduce(prod, axis=0, out=out[i])


def _k_loop_rows(a, b, out, r0: int, r1: int) -> None:
    """One vectorised addition per k: the reference order, spelled out."""
    acc = out[r0:r1]
    acc[...] = 0.0
    with np.errstate(all="ignore"):
        for k in range(a.shape[1]):
            acc += a[r0:r1, k, None] * b[k]


@lru_cache(maxsize=1)
def einsum_is_sequential() -> bool:
    """Whether this NumPy's ``einsum("ik,kn->in")`` adds float32 products in K order."""
    return kernel_is_sequential(_einsum_rows)


def kernel_is_sequential(kernel) -> bool:
    """Whether ``kernel(a, b, out, r0, r1)`` computes sequential-K float32 rows.

    Probes with mixed-magnitude operands (products exact in float32), where any
    other order or a wider accumulator changes many results, at sizes that reach
    the unrolled and vectorised inner loops.
    """
    rng = np.random.default_rng(2024)
    for m, k, n in ((3, 67, 40), (1, 33, 9), (17, 256, 64)):
        a = _probe_values(rng, (m, k))
        b = _probe_values(rng, (k, n))
        got, want = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        kernel(a, b, got, 0, m)
        _k_loop_rows(a, b, want, 0, m)
        if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
            return False
    return True


def _probe_values(rng: np.random.Generator, shape) -> np.ndarray:
    # 4-bit significands over a 2**24 exponent range: products are exact in float32,
    # and partial sums of different magnitudes round differently in any other order.
    sig = rng.integers(-15, 16, shape)
    return np.ldexp(sig, rng.integers(-12, 12, shape)).astype(np.float32)
