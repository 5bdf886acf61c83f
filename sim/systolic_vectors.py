"""Stream beats of a planned GEMM for any systolic dataflow, and the bit-exact check of its outputs.

Shared by every lowering step's bench (Amaranth simulator, Verilog in cocotb) so they
drive the same bits and judge them the same way.
"""

from __future__ import annotations

import numpy as np

from hwgen.sim.packing import pack_lanes, unpack_lanes

__all__ = ["check_outputs", "input_beats", "random_operands"]


def random_operands(cfg, m: int, k: int, n: int, rng: np.random.Generator):
    """Random operands over the whole range of the array's format, corners forced in."""
    fmt = cfg.dtype_format
    a = rng.integers(fmt.min_value, fmt.max_value + 1, size=(m, k))
    b = rng.integers(fmt.min_value, fmt.max_value + 1, size=(k, n))
    a.flat[0], b.flat[0] = fmt.min_value, fmt.min_value
    a.flat[-1], b.flat[-1] = fmt.max_value, fmt.min_value
    return a, b


def _pack(lanes: np.ndarray, last: bool | None, fmt) -> int:
    value = pack_lanes(fmt.encode(lanes), fmt.width)
    return value | (int(last) << (len(lanes) * fmt.width)) if last is not None else value


def input_beats(plan, a, b) -> dict[str, list[int]]:
    """Payload integers for each input port of the planned GEMM, in order."""
    fmt = plan.cfg.dtype_format
    return {port: [_pack(lanes, last, fmt) for lanes, last in beats] for port, beats in plan.input_beats(a, b).items()}


def check_outputs(plan, a, b, beats: list[int]) -> list[str]:
    """Compare ``o_out`` payloads with the emulator's codes beat by beat; also the ``last`` flags.

    Returns
    -------
    list of str
        Up to 20 descriptions of mismatches; empty when every bit agrees.
    """
    acc = plan.cfg.acc_format
    want = plan.output_beats(a, b)
    problems = [] if len(beats) == len(want) else [f"got {len(beats)} output beats, want {len(want)}"]
    for i, ((lanes, last), beat) in enumerate(zip(want, beats, strict=False)):
        got = unpack_lanes(beat, acc.width, len(lanes))
        exp = acc.encode(lanes).astype(np.uint64)
        if not np.array_equal(got, exp):
            problems.append(f"beat {i}: got codes {got.tolist()}, want {exp.tolist()}")
        got_last = (beat >> (len(lanes) * acc.width)) & 1
        if got_last != last:
            problems.append(f"beat {i}: last flag {got_last}, want {int(last)}")
    return problems[:20]
