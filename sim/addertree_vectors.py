"""Bench phases for the adder-tree array from its golden model (Amaranth and cocotb benches)."""

from __future__ import annotations

import numpy as np

from hwgen.dataflow.addertree_array import beat_layout, out_layout
from hwgen.emulation.units.addertree_plan import TreePlan
from hwgen.sim.beats import Phase, pack_fields

__all__ = ["exhaustive_phase", "random_gemm", "tree_phase"]


def tree_phase(plan: TreePlan, a: np.ndarray, b: np.ndarray, name: str = "") -> Phase:
    """A phase streaming every tile of ``a @ b`` and expecting the golden accumulators."""
    pa, pb = plan.padded(a, b)
    cfg, lanes = plan.cfg, plan.cfg.lanes
    layout = beat_layout(cfg)
    beats = []
    for i, n0 in plan.tiles:
        for k in range(plan.beats):
            ks = slice(k * lanes, (k + 1) * lanes)
            w = [pb[ks, n0 + r].tolist() for r in range(cfg.rows)]
            beats.append(pack_fields(layout, {"x": pa[i, ks].tolist(), "w": w, "last": k == plan.beats - 1}))
    out = out_layout(cfg)
    expected = [pack_fields(out, {"data": t.tolist()}) for t in plan.tile_outputs(a, b)]
    return Phase({"i_in": beats}, "o_out", expected, {}, name)


def exhaustive_phase(plan_cfg, bits: int = 8) -> Phase:
    """Every ``(a, w)`` pair of ``bits``-bit ints, one single-beat tile each, in every lane of every unit.

    Each beat puts the same pair in all lanes, so every multiplier sees every pair and
    unit ``r`` must return ``lanes * a * w`` (a wrong lane never cancels: it is alone in
    being wrong for some pair).
    """
    values = np.arange(-(1 << (bits - 1)), 1 << (bits - 1))
    a, w = (x.reshape(-1) for x in np.meshgrid(values, values, indexing="ij"))
    cfg = plan_cfg
    layout, out = beat_layout(cfg), out_layout(cfg)
    beats = [
        pack_fields(layout, {"x": [x] * cfg.lanes, "w": [[y] * cfg.lanes] * cfg.rows, "last": 1})
        for x, y in zip(a.tolist(), w.tolist(), strict=True)
    ]
    expected = [
        pack_fields(out, {"data": [cfg.lanes * x * y] * cfg.rows}) for x, y in zip(a.tolist(), w.tolist(), strict=True)
    ]
    return Phase({"i_in": beats}, "o_out", expected, {}, f"exhaustive {bits}-bit pairs")


def random_gemm(rng: np.random.Generator, fmt, m: int, k: int, n: int):
    """Random operands over ``fmt``'s range with min/max corners forced in."""
    a = rng.integers(fmt.min_value, fmt.max_value + 1, size=(m, k))
    b = rng.integers(fmt.min_value, fmt.max_value + 1, size=(k, n))
    a.flat[0], b.flat[0] = fmt.min_value, fmt.min_value
    a.flat[-1], b.flat[-1] = fmt.max_value, fmt.min_value
    return a, b
