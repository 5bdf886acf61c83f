"""Arithmetic of the PIM unit's float MAC lanes: exact products, a fixed adder tree, one register add."""

from __future__ import annotations

import numpy as np

from .float_format import FloatFormat
from .fp_mac_model import _round_add, canonical_codes, exact_products

__all__ = ["float_mac", "lane_tree"]


def lane_tree(products: np.ndarray, acc_fmt: FloatFormat) -> np.ndarray:
    """Sum exact lane products along the last axis with the MAC lanes' fixed adder tree.

    Level by level, adjacent nodes ``(0, 1), (2, 3), ...`` are added with one RNE rounding
    into ``acc_fmt`` each (the leaves are the exact products, so a leaf pair is a single
    rounding of ``p0 + p1``); an odd last node is carried up to the next level unchanged.
    One lane is the exact product itself. Golden model of the tree in
    ``hwgen.pe.pim_bank.PimFloatDot``.

    Parameters
    ----------
    products : numpy.ndarray of float64, shape (..., lanes)
        Exact values (NaN / ±Inf allowed).
    acc_fmt : FloatFormat

    Returns
    -------
    numpy.ndarray of float64, shape (...)
        Values of ``acc_fmt`` (or the exact product when ``lanes == 1``); NaN not canonicalised.
    """
    nodes = [products[..., i] for i in range(products.shape[-1])]
    while len(nodes) > 1:
        pairs = [_round_add(acc_fmt, nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        nodes = pairs + nodes[len(pairs) * 2 :]
    return nodes[0]


def float_mac(acc_codes, w_codes, x_codes, in_fmt: FloatFormat, acc_fmt: FloatFormat) -> np.ndarray:
    """One float MAC column command: ``acc = RNE_acc(acc + lane_tree(w * x))``; codes in and out.

    Products ``w[l] * x[l]`` are exact (a bfloat16 x bfloat16 product has at most 16
    significant bits; it is *not* rounded to float32 on its own, so products below the
    float32 range still add up in the tree), summed by :func:`lane_tree`, then added to
    the register with one more RNE rounding. ``x + (-x)`` is +0, ``(-0) + (-0)`` is -0,
    overflow gives ±Inf, ``Inf * 0`` and ``Inf - Inf`` give NaN, and every NaN result is
    the canonical ``acc_fmt.nan_code`` (a NaN bias code is kept until the next MAC).

    Parameters
    ----------
    acc_codes : array_like of int, shape (banks,)
        Register codes of ``acc_fmt``.
    w_codes : array_like of int, shape (banks, lanes)
    x_codes : array_like of int, shape (lanes,)
        Codes of ``in_fmt`` (weights of each bank, global-buffer burst).
    in_fmt, acc_fmt : FloatFormat

    Returns
    -------
    numpy.ndarray of int64, shape (banks,)
        New register codes.
    """
    w = np.atleast_2d(np.asarray(w_codes, dtype=np.int64))
    x = np.broadcast_to(np.asarray(x_codes, dtype=np.int64), w.shape)
    p = exact_products(w, x, in_fmt)
    acc = acc_fmt.decode(np.asarray(acc_codes, dtype=np.int64).reshape(-1), np.float64)
    return canonical_codes(acc_fmt, _round_add(acc_fmt, acc, lane_tree(p, acc_fmt))).astype(np.int64)
