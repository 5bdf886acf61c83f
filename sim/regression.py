"""Build a design and run its cocotb regression on a simulator; collect pass/fail and cycles."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hwgen.dataflow.build import build_design
from hwgen.dataflow.config import ArrayConfig
from hwgen.sim.systolic_bench import JOB_ENV
from hwgen.sim.toolchain import SIMULATORS, ensure_verilator, find_simulator

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
    and only the results are checked.

    Raises
    ------
    ValueError
        If the simulator is unknown or a probability is outside (0, 1].
    RuntimeError
        If the simulator is not installed.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator {simulator!r} is not known; allowed: {', '.join(SIMULATORS)}")
    for name, p in (("valid_prob", valid_prob), ("ready_prob", ready_prob)):
        if not 0 < p <= 1:
            raise ValueError(f"{name}={p} is not allowed; allowed: 0 < p <= 1")
    if find_simulator(simulator) is None:
        raise RuntimeError(f"simulator {simulator!r} is not installed; run `hwgen doctor` for the fix")
    ensure_verilator()
    from cocotb_tools.runner import get_runner

    work = Path(work_dir).resolve()
    build = build_design(cfg, work / "rtl")
    sim_dir = work / f"sim_{simulator}"
    sim_dir.mkdir(parents=True, exist_ok=True)
    report_path = sim_dir / "report.json"
    report_path.unlink(missing_ok=True)
    job = {
        "config": cfg.to_dict(),
        "gemms": [list(g) for g in gemms],
        "seed": seed,
        "valid_prob": valid_prob,
        "ready_prob": ready_prob,
        "report": str(report_path),
    }
    job_path = sim_dir / "job.json"
    job_path.write_text(json.dumps(job))
    log = sim_dir / "sim.log"
    start = time.perf_counter()
    runner = get_runner(simulator)
    top = build.manifest_data["top"]
    runner.build(
        sources=[build.verilog],
        hdl_toplevel=top,
        build_dir=sim_dir / "build",
        timescale=("1ns", "1ps"),
        always=True,
        log_file=sim_dir / "build.log",
        build_args=_build_args(simulator),
    )
    results_xml = runner.test(
        test_module="hwgen.sim.systolic_bench",
        hdl_toplevel=top,
        build_dir=sim_dir / "build",
        test_dir=sim_dir,
        extra_env={JOB_ENV: str(job_path)},
        log_file=log,
        results_xml=str(sim_dir / "results.xml"),
    )
    wall = time.perf_counter() - start
    from cocotb_tools.check_results import get_results

    tests, fails = get_results(Path(results_xml))
    gemm_results = json.loads(report_path.read_text()) if report_path.exists() else []
    passed = tests > 0 and fails == 0 and len(gemm_results) == len(gemms)
    return RegressionReport(simulator, cfg, gemm_results, passed, wall, log)


def _build_args(simulator: str) -> list[str]:
    if simulator != "verilator":
        return []
    # Style warnings are lint's business (`hwgen build` lints); a simulation build must not stop on them.
    return ["-Wno-fatal", "-j", "2"]
