"""``hwgen sim``: build a design, run its cocotb regression, print pass/fail, cycles, utilisation."""

from __future__ import annotations

import argparse
import re

from rich.console import Console
from rich.table import Table

from hwgen.cli.options import config_from_args, writable_dir
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.sim.cocotb_runner import MAX_SEED
from hwgen.sim.regression import DEFAULT_GEMMS, RegressionReport, run_regression
from hwgen.sim.toolchain import SIMULATORS, find_simulator

__all__ = ["parse_gemm", "run_sim"]


def parse_gemm(text: str) -> tuple[int, int, int]:
    """Parse ``"MxKxN"`` into three positive integers."""
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text.strip())
    dims = tuple(int(g) for g in match.groups()) if match else ()
    if not dims or min(dims) < 1 or max(dims) > 4096:
        raise ConfigError("gemm", text, "MxKxN with each dimension from 1 to 4096, e.g. 16x32x8")
    return dims


def _simulators(choice: str) -> list[str]:
    if choice == "all":
        found = [s for s in SIMULATORS if find_simulator(s)]
        return found
    if choice not in SIMULATORS:
        raise ConfigError("simulator", choice, ", ".join(SIMULATORS) + ", all")
    if find_simulator(choice) is None:
        raise ConfigError("simulator", choice, "an installed simulator (see `hwgen doctor`)")
    return [choice]


def run_sim(args: argparse.Namespace) -> int:
    """Check every option, then run the regression on each simulator; 0 if every GEMM passed.

    Raises
    ------
    ConfigError
        On any option that is not allowed, before anything is built.
    SimulationError
        If a simulator cannot build the design or the bench stops before reporting every GEMM.
    KeyboardInterrupt
        On Ctrl-C, once every process the simulation started has been stopped.
    """
    if args.arch != "systolic":
        raise ConfigError("arch", args.arch, "systolic (the other units' regressions run under pytest, tests/sim)")
    cfg = config_from_args(get_unit(args.arch), args)
    gemms = [parse_gemm(g) for g in args.gemm] if args.gemm else list(DEFAULT_GEMMS)
    for shape in gemms:
        try:
            plan_gemm(cfg, *shape)
        except ValueError as exc:
            raise ConfigError("gemm", "x".join(map(str, shape)), str(exc).split("allowed: ", 1)[-1]) from None
    p = args.backpressure
    if p is not None and not 0 < p < 1:
        raise ConfigError("backpressure", p, "a probability strictly between 0 and 1")
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError("seed", args.seed, f"an integer from 0 to {MAX_SEED}")
    sims = _simulators(args.simulator)
    work = writable_dir(args.work if args.work is not None else f"build/sim/{cfg.top_name}", "work")
    console = Console(soft_wrap=True)  # paths in messages are never cut
    all_passed = True
    for simulator in sims:
        with console.status(f"{cfg.top_name}: generating Verilog, compiling and simulating on {simulator}"):
            report = run_regression(cfg, work, simulator, gemms, args.seed, valid_prob=p or 1.0, ready_prob=p or 1.0)
        _print_report(console, report)
        all_passed &= report.passed
    return 0 if all_passed else 1


def _print_report(console: Console, report: RegressionReport) -> None:
    table = Table(title=f"{report.config.top_name} on {report.simulator}")
    for column in ("GEMM MxKxN", "cycles", "formula", "utilisation", "result"):
        table.add_column(column, justify="right")
    for g in report.gemms:
        formula = "-" if g["expected_cycles"] is None else str(g["expected_cycles"])
        verdict = "[green]pass[/green]" if g["passed"] else "[red]FAIL[/red]"
        table.add_row(f"{g['m']}x{g['k']}x{g['n']}", str(g["cycles"]), formula, f"{g['utilisation']:.1%}", verdict)
    console.print(table)
    for g in report.gemms:
        for line in g["mismatches"][:5]:
            console.print(f"[red]{g['m']}x{g['k']}x{g['n']}: {line}[/red]")
    status = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    console.print(
        f"{status}: {len(report.gemms)} GEMMs, {report.cycles} cycles, "
        f"utilisation {report.utilisation:.1%}, wall {report.wall_seconds:.1f} s "
        f"(log: {report.log})"
    )
