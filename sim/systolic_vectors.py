"""Stream beats of a planned GEMM for any systolic dataflow, and the bit-exact check of its outputs.

Shared by every lowering step's bench (Amaranth simulator, Verilog in cocotb) so they
drive the same bits and judge them the same way.
"""

from __future__ import annotations

import numpy as np

from hwgen.sim.packing import pack_lanes, unpack_lanes

__all__ = ["check_outputs", "expected_codes", "float_corners", "input_beats", "random_operands"]


def random_operands(cfg, m: int, k: int, n: int, rng: np.random.Generator):
    """Random operands over the whole range of the array's format, corners forced in.

    Float dtypes: values of the format (float64 arrays), mostly near 1 so that the
    sums round, some from uniformly random codes (any exponent, NaN, Inf), and the
    :func:`float_corners` written over the end of ``a`` (all) and of ``b`` (finite ones).
    """
    fmt = cfg.dtype_format
    if cfg.is_float:
        return _random_float(fmt, (m, k), rng, specials=True), _random_float(fmt, (k, n), rng, specials=False)
    a = rng.integers(fmt.min_value, fmt.max_value + 1, size=(m, k))
    b = rng.integers(fmt.min_value, fmt.max_value + 1, size=(k, n))
    a.flat[0], b.flat[0] = fmt.min_value, fmt.min_value
    a.flat[-1], b.flat[-1] = fmt.max_value, fmt.min_value
    return a, b


def float_corners(fmt) -> list[float]:
    """NaN, ±Inf (if the format has them), ±max, ±min subnormal, ±0 of a float format."""
    infs = [np.inf, -np.inf] if fmt.inf_code is not None else []
    tiny, big = fmt.min_subnormal, fmt.max_finite
    return [np.nan, *infs, big, -big, tiny, -tiny, 0.0, -0.0]


def _random_float(fmt, shape: tuple[int, int], rng: np.random.Generator, specials: bool) -> np.ndarray:
    codes = rng.integers(0, 1 << fmt.width, size=shape[0] * shape[1])
    wild = fmt.decode(codes, np.float64)
    near = fmt.quantise(rng.normal(0.0, 2.0, size=wild.shape), dtype=np.float64)
    values = np.where(rng.random(wild.shape) < 0.8, near, wild)
    # NaN and Inf only at the end of a (its last rows), so they spoil few outputs.
    corners = [c for c in float_corners(fmt) if specials or np.isfinite(c)]
    size = min(len(corners), values.size // 2)
    if size:
        values[-size:] = corners[:size] if specials else corners[-size:]
    return values.reshape(shape)


def _pack(lanes: np.ndarray, last: bool | None, fmt) -> int:
    value = pack_lanes(fmt.encode(lanes), fmt.width)
    return value | (int(last) << (len(lanes) * fmt.width)) if last is not None else value


def input_beats(plan, a, b) -> dict[str, list[int]]:
    """Payload integers for each input port of the planned GEMM, in order."""
    fmt = plan.cfg.dtype_format
    return {port: [_pack(lanes, last, fmt) for lanes, last in beats] for port, beats in plan.input_beats(a, b).items()}


def expected_codes(acc, lanes) -> np.ndarray:
    """Codes of output lanes (values of ``acc``); a NaN is the canonical ``acc.nan_code``."""
    lanes = np.asarray(lanes)
    if not np.issubdtype(lanes.dtype, np.floating):
        return acc.encode(lanes).astype(np.uint64)
    nan = np.isnan(lanes)
    codes = acc.encode(np.where(nan, 0.0, lanes)).astype(np.uint64)
    codes[nan] = acc.nan_code
    return codes


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
        exp = expected_codes(acc, lanes)
        if not np.array_equal(got, exp):
            problems.append(f"beat {i}: got codes {got.tolist()}, want {exp.tolist()}")
        got_last = (beat >> (len(lanes) * acc.width)) & 1
        if got_last != last:
            problems.append(f"beat {i}: last flag {got_last}, want {int(last)}")
    return problems[:20]
