"""Stream beats of a tiled GEMM for the systolic array, and the bit-exact check of its outputs.

Shared by every lowering step's bench (Amaranth simulator, Verilog in cocotb) so they
drive the same bits and judge them the same way.
"""

from __future__ import annotations

import numpy as np

from hwgen.dataflow.systolic_model import GemmPlan
from hwgen.sim.packing import pack_lanes, unpack_lanes

__all__ = ["act_beats", "check_outputs", "random_operands", "weight_beats"]


def random_operands(cfg, m: int, k: int, n: int, rng: np.random.Generator):
    """Random operands over the whole range of the array's format, corners forced in."""
    fmt = cfg.dtype_format
    a = rng.integers(fmt.min_value, fmt.max_value + 1, size=(m, k))
    b = rng.integers(fmt.min_value, fmt.max_value + 1, size=(k, n))
    a.flat[0], b.flat[0] = fmt.min_value, fmt.min_value
    a.flat[-1], b.flat[-1] = fmt.max_value, fmt.min_value
    return a, b


def weight_beats(plan: GemmPlan, b: np.ndarray) -> list[int]:
    """``i_weight`` payloads: every tile's ``rows`` weight rows, in tile order."""
    fmt = plan.cfg.dtype_format
    return [pack_lanes(fmt.encode(row), fmt.width) for tile in plan.tiles for row in plan.weight_rows(b, tile)]


def act_beats(plan: GemmPlan, a: np.ndarray) -> list[int]:
    """``i_act`` payloads: every tile's ``m`` activation rows, ``last`` set on each tile's final row."""
    fmt = plan.cfg.dtype_format
    last_bit = 1 << (plan.cfg.rows * fmt.width)
    beats = []
    for tile in plan.tiles:
        for i, row in enumerate(plan.act_rows(a, tile)):
            beats.append(pack_lanes(fmt.encode(row), fmt.width) | (last_bit if i == plan.m - 1 else 0))
    return beats


def check_outputs(plan: GemmPlan, a: np.ndarray, b: np.ndarray, beats: list[int]) -> list[str]:
    """Compare ``o_out`` payloads with the emulator's codes tile by tile; also the ``last`` flags.

    Returns
    -------
    list of str
        Up to 20 descriptions of mismatches; empty when every bit agrees.
    """
    acc, cols = plan.cfg.acc_format, plan.cfg.cols
    last_bit = cols * acc.width
    want_beats = plan.m * len(plan.tiles)
    problems = [] if len(beats) == want_beats else [f"got {len(beats)} output rows, want {want_beats}"]
    for t, want in enumerate(plan.tile_outputs(a, b)):
        for i in range(plan.m):
            if t * plan.m + i >= len(beats):
                return problems
            beat = beats[t * plan.m + i]
            got = unpack_lanes(beat, acc.width, cols)
            exp = acc.encode(want[i]).astype(np.uint64)
            if not np.array_equal(got, exp):
                problems.append(f"tile {t} row {i}: got codes {got.tolist()}, want {exp.tolist()}")
            if (beat >> last_bit) & 1 != (i == plan.m - 1):
                problems.append(f"tile {t} row {i}: last flag {(beat >> last_bit) & 1}")
    return problems[:20]
