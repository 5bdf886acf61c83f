"""cocotb bench for the combinational float adder: batched vectors compared code for code."""

from __future__ import annotations

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import Timer

from hwgen.emulation import get_format
from hwgen.emulation.fp_mac_model import fp_add
from hwgen.sim.cocotb_runner import load_job

__all__ = ["adder_vectors", "special_codes"]


def special_codes(fmt) -> np.ndarray:
    """±0, ±min/max subnormal, ±min normal, ±1, ±max finite, ±Inf, ±NaN (quiet and signalling) of ``fmt``."""
    one = int(fmt.encode([1.0])[0])
    pos = [
        0,
        1,
        (1 << fmt.man_bits) - 1,
        1 << fmt.man_bits,
        one,
        fmt.max_code,
        fmt.inf_code,
        fmt.nan_code,
        fmt.inf_code + 1,
        fmt.max_code - 1,
        one + 1,
    ]
    return np.array(sorted(set(pos) | {c | fmt.sign_mask for c in pos}), np.int64)


def adder_vectors(fmt, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of special codes, then ``count`` random pairs (half of them close in magnitude: cancellation)."""
    sp = special_codes(fmt)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << fmt.width, count, dtype=np.int64)
    b = rng.integers(0, 1 << fmt.width, count, dtype=np.int64)
    near = rng.random(count) < 0.5
    delta = rng.integers(-(3 << fmt.man_bits), 3 << fmt.man_bits, count)
    b[near] = np.clip(
        (a[near] ^ (rng.integers(0, 2, int(near.sum())) * fmt.sign_mask)) + delta[near], 0, (1 << fmt.width) - 1
    )
    return np.concatenate([np.repeat(sp, sp.size), a]), np.concatenate([np.tile(sp, sp.size), b])


@cocotb.test()
async def fp_add_regression(dut):
    """Apply the job's vectors; write the mismatches to the report."""
    job = load_job()
    fmt = get_format(job["fmt"])
    a, b = adder_vectors(fmt, job["count"], job["seed"])
    want = fp_add(a, b, fmt)
    got = np.empty_like(want)
    for i in range(a.size):
        dut.a.value = int(a[i])
        dut.b.value = int(b[i])
        await Timer(1, unit="ns")
        got[i] = int(dut.result.value)
    bad = np.flatnonzero(got != want)
    report = {
        "vectors": int(a.size),
        "mismatches": [f"{a[i]:#x} + {b[i]:#x}: got {got[i]:#x}, expected {want[i]:#x}" for i in bad[:20]],
    }
    Path(job["report"]).write_text(json.dumps(report, indent=1))
    assert bad.size == 0, report["mismatches"][:3]
