"""Golden adder-tree model: explicit pairing, exact tree sums, wrapping accumulation, cycle formula."""

import numpy as np
import pytest

from hwgen.emulation import IntFormat, int8, int32
from hwgen.emulation.addertree import addertree_dot, tree_depth, tree_levels, tree_sum
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, array_latency, plan_tree_gemm


def test_tree_levels_pair_neighbours_and_pass_the_odd_one_through():
    assert tree_levels(1) == []
    assert tree_levels(4) == [[(0, 1), (2, 3)], [(0, 1)]]
    assert tree_levels(5) == [[(0, 1), (2, 3), (4,)], [(0, 1), (2,)], [(0, 1)]]
    assert [tree_depth(n) for n in (1, 2, 3, 4, 5, 8, 9)] == [0, 1, 2, 2, 3, 3, 4]
    assert all(len(tree_levels(n)) == tree_depth(n) for n in range(1, 40))


def test_tree_sum_is_exact():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 16):
        v = rng.integers(-(2**20), 2**20, size=(10, n))
        assert tree_sum(v).tolist() == v.sum(axis=1).tolist()


@pytest.mark.parametrize("lanes", [1, 3, 4, 8])
def test_addertree_dot_is_exact(lanes):
    rng = np.random.default_rng(lanes)
    a, w = rng.integers(-128, 128, size=(12, 21)), rng.integers(-128, 128, size=(12, 21))
    assert addertree_dot(a, w, lanes, int8, int32).tolist() == (a * w).sum(axis=1).tolist()


def test_addertree_dot_wraps_per_beat():
    acc = IntFormat("int16", 16)
    a = np.full((1, 4), -128)
    # Each beat adds 2 * 16384 = 32768, which wraps int16 to -32768; two beats wrap back to 0.
    assert addertree_dot(a, a, 2, int8, acc).tolist() == [0]
    assert addertree_dot(a[:, :2], a[:, :2], 2, int8, acc).tolist() == [-32768]


def test_addertree_dot_rejects_bad_input():
    with pytest.raises(ValueError, match="outside int8"):
        addertree_dot([[200]], [[1]], 1, int8, int32)
    with pytest.raises(ValueError, match="lanes=0"):
        addertree_dot([[1]], [[1]], 0, int8, int32)


def test_plan_cycles_and_tiles():
    cfg = AdderTreeConfig(rows=3, lanes=5)
    plan = plan_tree_gemm(cfg, 2, 11, 7)
    assert plan.beats == 3 and len(plan.tiles) == 2 * 3
    assert array_latency(cfg) == 3 + 2
    assert plan.cycles == 6 * 3 + 5
    rng = np.random.default_rng(4)
    a, b = rng.integers(-128, 128, size=(2, 11)), rng.integers(-128, 128, size=(11, 7))
    out = np.zeros((2, 9), dtype=np.int64)
    for (i, n0), t in zip(plan.tiles, plan.tile_outputs(a, b), strict=True):
        out[i, n0 : n0 + 3] = t
    assert (out[:, :7] == a @ b).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"rows": 0}, "rows"), ({"lanes": 33}, "lanes"), ({"dtype": "fp8"}, "dtype"), ({"acc": "int64"}, "acc")],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        AdderTreeConfig(**kwargs)
    assert info.value.field == field and "allowed" in str(info.value)
    with pytest.raises(ConfigError, match="m=0"):
        plan_tree_gemm(AdderTreeConfig(), 0, 1, 1)
