"""Run a cocotb test module against a Verilog file on Verilator or Icarus, with a JSON job and report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hwgen.sim.toolchain import SIMULATORS, ensure_verilator, find_simulator

__all__ = ["JOB_ENV", "CocotbRun", "CocotbSession", "SimulationError", "flow_job", "load_job", "run_cocotb"]

#: Environment variable naming the JSON job file the simulator process reads.
JOB_ENV = "HWGEN_SIM_JOB"


class SimulationError(RuntimeError):
    """The simulator could not build or run the design; the message names the log."""


@dataclass(frozen=True)
class CocotbRun:
    """Outcome of one cocotb run.

    Attributes
    ----------
    passed : bool
        Every cocotb test passed and the bench wrote its report.
    report : object
        What the bench wrote to ``job["report"]`` (JSON), or None.
    wall_seconds : float
        Build plus simulation time.
    log : Path
        The simulation log.
    """

    simulator: str
    passed: bool
    report: object
    wall_seconds: float
    log: Path


def flow_job(seed: int, valid_prob: float, ready_prob: float) -> dict:
    """The job entries every stream bench reads: seed and flow-control probabilities, checked.

    Raises
    ------
    ValueError
        If a probability is outside (0, 1].
    """
    for name, p in (("valid_prob", valid_prob), ("ready_prob", ready_prob)):
        if not 0 < p <= 1:
            raise ValueError(f"{name}={p} is not allowed; allowed: 0 < p <= 1")
    return {"seed": seed, "valid_prob": valid_prob, "ready_prob": ready_prob}


def load_job() -> dict:
    """Inside a cocotb test: the job dict the runner passed (``report`` holds the report path)."""
    import os

    return json.loads(Path(os.environ[JOB_ENV]).read_text())


class CocotbSession:
    """A design built once for one simulator, then run by any number of cocotb jobs.

    Parameters
    ----------
    sources : list of Path
        Verilog files (Amaranth's Verilog has no ``timescale``; the session supplies 1 ns / 1 ps).
    top : str
        Top module name.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    work_dir : Path
        Build and run folder (``<work_dir>/sim_<simulator>``); jobs run there, so
        files a testbench reads by relative path go there too (``run_dir``).

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing.
    """

    def __init__(self, sources, top: str, simulator: str, work_dir):
        if simulator not in SIMULATORS:
            raise ValueError(f"simulator {simulator!r} is not known; allowed: {', '.join(SIMULATORS)}")
        if find_simulator(simulator) is None:
            raise SimulationError(f"simulator {simulator!r} is not installed; run `hwgen doctor` for the fix")
        ensure_verilator()
        from cocotb_tools.runner import get_runner

        self.sources = [Path(src) for src in sources]
        self.top = top
        self.simulator = simulator
        self.run_dir = Path(work_dir).resolve() / f"sim_{simulator}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._runner = get_runner(simulator)
        self.build_seconds = 0.0

    def build(self) -> CocotbSession:
        """Compile the sources; raise SimulationError naming the log if that fails."""
        start = time.perf_counter()
        try:
            self._runner.build(
                sources=self.sources,
                hdl_toplevel=self.top,
                build_dir=self.run_dir / "build",
                timescale=("1ns", "1ps"),
                always=True,
                log_file=self.run_dir / "build.log",
                build_args=_build_args(self.simulator),
            )
        except RuntimeError as exc:
            log = self.run_dir / "build.log"
            raise SimulationError(f"{self.simulator} could not build {self.top} ({exc}); see {log}") from None
        self.build_seconds = time.perf_counter() - start
        return self

    def run(self, test_module: str, job: dict) -> CocotbRun:
        """Run ``test_module`` with ``job`` (its JSON path in ``HWGEN_SIM_JOB``; ``job["report"]`` is set here).

        The bench reads the job with ``load_job()`` and writes its findings as JSON to
        ``job["report"]``; ``CocotbRun.report`` holds them.
        """
        from cocotb_tools.check_results import get_results

        report_path = self.run_dir / "report.json"
        report_path.unlink(missing_ok=True)
        job_path = self.run_dir / "job.json"
        job_path.write_text(json.dumps({**job, "report": str(report_path)}))
        log = self.run_dir / "sim.log"
        start = time.perf_counter()
        results_xml = self.run_dir / "results.xml"
        results_xml.unlink(missing_ok=True)
        try:
            self._runner.test(
                test_module=test_module,
                hdl_toplevel=self.top,
                build_dir=self.run_dir / "build",
                test_dir=self.run_dir,
                extra_env={JOB_ENV: str(job_path)},
                log_file=log,
                results_xml=str(results_xml),
            )
        except (RuntimeError, SystemExit):
            # cocotb's runner exits the process when a test fails under pytest, or when the
            # simulator returns an error; the results file, if written, tells which tests failed.
            if not results_xml.exists():
                raise SimulationError(f"{self.simulator} stopped while running {self.top}; see {log}") from None
        wall = time.perf_counter() - start
        tests, fails = get_results(results_xml)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return CocotbRun(self.simulator, tests > 0 and fails == 0 and report is not None, report, wall, log)


def run_cocotb(verilog: Path, top: str, test_module: str, job: dict, simulator: str, work_dir: Path) -> CocotbRun:
    """Build ``verilog`` with ``simulator`` and run the cocotb ``test_module`` on it once.

    Shorthand for ``CocotbSession([verilog], top, simulator, work_dir).build().run(test_module, job)``;
    the returned ``wall_seconds`` covers build and run.

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing, or the build or the run fails.
    """
    session = CocotbSession([verilog], top, simulator, work_dir).build()
    run = session.run(test_module, job)
    return CocotbRun(run.simulator, run.passed, run.report, run.wall_seconds + session.build_seconds, run.log)


def _build_args(simulator: str) -> list[str]:
    if simulator != "verilator":
        return []
    # Style warnings are lint's business (`hwgen build` lints); a simulation build must not stop on them.
    return ["-Wno-fatal", "-j", "2"]
