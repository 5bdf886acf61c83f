"""Run chosen bench phases on a built design in cocotb (``hwgen.sim.stream_bench``) and collect the report.

``hwgen.sim.regression.run_regression`` runs the bit-slice and adder-tree units on this
bench with random GEMMs; this runs hand-made phases (exhaustive pairs, precisions) on a build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwgen.rtl.component_build import BuildResult
from hwgen.sim.beats import Phase
from hwgen.sim.cocotb_runner import CocotbSession, flow_job, locked

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
    job = {"phases": [p.to_dict() for p in phases], **flow_job(seed, valid_prob, ready_prob)}
    work = Path(work_dir).resolve()
    with locked(work / "rtl.lock"):
        session = CocotbSession([build.verilog], build.manifest_data["top"], simulator, work).build()
    run = session.run("hwgen.sim.stream_bench", job)  # a failed bench still reports (see CocotbSession.run)
    reports = run.report or []
    passed = run.passed and len(reports) == len(phases) and all(not r["mismatches"] for r in reports)
    return StreamRegression(simulator, passed, reports, run.wall_seconds + session.build_seconds, run.log)
