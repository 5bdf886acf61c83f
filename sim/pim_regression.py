"""Run a given PIM command program through the channel in cocotb (Verilator or Icarus).

``hwgen.sim.regression.run_regression`` runs the PIM bench on a random GEMV; this runs
a chosen program (calibration cases, special values) on the same build and bench.
"""

from __future__ import annotations

from pathlib import Path

from hwgen.emulation.pim_model import PimCommand, PimConfig
from hwgen.sim.cocotb_runner import CocotbRun, flow_job
from hwgen.sim.pim_bench import command_to_dict
from hwgen.sim.regression import run_bench

__all__ = ["run_pim_regression"]


def run_pim_regression(
    cfg: PimConfig,
    program: list[PimCommand],
    work_dir: str | Path,
    simulator: str = "verilator",
    seed: int = 1,
    valid_prob: float = 1.0,
    ready_prob: float = 1.0,
) -> CocotbRun:
    """Generate the Verilog of ``cfg`` and run ``program`` from reset, checked against ``PimModel``.

    The report (``CocotbRun.report``) has ``passed``, ``mismatches``, ``cycles``,
    ``model_cycles`` and ``cycles_equal`` (issue and output cycles identical to the model;
    required at ``valid_prob == ready_prob == 1``).

    Raises
    ------
    ValueError
        If a probability is outside (0, 1] or the simulator is unknown.
    SimulationError
        If the simulator is missing or cannot build the design.
    """
    flow = flow_job(seed, valid_prob, ready_prob)
    job = {
        "config": cfg.to_dict(),
        "program": [command_to_dict(c) for c in program],
        **flow,
    }
    run, build_seconds = run_bench(cfg, work_dir, simulator, "hwgen.sim.pim_bench", job)
    return CocotbRun(run.simulator, run.passed, run.report, run.wall_seconds + build_seconds, run.log)
