"""Run a cocotb test module against a Verilog file on Verilator or Icarus, with a JSON job and report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hwgen.sim.toolchain import SIMULATORS, ensure_verilator, find_simulator

__all__ = ["CocotbRun", "SimulationError", "run_cocotb", "JOB_ENV", "load_job"]

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


def load_job() -> dict:
    """Inside a cocotb test: the job dict the runner passed (``report`` holds the report path)."""
    import os

    return json.loads(Path(os.environ[JOB_ENV]).read_text())


def run_cocotb(verilog: Path, top: str, test_module: str, job: dict, simulator: str, work_dir: Path) -> CocotbRun:
    """Build ``verilog`` with ``simulator`` and run the cocotb ``test_module`` on it.

    The job dict is written to JSON and its path passed in ``HWGEN_SIM_JOB``; the bench
    reads it with ``load_job()`` and writes its findings as JSON to ``job["report"]``
    (set here).

    Parameters
    ----------
    verilog : Path
        The design (Amaranth's Verilog has no ``timescale``; the runner supplies 1 ns / 1 ps).
    top : str
        Top module name.
    test_module : str
        Importable module with ``@cocotb.test()`` functions.
    job : dict
        JSON-serialisable parameters for the bench.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    work_dir : Path
        Build and run folder (``<work_dir>/sim_<simulator>``).

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing or the build fails.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator {simulator!r} is not known; allowed: {', '.join(SIMULATORS)}")
    if find_simulator(simulator) is None:
        raise SimulationError(f"simulator {simulator!r} is not installed; run `hwgen doctor` for the fix")
    ensure_verilator()
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    sim_dir = Path(work_dir).resolve() / f"sim_{simulator}"
    sim_dir.mkdir(parents=True, exist_ok=True)
    report_path = sim_dir / "report.json"
    report_path.unlink(missing_ok=True)
    job_path = sim_dir / "job.json"
    job_path.write_text(json.dumps({**job, "report": str(report_path)}))
    log = sim_dir / "sim.log"
    start = time.perf_counter()
    runner = get_runner(simulator)
    try:
        runner.build(
            sources=[Path(verilog)],
            hdl_toplevel=top,
            build_dir=sim_dir / "build",
            timescale=("1ns", "1ps"),
            always=True,
            log_file=sim_dir / "build.log",
            build_args=_build_args(simulator),
        )
    except RuntimeError as exc:
        raise SimulationError(f"{simulator} could not build {top} ({exc}); see {sim_dir / 'build.log'}") from None
    results_xml = runner.test(
        test_module=test_module,
        hdl_toplevel=top,
        build_dir=sim_dir / "build",
        test_dir=sim_dir,
        extra_env={JOB_ENV: str(job_path)},
        log_file=log,
        results_xml=str(sim_dir / "results.xml"),
    )
    wall = time.perf_counter() - start
    tests, fails = get_results(Path(results_xml))
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return CocotbRun(simulator, tests > 0 and fails == 0 and report is not None, report, wall, log)


def _build_args(simulator: str) -> list[str]:
    if simulator != "verilator":
        return []
    # Style warnings are lint's business (`hwgen build` lints); a simulation build must not stop on them.
    return ["-Wno-fatal", "-j", "2"]
