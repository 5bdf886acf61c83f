"""Golden model of a multiplier-adder tree dot unit: exact products, explicit pairwise tree, wrapping accumulator."""

from __future__ import annotations

import numpy as np

from .int_format import IntFormat

__all__ = ["addertree_dot", "tree_depth", "tree_levels", "tree_sum"]


def tree_depth(lanes: int) -> int:
    """Adder levels of a binary tree over ``lanes`` inputs: ``ceil(log2(lanes))`` (0 for one lane)."""
    return max(0, (lanes - 1).bit_length())


def tree_levels(lanes: int) -> list[list[tuple[int, ...]]]:
    """The tree's pairing, level by level: level ``l`` maps node ``i`` of level ``l+1`` to its inputs.

    Inputs ``2i`` and ``2i+1`` of a level are added; an odd last input passes through
    unchanged (a register, no adder), as the RTL does.
    """
    levels, n = [], lanes
    while n > 1:
        levels.append([(2 * i, 2 * i + 1) if 2 * i + 1 < n else (2 * i,) for i in range((n + 1) // 2)])
        n = (n + 1) // 2
    return levels


def tree_sum(values) -> np.ndarray:
    """Sum the last axis of ``values`` exactly in the tree order of ``tree_levels``."""
    nodes = [np.asarray(values, dtype=np.int64)[..., i] for i in range(np.shape(values)[-1])]
    for level in tree_levels(len(nodes)):
        nodes = [nodes[p[0]] + nodes[p[1]] if len(p) == 2 else nodes[p[0]] for p in level]
    return nodes[0]


def addertree_dot(a, w, lanes: int, dtype: IntFormat, acc: IntFormat) -> np.ndarray:
    """Golden model of ``AdderTreeDot`` followed by an accumulator, for groups of dot products.

    Row ``g`` of ``a`` and ``w`` (shape ``(G, K)``) is cut into beats of ``lanes``
    elements (the last one zero-padded). Each beat's products are exact
    (``2*width`` bits), summed exactly by the pairwise tree (one bit wider per level,
    so the tree never overflows), and the beat sums are added into the wrapping
    accumulator ``acc`` in beat order.

    Parameters
    ----------
    a, w : array_like of int, shape (G, K)
        Values of ``dtype``.
    lanes : int
        Multipliers of the unit.
    dtype, acc : IntFormat

    Returns
    -------
    numpy.ndarray of int64, shape (G,)

    Raises
    ------
    ValueError
        If shapes differ, ``lanes < 1``, a value is outside ``dtype`` or ``acc`` does not wrap.
    """
    a, w = np.atleast_2d(np.asarray(a, dtype=np.int64)), np.atleast_2d(np.asarray(w, dtype=np.int64))
    if a.shape != w.shape or a.ndim != 2:
        raise ValueError(f"a and w must have the same (groups, K) shape; got {a.shape} and {w.shape}")
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise ValueError(f"lanes={lanes!r} is not allowed; allowed: an integer >= 1")
    if acc.overflow != "wrap":
        raise ValueError(f"acc.overflow={acc.overflow!r} is not allowed; allowed: 'wrap'")
    for name, v in (("a", a), ("w", w)):
        if v.size and (v.min() < dtype.min_value or v.max() > dtype.max_value):
            raise ValueError(f"{name} has values outside {dtype.name}; allowed: {dtype.min_value}..{dtype.max_value}")
    pad = -a.shape[1] % lanes
    prods = np.pad(a * w, ((0, 0), (0, pad))).reshape(a.shape[0], -1, lanes)
    total = np.zeros(a.shape[0], dtype=np.int64)
    for beat in range(prods.shape[1]):
        total = acc.fit(total + tree_sum(prods[:, beat]))
    return total
