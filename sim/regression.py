"""Build any registered unit and run its cocotb regression on a simulator; collect pass/fail, cycles, utilisation.

One runner for every unit: the unit's :class:`~hwgen.emulation.units.Bench` (attached by
``hwgen.sim.units``) says which cocotb module runs, what job it reads and how its report
splits into cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units import unit_of
from hwgen.sim.cocotb_runner import CocotbRun, CocotbSession, SimulationError, flow_job, locked
from hwgen.sim.units import DEFAULT_GEMMS

__all__ = ["DEFAULT_GEMMS", "RegressionReport", "run_bench", "run_regression"]


@dataclass(frozen=True)
class RegressionReport:
    """What one regression run measured.

    Attributes
    ----------
    simulator : str
    config : object
        The unit's config.
    cases : list of dict
        One row per case (see ``hwgen.sim.units``): ``name``, ``passed``, ``cycles``,
        ``expected_cycles``, ``checks``, ``ideal_cycles``, ``mismatches`` and the bench's own fields.
    passed : bool
        Every cocotb test and every case passed.
    wall_seconds : float
        Build plus simulation.
    log : Path
    build_seconds : float
    arch : str
        The unit's name.
    """

    simulator: str
    config: object
    cases: list[dict]
    passed: bool
    wall_seconds: float
    log: Path
    build_seconds: float = 0.0
    arch: str = "systolic"

    @property
    def gemms(self) -> list[dict]:
        """The cases (a systolic case also has ``m``, ``k``, ``n`` and ``utilisation``)."""
        return self.cases

    @property
    def sim_seconds(self) -> float:
        """Simulator run time alone (Verilog generation and compilation excluded)."""
        return self.wall_seconds - self.build_seconds

    @property
    def cycles(self) -> int:
        return sum(c["cycles"] for c in self.cases)

    @property
    def checks(self) -> int:
        """Exact cycle checks made (0 under back-pressure)."""
        return sum(c["checks"] for c in self.cases)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the GEMM cases."""
        return sum(c["m"] * c["k"] * c["n"] for c in self.cases if "m" in c)

    @property
    def utilisation(self) -> float:
        """Ideal over measured cycles, over all cases."""
        return sum(c["ideal_cycles"] for c in self.cases) / self.cycles if self.cycles else 0.0


def run_bench(cfg, work_dir: str | Path, simulator: str, module: str, job: dict) -> tuple[CocotbRun, float]:
    """Build ``cfg``'s Verilog under ``<work_dir>/rtl.lock`` and run cocotb ``module`` on ``job`` once.

    Returns the run and the seconds spent compiling.

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing or cannot build the design.
    """
    work = Path(work_dir).resolve()
    with locked(work / "rtl.lock"):
        build = build_unit(cfg, work / "rtl")
        session = CocotbSession([build.verilog], build.manifest_data["top"], simulator, work).build()
    return session.run(module, job), session.build_seconds


def run_regression(
    cfg,
    work_dir: str | Path,
    simulator: str = "verilator",
    gemms=None,
    seed: int = 1,
    valid_prob: float = 1.0,
    ready_prob: float = 1.0,
) -> RegressionReport:
    """Generate the Verilog of ``cfg`` (any registered unit's config) and run its bench in cocotb.

    The bench drives random vectors from ``seed`` and checks every output bit-exactly
    against the unit's golden model. At ``valid_prob == ready_prob == 1`` each case's
    cycles must equal the unit's cycle model exactly; below 1 the sources idle and the
    sink stalls at random, and only the results are checked. Regressions may share
    ``work_dir``, at the same time too: the Verilog in ``<work_dir>/rtl`` is written and
    compiled under a lock, and each run has its own job, report and log (see `CocotbSession`).

    Parameters
    ----------
    gemms : sequence of (m, k, n), optional
        GEMM shapes, for units whose bench takes them (None: the unit's default cases).

    Raises
    ------
    ConfigError
        If ``cfg`` is no registered unit's config.
    ValueError
        If the simulator is unknown, the seed is not from 0 to ``MAX_SEED``, a
        probability is outside (0, 1], or a GEMM shape is not allowed (or given to a
        unit whose bench takes none).
    SimulationError
        If the simulator is not installed, cannot build the design, or the bench stops
        before reporting every case (a run that ran nothing never reads as a result).
    """
    unit = unit_of(cfg)
    bench = unit.regression_bench()
    flow = flow_job(seed, valid_prob, ready_prob)
    if gemms is not None and not bench.gemms:
        raise ValueError(f"gemms={list(gemms)} is not allowed for {unit.name}; allowed: None (its bench takes none)")
    job = bench.job(cfg, flow["seed"], valid_prob, ready_prob, None if gemms is None else [tuple(g) for g in gemms])
    run, build_seconds = run_bench(cfg, work_dir, simulator, bench.module, job)
    cases = bench.cases(cfg, job, run.report) if run.report is not None else None
    if not cases:
        raise SimulationError(
            f"the {unit.name} bench stopped before reporting every case "
            f"(it crashed, timed out or a case hung); see {run.log}"
        )
    passed = run.passed and all(c["passed"] for c in cases)
    return RegressionReport(
        simulator, cfg, cases, passed, run.wall_seconds + build_seconds, run.log, build_seconds, unit.name
    )
