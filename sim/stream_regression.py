"""Run bench phases on a built design in cocotb (``hwgen.sim.stream_bench``) and collect the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hwgen.rtl.component_build import BuildResult
from hwgen.sim.beats import Phase
from hwgen.sim.cocotb_runner import CocotbSession, flow_job

__all__ = ["StreamRegression", "run_stream_regression"]


@dataclass(frozen=True)
class StreamRegression:
    """What one cocotb run measured.

    Attributes
    ----------
    simulator : str
    passed : bool
        Every phase produced exactly its expected beats (cycle checks are the caller's).
    phases : list of dict
        Per phase: ``name``, ``outputs``, ``first_in``, ``out_cycles``, ``mismatches``.
    wall_seconds : float
    log : Path
    """

    simulator: str
    passed: bool
    phases: list
    wall_seconds: float
    log: Path

    def cycles(self, index: int) -> int:
        """Cycles of phase ``index`` from its first accepted input to its last output, both included."""
        phase = self.phases[index]
        return phase["out_cycles"][-1] - phase["first_in"] + 1


def run_stream_regression(
    build: BuildResult,
    phases: list[Phase],
    work_dir: str | Path,
    simulator: str = "verilator",
    seed: int = 1,
    valid_prob: float = 1.0,
    ready_prob: float = 1.0,
) -> StreamRegression:
    """Simulate ``build``'s Verilog with the generic stream bench on ``phases``.

    Raises
    ------
    ValueError
        If the simulator is unknown or a probability is outside (0, 1].
    SimulationError
        If the simulator is not installed or cannot build the design.
    """
    flow = flow_job(seed, valid_prob, ready_prob)
    job = {
        "phases": [p.to_dict() for p in phases],
        **flow,
    }
    start = time.perf_counter()
    session = CocotbSession([build.verilog], build.manifest_data["top"], simulator, Path(work_dir))
    try:
        run = session.build().run("hwgen.sim.stream_bench", job)
    except SystemExit:
        # Under pytest, cocotb's runner exits when a cocotb test fails; the bench has
        # already written its report (in this session's own run folder), so return that as a failed run.
        report = session.run_dir / "report.json"
        phases_seen = json.loads(report.read_text()) if report.exists() else []
        return StreamRegression(simulator, False, phases_seen, time.perf_counter() - start, session.run_dir / "sim.log")
    reports = run.report or []
    passed = run.passed and len(reports) == len(phases) and all(not r["mismatches"] for r in reports)
    return StreamRegression(simulator, passed, reports, run.wall_seconds + session.build_seconds, run.log)
