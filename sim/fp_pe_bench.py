"""cocotb bench for the floating-point dot-product PEs (FpMacPE, LMulPE): bit-exact and cycle checks."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cocotb
import numpy as np

from hwgen.emulation import LMul, get_format
from hwgen.emulation.fp_mac_model import fp_dot
from hwgen.emulation.units.fp_pe_config import LATENCY
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job
from hwgen.sim.streams import StreamDriver, StreamMonitor

__all__ = ["FpPEBench", "SuiteResult", "corner_codes", "suite_operands"]


def corner_codes(fmt) -> np.ndarray:
    """±0, ±min/max subnormal, ±min normal, ±1, ±max finite, NaN and ±Inf codes of ``fmt``."""
    pos = {0, 1, (1 << fmt.man_bits) - 1, 1 << fmt.man_bits, fmt.max_code, int(fmt.encode([1.0])[0])}
    pos |= {c for c in (fmt.nan_code, fmt.inf_code) if c is not None}
    return np.array(sorted(pos | {c | fmt.sign_mask for c in pos}), np.int64)


def suite_operands(suite: dict, fmt, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dot products of a suite as (a, b) code vectors.

    ``{"kind": "exhaustive"}``: every operand pair as a length-1 dot product.
    ``{"kind": "random", "count": n, "max_k": k, "corner_prob": p}``: ``n`` dot
    products of random length 1..k, each operand a corner code with probability p.
    ``{"kind": "dots", "a": [[code, ...], ...], "b": [[code, ...], ...]}``: the given dot
    products (``a[i]`` with ``b[i]``; a mapped GEMM's rows and columns).
    """
    if suite["kind"] == "dots":
        return [(np.asarray(a, np.int64), np.asarray(b, np.int64)) for a, b in zip(suite["a"], suite["b"], strict=True)]
    if suite["kind"] == "exhaustive":
        codes = np.arange(1 << fmt.width, dtype=np.int64)
        a, b = np.repeat(codes, codes.size), np.tile(codes, codes.size)
        return [(a[i : i + 1], b[i : i + 1]) for i in range(a.size)]
    corners = corner_codes(fmt)
    dots = []
    for _ in range(suite["count"]):
        k = int(rng.integers(1, suite["max_k"] + 1))
        pair = []
        for _ in range(2):
            v = rng.integers(0, 1 << fmt.width, k)
            corner = rng.random(k) < suite["corner_prob"]
            v[corner] = rng.choice(corners, int(corner.sum()))
            pair.append(v)
        dots.append((pair[0], pair[1]))
    return dots


def _expected(dots, in_fmt, acc_fmt, mul) -> list[int]:
    """Golden codes, computed per dot-product length (vectorised)."""
    out = [0] * len(dots)
    by_len: dict[int, list[int]] = {}
    for i, (a, _) in enumerate(dots):
        by_len.setdefault(len(a), []).append(i)
    for idx in by_len.values():
        a = np.stack([dots[i][0] for i in idx])
        b = np.stack([dots[i][1] for i in idx])
        for i, code in zip(idx, fp_dot(a, b, in_fmt, acc_fmt, mul).tolist(), strict=True):
            out[i] = int(code)
    return out


@dataclass
class SuiteResult:
    """Outcome of one suite."""

    name: str
    dots: int
    macs: int
    cycles: int
    passed: bool
    latency_checked: bool
    mismatches: list[str] = field(default_factory=list)
    #: The output codes the PE produced, in order.
    outputs: list[int] = field(default_factory=list)
    #: Cycles from the first accepted input beat to the last result, both included.
    span: int = 0


class FpPEBench(ClockedBench):
    """Drives ``i_in``, monitors ``o_acc``, checks codes against ``fp_dot`` and the latency.

    Parameters
    ----------
    dut : cocotb handle of the generated PE
    job : dict
        ``in_fmt``, ``acc_fmt`` (names), ``kind`` (``"fp_mac"`` or ``"lmul"``),
        ``policies`` (LMul policies), ``seed``.
    """

    def __init__(self, dut, job: dict):
        super().__init__(dut)
        self.in_fmt = get_format(job["in_fmt"])
        self.acc_fmt = get_format(job["acc_fmt"])
        self.mul = LMul(self.in_fmt, **job.get("policies", {})) if job["kind"] == "lmul" else "exact"
        self.rng = np.random.default_rng(job["seed"])
        self.flow = random.Random(job["seed"])

    async def reset(self) -> None:
        # The suites create their driver and monitor later; keep both ports idle through reset.
        self.dut.i_in__valid.value = 0
        self.dut.o_acc__ready.value = 0
        await super().reset()

    def _beats(self, dots) -> list[int]:
        w = self.in_fmt.width
        beats = []
        for a, b in dots:
            k = len(a)
            for j in range(k):
                beats.append(int(a[j]) | int(b[j]) << w | (j == 0) << (2 * w) | (j == k - 1) << (2 * w + 1))
        return beats

    async def run_suite(self, name: str, dots, valid_prob: float, ready_prob: float) -> SuiteResult:
        """Stream ``dots`` back to back; compare every output code and, at ready 1.0, its cycle."""
        expected = _expected(dots, self.in_fmt, self.acc_fmt, self.mul)
        driver = StreamDriver(self.dut, "i_in", valid_prob, self.flow)
        monitor = StreamMonitor(self.dut, "o_acc", ready_prob, self.flow)
        beats = self._beats(dots)
        last_beats = np.cumsum([len(a) for a, _ in dots]) - 1
        driver.send(beats)
        start, limit = self.cycle, self.cycle + 20 * len(beats) / (valid_prob * ready_prob) + 100
        while len(monitor.beats) < len(dots):
            if self.cycle > limit:
                raise TimeoutError(f"suite {name}: {len(monitor.beats)} of {len(dots)} results after {limit} cycles")
            await self.step((driver, monitor))
        self.dut.i_in__valid.value = 0
        mismatches = [
            f"dot {i} a={[hex(x) for x in dots[i][0]]} b={[hex(x) for x in dots[i][1]]}: "
            f"got {got:#x}, expected {want:#x}"
            for i, (got, want) in enumerate(zip(monitor.beats, expected, strict=True))
            if got != want
        ][:20]
        timed = ready_prob == 1.0
        if timed:
            taken = np.array(driver.taken_cycles)
            late = np.array(monitor.cycles) - taken[last_beats]
            mismatches += [
                f"dot {i}: result {d} cycles after its last beat" for i, d in enumerate(late) if d != LATENCY
            ][:20]
            if valid_prob == 1.0 and not np.all(np.diff(taken) == 1):
                mismatches.append("input stalled at full rate")
        span = monitor.cycles[-1] - driver.taken_cycles[0] + 1
        cycles = self.cycle - start
        return SuiteResult(name, len(dots), len(beats), cycles, not mismatches, timed, mismatches, monitor.beats, span)


@cocotb.test()
async def fp_pe_regression(dut):
    """Run the suites of the job file and write a JSON report beside it."""
    job = load_job()
    bench = FpPEBench(dut, job)
    await bench.reset()
    results = []
    for suite in job["suites"]:
        dots = suite_operands(suite, bench.in_fmt, bench.rng)
        results.append(await bench.run_suite(suite["name"], dots, suite["valid_prob"], suite["ready_prob"]))
    Path(job["report"]).write_text(json.dumps([asdict(r) for r in results], indent=1))
    failed = [r for r in results if not r.passed]
    assert not failed, f"{len(failed)} suite(s) failed: {failed[0]}"
