"""The plans' fast cycle counts equal their tile-by-tile definitions exactly."""

import itertools

import numpy as np
import pytest

from hwgen.emulation.units.addertree_plan import AdderTreeConfig, plan_tree_gemm
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import latency, plan_gemm, stationary_cycles


def _loop_cycles(rows: int, streamed: int, tiles: int, depth: int) -> int:
    """The recurrence of ``StationaryPlan.cycles``, one tile at a time."""
    loads, ends = [], []
    for t in range(tiles):
        load = t * rows if t < 2 else max(loads[t - 1] + rows, ends[t - 2] + depth)
        start = max(ends[t - 1] + 1 if t else 0, load + rows)
        loads.append(load)
        ends.append(start + streamed - 1)
    return ends[-1] + depth + 1


def test_fast_stationary_cycles_equal_the_tile_by_tile_recurrence():
    rng = np.random.default_rng(0)
    for _ in range(400):
        rows, cols, m, k, n = (int(v) for v in rng.integers(1, 40, 5))
        for flow in ("ws", "is"):
            plan = plan_gemm(ArrayConfig(rows, cols, flow), m, k, n)
            assert plan.tile_count == len(plan.tiles)
            want = _loop_cycles(rows, plan.streamed, len(plan.tiles), latency(plan.cfg))
            assert plan.cycles() == want, (rows, cols, m, k, n, flow)


def test_fast_stationary_cycles_over_long_tile_runs():
    """Many tiles, so the periodic jump is taken (and lands) in every phase of the period."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        rows, streamed, depth = (int(v) for v in rng.integers(1, 24, 3))
        tiles = int(rng.integers(1, 300))
        assert stationary_cycles(rows, streamed, tiles, depth) == _loop_cycles(rows, streamed, tiles, depth)


@pytest.mark.parametrize(("shape", "flow"), [((4, 10**12, 4), "ws"), ((4, 4, 10**12), "is"), ((10**6,) * 3, "os")])
def test_cycles_of_huge_gemms_are_immediate(shape, flow):
    assert plan_gemm(ArrayConfig(16, 16, flow), *shape).cycles() > max(shape)


def test_tile_counts_match_the_tile_lists():
    for m, k, n in itertools.product((1, 3, 17), (1, 5, 33), (1, 4, 40)):
        assert (p := plan_gemm(ArrayConfig(3, 5, "os"), m, k, n)).tile_count == len(p.tiles)
        assert (p := plan_fusion_gemm(BitSliceConfig(4, 3), m, k, n, 8, 4)).tile_count == len(p.tiles)
        assert (p := plan_tree_gemm(AdderTreeConfig(rows=4, lanes=4), m, k, n)).tile_count == len(p.tiles)
