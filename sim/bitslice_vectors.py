"""Bench phases for the bit-slice PE from its golden model, shared by the Amaranth and cocotb benches."""

from __future__ import annotations

import numpy as np

from hwgen.emulation import IntFormat
from hwgen.emulation.bitslice import SliceCoding, bitslice_dot
from hwgen.emulation.units.bitslice_plan import FusionPlan
from hwgen.pe.bitslice import pair_layout, result_layout
from hwgen.sim.beats import Phase, pack_fields

__all__ = ["array_phase", "exhaustive_pairs", "pe_phase", "pe_stream_cycles", "random_gemm", "random_groups"]


def pe_phase(coding: SliceCoding, acc: IntFormat, a, w, a_bits: int, w_bits: int, name: str = "") -> Phase:
    """A phase sending groups ``a[g], w[g]`` (shape ``(G, K)``) and expecting the golden results.

    Each expected beat carries ``acc``, the exact data-dependent ``cycles`` and ``error = 0``.
    """
    a, w = np.atleast_2d(a), np.atleast_2d(w)
    gold = bitslice_dot(a, w, a_bits, w_bits, coding, acc)
    pairs = pair_layout(coding)
    k = a.shape[1]
    beats = [
        pack_fields(pairs, {"a": av, "w": wv, "last": int(j == k - 1)})
        for ar, wr in zip(a.tolist(), w.tolist(), strict=True)
        for j, (av, wv) in enumerate(zip(ar, wr, strict=True))
    ]
    out = result_layout(acc)
    expected = [
        pack_fields(out, {"acc": x, "cycles": c}) for x, c in zip(gold.acc.tolist(), gold.cycles.tolist(), strict=True)
    ]
    return Phase({"i_pair": beats}, "o_acc", expected, {"a_bits": a_bits, "w_bits": w_bits}, name)


def pe_stream_cycles(coding: SliceCoding, a, a_bits: int) -> int:
    """Cycles from the first accepted pair to the last result, both included, at full rate.

    ``sum over pairs of max(1, nonzero digits) + 2``: the first pair is accepted in
    cycle 0 and worked on from cycle 1; groups follow back to back; the last result
    is on ``o_acc`` the cycle after the last digit.
    """
    return int(np.maximum(1, coding.nonzero(np.asarray(a), a_bits)).sum()) + 2


def exhaustive_pairs(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(a, w)`` pair of ``bits``-bit integers as one-pair groups, shape ``(4**bits, 1)`` each."""
    values = np.arange(-(1 << (bits - 1)), 1 << (bits - 1), dtype=np.int64)
    a, w = np.meshgrid(values, values, indexing="ij")
    return a.reshape(-1, 1), w.reshape(-1, 1)


def random_groups(rng: np.random.Generator, groups: int, k: int, a_bits: int, w_bits: int):
    """Random groups over the full ranges, with the corner pairs (min*min, min*max, max*max) forced in."""
    lo_a, hi_a = -(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1
    lo_w, hi_w = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    a = rng.integers(lo_a, hi_a + 1, size=(groups, k))
    w = rng.integers(lo_w, hi_w + 1, size=(groups, k))
    corners = [(lo_a, lo_w), (lo_a, hi_w), (hi_a, hi_w), (hi_a, lo_w), (0, lo_w)]
    for i, (x, y) in enumerate(corners[: a.size]):
        a.flat[i], w.flat[i] = x, y
    return a, w


def array_phase(plan: FusionPlan, a: np.ndarray, b: np.ndarray, name: str = "") -> Phase:
    """A phase streaming every tile of ``a @ b`` through ``BitSliceArray`` and expecting the golden tiles."""
    from hwgen.dataflow.bitslice_array import beat_layout, out_layout

    pa, pb = plan.padded(a, b)
    r, c, lanes = plan.cfg.rows, plan.cfg.cols, plan.lanes
    beats = []
    for m0, n0 in plan.tiles:
        for k in range(plan.beats):
            ks = slice(k * lanes, (k + 1) * lanes)
            a_words = [plan.word(pa[m0 + i, ks], plan.a_bits) for i in range(r)]
            w_words = [plan.word(pb[ks, n0 + j], plan.w_bits) for j in range(c)]
            beats.append(pack_fields(beat_layout(plan.cfg), {"a": a_words, "w": w_words, "last": k == plan.beats - 1}))
    out = out_layout(plan.cfg)
    expected = [pack_fields(out, {"data": tile.reshape(-1).tolist()}) for tile in plan.tile_outputs(a, b)]
    return Phase({"i_in": beats}, "o_out", expected, {"a_bits": plan.a_bits, "w_bits": plan.w_bits}, name)


def random_gemm(rng: np.random.Generator, m: int, k: int, n: int, a_bits: int, w_bits: int):
    """Random ``a`` (m x k) and ``b`` (k x n) over the full ranges, min/max corners forced in."""
    lo_a, hi_a = -(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1
    lo_w, hi_w = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    a = rng.integers(lo_a, hi_a + 1, size=(m, k))
    b = rng.integers(lo_w, hi_w + 1, size=(k, n))
    a.flat[0], b.flat[0] = lo_a, lo_w
    a.flat[-1], b.flat[-1] = hi_a, lo_w
    if a.size > 2 and b.size > 2:
        a.flat[1], b.flat[1] = lo_a, hi_w
    return a, b
