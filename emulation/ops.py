"""Golden arithmetic of the compute units, with the accumulator modelled explicitly."""

from __future__ import annotations

import numpy as np

from hwgen.emulation.int_format import IntFormat

__all__ = ["matmul_int"]


def matmul_int(a, b, acc: IntFormat) -> np.ndarray:
    """Integer matrix product as an integer MAC array computes it.

    Products are exact; the sum over K is reduced into ``acc`` by its overflow
    policy. With ``overflow="wrap"`` the result does not depend on the order of
    accumulation (addition modulo 2^bits is associative), which is why any dataflow
    and any K-tiling of a wrapping accumulator match this model bit for bit.

    Parameters
    ----------
    a : array_like of int, shape (M, K)
    b : array_like of int, shape (K, N)
    acc : IntFormat
        Accumulator format; must wrap (a saturating sum depends on the order).

    Returns
    -------
    numpy.ndarray of int64, shape (M, N)

    Raises
    ------
    ValueError
        If the shapes do not chain, or ``acc`` saturates, or ``K * max|a*b|``
        could overflow the exact int64 sum.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul_int shapes {a.shape} and {b.shape} do not chain as (M, K) x (K, N)")
    if acc.overflow != "wrap":
        raise ValueError(f"matmul_int acc.overflow={acc.overflow!r} is not allowed; allowed: 'wrap'")
    bound = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * a.shape[1]
    if bound >= 2**63:
        raise ValueError(f"matmul_int K={a.shape[1]} with these magnitudes could overflow the exact int64 sum")
    # int64 matmul is exact here (bound checked), so wrapping once at the end is exact too.
    return acc.fit(a @ b)
