"""cocotb bench for the systolic array: random GEMMs, bit-exact check, cycle check."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cocotb
import numpy as np

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm, utilisation
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job
from hwgen.sim.streams import StreamDriver, StreamMonitor
from hwgen.sim.systolic_vectors import check_outputs, input_beats, random_operands

__all__ = ["JOB_ENV", "GemmResult", "SystolicBench"]

#: Environment variable naming the JSON job file the simulator process reads.
JOB_ENV = "HWGEN_SIM_JOB"


@dataclass
class GemmResult:
    """Outcome of one GEMM through the RTL."""

    m: int
    k: int
    n: int
    passed: bool
    cycles: int
    expected_cycles: int | None
    utilisation: float
    mismatches: list[str] = field(default_factory=list)


class SystolicBench(ClockedBench):
    """Drives ``i_weight``/``i_act``, monitors ``o_out``, checks against the emulator.

    Parameters
    ----------
    dut : cocotb handle of the generated top
    cfg : ArrayConfig
    valid_prob, ready_prob : float
        Source idleness and sink back-pressure (1.0 each: full throughput, where the
        cycle count must equal the array's cycle formula).
    seed : int
    """

    def __init__(self, dut, cfg: ArrayConfig, valid_prob: float, ready_prob: float, seed: int):
        super().__init__(dut)
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        flow = random.Random(seed)
        self.sources = {port: StreamDriver(dut, port, valid_prob, flow) for port in ("i_weight", "i_act")}
        self.outs = StreamMonitor(dut, "o_out", ready_prob, flow)
        self.full_rate = valid_prob == 1.0 and ready_prob == 1.0

    async def run_gemm(self, a: np.ndarray, b: np.ndarray) -> GemmResult:
        """Send every tile of ``a @ b``, collect the outputs, compare bit for bit."""
        plan = plan_gemm(self.cfg, a.shape[0], a.shape[1], b.shape[1])
        for port, beats in input_beats(plan, a, b).items():
            self.sources[port].send(beats)
        expected_beats = len(plan.output_beats(a, b))
        first_out = len(self.outs.beats)
        first_in = {port: len(src.taken_cycles) for port, src in self.sources.items()}
        limit = self.cycle + 50 * gemm_cycles(plan) + 1000
        while len(self.outs.beats) - first_out < expected_beats:
            if self.cycle > limit:
                raise TimeoutError(f"GEMM {plan.m}x{plan.k}x{plan.n}: no output after {limit} cycles")
            await self._step()
        start = min(src.taken_cycles[first_in[port]] for port, src in self.sources.items())
        cycles = self.outs.cycles[-1] - start + 1
        mismatches = check_outputs(plan, a, b, self.outs.beats[first_out:])
        return GemmResult(
            plan.m,
            plan.k,
            plan.n,
            passed=not mismatches and (not self.full_rate or cycles == gemm_cycles(plan)),
            cycles=cycles,
            expected_cycles=gemm_cycles(plan) if self.full_rate else None,
            utilisation=utilisation(plan, cycles),
            mismatches=mismatches,
        )

    async def _step(self) -> None:
        await self.step([*self.sources.values(), self.outs])


@cocotb.test()
async def systolic_regression(dut):
    """Run the GEMMs of the job file and write a JSON report beside it."""
    job = load_job()
    cfg = ArrayConfig.from_dict(job["config"])
    bench = SystolicBench(dut, cfg, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    results = []
    # A job may carry the operands of its GEMMs (a mapped layer's); otherwise they are random.
    given = job.get("operands") or [None] * len(job["gemms"])
    for (m, k, n), operands in zip(job["gemms"], given, strict=True):
        if operands is None:
            a, b = random_operands(cfg, m, k, n, bench.rng)
        else:
            a, b = np.asarray(operands["a"], np.int64), np.asarray(operands["b"], np.int64)
        results.append(await bench.run_gemm(a, b))
    Path(job["report"]).write_text(json.dumps([asdict(r) for r in results], indent=1))
    failed = [r for r in results if not r.passed]
    assert not failed, f"{len(failed)} GEMM(s) failed: {failed[0]}"
