"""``hwgen sim``: build any unit, run its cocotb regression, print pass/fail, cycles, utilisation."""

from __future__ import annotations

import argparse
import re

from rich.console import Console
from rich.table import Table

from hwgen.cli.options import config_from_args, writable_dir
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import UNITS, get_unit
from hwgen.sim.cocotb_runner import MAX_SEED
from hwgen.sim.regression import RegressionReport, run_regression
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
    """Check every option, then run the unit's regression on each simulator; 0 if every case passed.

    Raises
    ------
    ConfigError
        On any option that is not allowed, before anything is built.
    SimulationError
        If a simulator cannot build the design or the bench stops before reporting every case.
    KeyboardInterrupt
        On Ctrl-C, once every process the simulation started has been stopped.
    """
    unit = get_unit(args.arch)
    cfg = config_from_args(unit, args)
    bench = unit.regression_bench()
    gemms = [parse_gemm(g) for g in args.gemm] if args.gemm else None
    if gemms and not bench.gemms:
        takes = ", ".join(name for name, u in UNITS.items() if u.bench is not None and u.bench.gemms)
        raise ConfigError("gemm", args.gemm[0], f"no --gemm for --arch {unit.name} (only for {takes})")
    p = args.backpressure
    if p is not None and not 0 < p < 1:
        raise ConfigError("backpressure", p, "a probability strictly between 0 and 1")
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError("seed", args.seed, f"an integer from 0 to {MAX_SEED}")
    flow = {"valid_prob": p or 1.0, "ready_prob": p or 1.0}
    try:  # every shape checked (by the unit's pure cycle model) before anything is built
        for shape in gemms or []:
            unit.cycles(cfg, *shape)
        if gemms is None:
            bench.job(cfg, args.seed, gemms=None, **flow)
    except ConfigError:
        raise
    except ValueError as exc:
        value = "x".join(map(str, shape)) if gemms else unit.name
        raise ConfigError("gemm" if gemms else "arch", value, str(exc).split("allowed: ", 1)[-1]) from None
    sims = _simulators(args.simulator)
    work = writable_dir(args.work if args.work is not None else f"build/sim/{cfg.top_name}", "work")
    console = Console(soft_wrap=True)  # paths in messages are never cut
    all_passed = True
    for simulator in sims:
        with console.status(f"{cfg.top_name}: generating Verilog, compiling and simulating on {simulator}"):
            report = run_regression(cfg, work, simulator, gemms, args.seed, **flow)
        _print_report(console, report)
        all_passed &= report.passed
    return 0 if all_passed else 1


def _print_report(console: Console, report: RegressionReport) -> None:
    table = Table(title=f"{report.arch} {report.config.top_name} on {report.simulator}")
    for column in ("case", "cycles", "formula", "utilisation", "result"):
        table.add_column(column, justify="right")
    for c in report.cases:
        formula = "-" if c["expected_cycles"] is None else str(c["expected_cycles"])
        use = c["ideal_cycles"] / c["cycles"] if c["cycles"] else 0.0
        verdict = "[green]pass[/green]" if c["passed"] else "[red]FAIL[/red]"
        table.add_row(c["name"], str(c["cycles"]), formula, f"{use:.1%}", verdict)
    console.print(table)
    for c in report.cases:
        for line in c["mismatches"][:5]:
            console.print(f"[red]{c['name']}: {line}[/red]")
    status = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    noun = "GEMMs" if report.arch == "systolic" else "cases"
    console.print(
        f"{status}: {len(report.cases)} {noun}, {report.cycles} cycles, {report.checks} exact cycle checks, "
        f"utilisation {report.utilisation:.1%}, wall {report.wall_seconds:.1f} s "
        f"(log: {report.log})"
    )
