"""cocotb bench for the sparse DSP chain: random N:M GEMVs in every mode, bit-exact and cycle checks."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cocotb
import numpy as np

from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.emulation.units.sparse_dsp_plan import gemv_cycles, latency, stream_cycles
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import CocotbRun, flow_job, load_job
from hwgen.sim.sparse_chain_vectors import GIVEN, GemvCase, check_outputs, make_case, out_codes
from hwgen.sim.streams import StreamDriver, StreamMonitor

__all__ = ["CaseResult", "SparseChainBench", "job_cases", "run_sparse_chain_regression"]


@dataclass
class CaseResult:
    """Outcome of one GEMV through the RTL (cycles: its first accepted beat to its last output).

    ``outputs`` counts the ``o_out`` beats the RTL sent for the case; each carries
    ``results_per_output`` row results per token (the mode's segments), checked
    against ``matmul_int``.
    """

    mode: list[int]
    kind: str
    rows: int
    cols: int
    beats: int
    cycles: int
    outputs: int
    results_per_output: int
    expected_cycles: int | None
    passed: bool
    mismatches: list[str] = field(default_factory=list)


class SparseChainBench(ClockedBench):
    """Drives ``i_weight``/``i_act``, monitors ``o_out``, checks against the golden model.

    GEMVs are queued back to back, so consecutive cases switch the run-time mode
    mid-stream. At ``valid_prob == ready_prob == 1`` every case must take
    ``gemv_cycles`` and the whole stream ``beats + D``.

    Parameters
    ----------
    dut : cocotb handle of the generated top
    cfg : SparseChainConfig
    valid_prob, ready_prob : float
    seed : int
    """

    def __init__(self, dut, cfg: SparseChainConfig, valid_prob: float, ready_prob: float, seed: int):
        super().__init__(dut)
        self.cfg = cfg
        flow = random.Random(seed)
        self.weights = StreamDriver(dut, "i_weight", valid_prob, flow)
        self.acts = StreamDriver(dut, "i_act", valid_prob, flow)
        self.outs = StreamMonitor(dut, "o_out", ready_prob, flow)
        self.full_rate = valid_prob == 1.0 and ready_prob == 1.0

    async def run(self, cases: list[GemvCase]) -> tuple[list[CaseResult], int]:
        """Stream every case, collect all outputs; return per-case results and the whole stream's cycles."""
        for case in cases:
            w, a = case.payloads(self.cfg)
            self.weights.send(w)
            self.acts.send(a)
        want = sum(len(c.expected) for c in cases)
        total_beats = sum(len(c.weight_beats) for c in cases)
        limit = 50 * stream_cycles(self.cfg, total_beats) + 1000
        while len(self.outs.beats) < want:
            if self.cycle > limit:
                raise TimeoutError(f"{len(self.outs.beats)} of {want} outputs after {limit} cycles")
            await self._step()
        for _ in range(latency(self.cfg) + 2):  # any surplus output would show up within the pipeline depth
            await self._step()
        results, beat0, out0 = [], 0, 0
        for case in cases:
            beats, outs = len(case.weight_beats), len(case.expected)
            results.append(self._result(case, beat0, out0))
            beat0, out0 = beat0 + beats, out0 + outs
        return results, self.outs.cycles[-1] - self.weights.taken_cycles[0] + 1

    def _result(self, case: GemvCase, beat0: int, out0: int) -> CaseResult:
        beats, outs = len(case.weight_beats), len(case.expected)
        cycles = self.outs.cycles[out0 + outs - 1] - self.weights.taken_cycles[beat0] + 1
        rows, cols = case.weights.shape
        want = gemv_cycles(self.cfg, rows, cols, case.mode) if self.full_rate else None
        got = self.outs.beats[out0 : out0 + outs]
        mismatches = check_outputs(self.cfg, case, got)
        return CaseResult(
            list(self.cfg.modes[case.mode]),
            case.kind,
            rows,
            cols,
            beats,
            cycles,
            len(got),
            self.cfg.segments(case.mode),
            want,
            passed=not mismatches and (want is None or cycles == want),
            mismatches=mismatches,
        )

    async def _step(self) -> None:
        await self.step((self.weights, self.acts, self.outs))


def job_cases(cfg: SparseChainConfig, job: dict) -> list[GemvCase]:
    """The job's GEMVs: seeded random ones, and ``"given"`` ones of ``job["weights"]`` and the case's ``x``.

    A mapped layer runs one given case per activation row (pair of rows when packed), all
    sharing the layer's pruned weights, so the job carries the weights once.
    """
    rng = np.random.default_rng(job["seed"])
    cases = []
    for c in job["cases"]:
        operands = (job["weights"], c["x"]) if c["kind"] == GIVEN else None
        cases.append(make_case(cfg, c["mode"], c["rows"], c["cols"], rng, c["kind"], operands))
    return cases


@cocotb.test()
async def sparse_chain_regression(dut):
    """Run the GEMVs of the job file (every listed mode and operand kind) and write a JSON report.

    With ``job["keep_outputs"]`` the report also lists every ``o_out`` beat the RTL sent
    as ``(tokens, lanes)`` int32 codes (``"outputs"``), for the host to read its result from.
    """
    job = load_job()
    cfg = SparseChainConfig.from_dict(job["config"])
    cases = job_cases(cfg, job)
    bench = SparseChainBench(dut, cfg, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    results, total = await bench.run(cases)
    beats = sum(r.beats for r in results)
    report = {
        "cases": [asdict(r) for r in results],
        "total_beats": beats,
        "total_outputs": len(bench.outs.beats),
        "expected_total_outputs": sum(len(c.expected) for c in cases),
        "total_cycles": total,
        "expected_total_cycles": stream_cycles(cfg, beats) if bench.full_rate else None,
    }
    if job.get("keep_outputs"):
        report["outputs"] = [out_codes(cfg, payload).tolist() for payload in bench.outs.beats]
    Path(job["report"]).write_text(json.dumps(report, indent=1))
    failed = [r for r in results if not r.passed]
    assert report["total_outputs"] == report["expected_total_outputs"], "surplus outputs"
    assert not failed, f"{len(failed)} case(s) failed: {failed[0]}"


def run_sparse_chain_regression(
    cfg: SparseChainConfig,
    work_dir: str | Path,
    cases: list[dict],
    simulator: str = "verilator",
    seed: int = 1,
    valid_prob: float = 1.0,
    ready_prob: float = 1.0,
) -> CocotbRun:
    """Build the chain's Verilog and run chosen ``cases`` (dicts of mode code, rows, cols, kind) through it.

    ``hwgen.sim.regression.run_regression`` runs the same bench on every mode and operand kind.

    Raises
    ------
    ValueError
        If a probability is outside (0, 1] or the simulator is unknown.
    SimulationError
        If the simulator is missing or cannot build the design.
    """
    from hwgen.sim.regression import run_bench  # the bench module is loaded by cocotb too: no build imports there

    job = {"config": cfg.to_dict(), "cases": cases, **flow_job(seed, valid_prob, ready_prob)}
    run, build_seconds = run_bench(cfg, work_dir, simulator, "hwgen.sim.sparse_chain_bench", job)
    return CocotbRun(run.simulator, run.passed, run.report, run.wall_seconds + build_seconds, run.log)
