"""Build a design and run its cocotb regression on a simulator; collect pass/fail and cycles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.sim.cocotb_runner import CocotbRun, CocotbSession, SimulationError, flow_job, locked

__all__ = ["DEFAULT_GEMMS", "RegressionReport", "run_regression"]

#: GEMMs of the default regression: square, ragged edges in every dimension, decode-shaped M = 1.
DEFAULT_GEMMS = ((16, 16, 16), (13, 21, 11), (1, 24, 20), (9, 5, 3))


@dataclass(frozen=True)
class RegressionReport:
    """What one regression run measured."""

    simulator: str
    config: ArrayConfig
    gemms: list[dict]
    passed: bool
    wall_seconds: float
    log: Path
    build_seconds: float = 0.0

    @property
    def sim_seconds(self) -> float:
        """Simulator run time alone (Verilog generation and compilation excluded)."""
        return self.wall_seconds - self.build_seconds

    @property
    def cycles(self) -> int:
        return sum(g["cycles"] for g in self.gemms)

    @property
    def macs(self) -> int:
        return sum(g["m"] * g["k"] * g["n"] for g in self.gemms)

    @property
    def utilisation(self) -> float:
        return self.macs / (self.config.rows * self.config.cols * self.cycles) if self.cycles else 0.0


def run_regression(
    cfg: ArrayConfig,
    work_dir: str | Path,
    simulator: str = "verilator",
    gemms=DEFAULT_GEMMS,
    seed: int = 1,
    valid_prob: float = 1.0,
    ready_prob: float = 1.0,
) -> RegressionReport:
    """Generate the Verilog of ``cfg`` and run random GEMMs through it in cocotb.

    At ``valid_prob == ready_prob == 1`` each GEMM's cycle count must equal the
    array's cycle formula; below 1 the sources idle and the sink stalls at random,
    and only the results are checked. Regressions may share ``work_dir``, at the same
    time too: the Verilog in ``<work_dir>/rtl`` is written and compiled under a lock,
    and each run has its own job, report and log (see `CocotbSession`).

    Raises
    ------
    ValueError
        If the simulator is unknown, the seed is not from 0 to ``MAX_SEED``, a
        probability is outside (0, 1], or a GEMM shape is not allowed.
    SimulationError
        If the simulator is not installed, cannot build the design, or the bench stops
        before reporting every GEMM (a run that ran nothing never reads as a result).
    """
    flow = flow_job(seed, valid_prob, ready_prob)
    shapes = [tuple(g) for g in gemms]
    for shape in shapes:
        plan_gemm(cfg, *shape)
    work = Path(work_dir).resolve()
    with locked(work / "rtl.lock"):
        build = build_unit(cfg, work / "rtl")
        session = CocotbSession([build.verilog], build.manifest_data["top"], simulator, work).build()
    job = {"config": cfg.to_dict(), "gemms": [list(g) for g in shapes], **flow}
    run = session.run("hwgen.sim.systolic_bench", job)
    results = _gemm_results(run, len(shapes))
    passed = run.passed and all(g["passed"] for g in results)
    total = run.wall_seconds + session.build_seconds
    return RegressionReport(simulator, cfg, results, passed, total, run.log, session.build_seconds)


def _gemm_results(run: CocotbRun, expected: int) -> list[dict]:
    """The bench's per-GEMM results; SimulationError if it stopped before reporting all of them."""
    reported = run.report if isinstance(run.report, list) else []
    if run.report is None or len(reported) != expected:
        what = "no GEMM" if not reported else f"{len(reported)} of {expected} GEMMs"
        raise SimulationError(
            f"the bench stopped having reported {what} (it crashed, timed out or a GEMM hung); see {run.log}"
        )
    return reported
