"""``hwgen fpga build`` and ``hwgen fpga program``: board bitstreams of the accelerator top and loading them."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hwgen.cli.options import add_config_options, config_from_args, writable_dir
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import Unit, get_unit

__all__ = ["print_result", "register", "run"]

_DEFAULT_BAUD = 115_200
#: nextpnr reads ``--seed`` into a signed 32-bit int.
_MAX_SEED = 2**31 - 1


def register(sub: argparse._SubParsersAction, arch: Unit) -> None:
    """Add ``fpga build`` and ``fpga program`` to the ``hwgen`` subcommands."""
    from hwgen.fpga.boards import BOARDS

    boards = ", ".join(f"{b.name} ({b.title})" for b in BOARDS.values())
    fpga = sub.add_parser(
        "fpga",
        help="build a board bitstream of the accelerator top, or load one into a board",
        description="Board bitstreams through amaranth-boards and the YoWASP Yosys/nextpnr/icepack/ecppack.",
    )
    steps = fpga.add_subparsers(dest="fpga_command", metavar="STEP", parser_class=type(fpga))
    steps.required = True
    build = steps.add_parser(
        "build",
        help="accelerator top with a UART link -> bitstream, utilisation and Fmax",
        description="Elaborate the accelerator top (UART host link, command processor, array) for a "
        "board, synthesise, place and route it and write the bitstream; print LUT/FF/BRAM/DSP and Fmax. "
        "The iCEBreaker's UP5K holds the top with a 2x2 int8 array; 4x4 and larger need the ULX3S.",
    )
    build.add_argument("--board", required=True, help=f"target board: {boards}")
    build.add_argument("--arch", default="systolic", help="compute array architecture (systolic)")
    add_config_options(build, arch)
    build.add_argument("--baud", type=int, default=_DEFAULT_BAUD, help=f"UART baud rate (default: {_DEFAULT_BAUD})")
    build.add_argument("--seed", type=int, default=1, help=f"nextpnr placement seed, 0..{_MAX_SEED} (default: 1)")
    build.add_argument("--out", metavar="DIR", help="output folder (default: build/fpga/<board>/<top module>)")

    program = steps.add_parser(
        "program",
        help="load a bitstream into a board (openFPGALoader, iceprog or fujprog)",
        description="Load a bitstream with the first programming tool found on PATH; without one, "
        "say what to install and the command to run (exit status 2).",
    )
    program.add_argument("--board", required=True, help=f"target board: {boards}")
    program.add_argument("bitstream", metavar="BITSTREAM", help=".bin (icebreaker) or .bit (ulx3s) file")
    program.add_argument("--programmer", metavar="TOOL", help="use only this tool (default: the first found)")
    program.add_argument("--dry-run", action="store_true", help="print the command instead of running it")


def run(args: argparse.Namespace) -> int:
    """Run ``hwgen fpga build`` or ``hwgen fpga program``; return the exit status."""
    if args.fpga_command == "program":
        return _program(args)
    return _build(args)


def _build(args: argparse.Namespace) -> int:
    from hwgen.fpga.bitstream import STAGES, accelerator_top, build_bitstream
    from hwgen.fpga.boards import get_board
    from hwgen.fpga.report import SynthesisError

    board = get_board(args.board)
    if args.arch != "systolic":
        raise ConfigError("arch", args.arch, "systolic (the accelerator top wraps a systolic array)")
    if not 0 <= args.seed <= _MAX_SEED:
        raise ConfigError("seed", args.seed, f"an integer from 0 to {_MAX_SEED}")
    cfg = config_from_args(get_unit(args.arch), args)
    top = accelerator_top(cfg, board, args.baud)  # bad values raise here, before the progress display
    out = writable_dir(args.out if args.out is not None else f"build/fpga/{board.name}/{cfg.top_name}", "out")
    console = Console(soft_wrap=True)  # paths in messages are never cut
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        tasks = {stage: bar.add_task(stage, total=1, start=False) for stage in STAGES}

        def stage_begins(stage: str, detail: str) -> None:
            for done in STAGES[: STAGES.index(stage)]:
                bar.update(tasks[done], completed=1)
                bar.stop_task(tasks[done])
            bar.start_task(tasks[stage])
            bar.update(tasks[stage], description=f"{stage}: {detail}")

        try:
            result = build_bitstream(top, board, out, seed=args.seed, progress=stage_begins)
        except SynthesisError as exc:
            bar.stop()
            print(f"hwgen: {exc}", file=sys.stderr)
            return 1
        for stage in STAGES:
            bar.update(tasks[stage], completed=1)
    manifest = result.work_dir / "bitstream.json"
    # The options that rebuild the same bitstream, beside its figures.
    options = {"arch": args.arch, "config": cfg.to_dict(), "baud": args.baud, "seed": args.seed}
    manifest.write_text(json.dumps({**options, **json.loads(manifest.read_text())}, indent=2) + "\n")
    return print_result(result, console)


def print_result(result, console: Console | None = None) -> int:
    """Print a built bitstream's figures; a missed board clock adds one line on stderr.

    Parameters
    ----------
    result : hwgen.fpga.bitstream.BitstreamResult
    console : rich.console.Console, optional

    Returns
    -------
    int
        The exit status: 0, or 1 if the design misses the board clock.
    """
    _print_report(console or Console(soft_wrap=True), result)
    report = result.report
    if not result.timing_met:
        fmax = "no Fmax in nextpnr's report" if report.fmax_mhz is None else f"Fmax {report.fmax_mhz} MHz"
        print(
            f"hwgen: timing missed on {result.board}: {fmax} < {report.clock_mhz_target:g} MHz board clock; "
            f"{result.bitstream} was written but will not run reliably",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_report(console: Console, result) -> None:
    report = result.report
    table = Table(title=f"{result.bitstream} ({result.bitstream.stat().st_size} bytes)")
    for column in ("LUT4", "carry", "FF", "BRAM", "DSP", "Fmax", "board clock", "timing"):
        table.add_column(column, justify="right")
    fmax = "-" if report.fmax_mhz is None else f"{report.fmax_mhz:.1f} MHz"
    timing = "[green]met[/green]" if result.timing_met else "[red]missed[/red]"
    counts = (report.luts, report.carry, report.ffs, report.bram, report.dsp)
    table.add_row(*(str(n) for n in counts), fmax, f"{report.clock_mhz_target:g} MHz", timing)
    console.print(table)
    used = ", ".join(f"{bel} {u['used']}/{u['available']}" for bel, u in report.utilisation.items())
    console.print(f"nextpnr: {used}")
    console.print(f"report: {result.work_dir / 'bitstream.json'}")


def _program(args: argparse.Namespace) -> int:
    from hwgen.fpga.programmer import ProgrammerNotFoundError, program_board

    try:
        command, status = program_board(args.board, args.bitstream, tool=args.programmer, dry_run=args.dry_run)
    except ProgrammerNotFoundError as exc:
        print(f"hwgen: {exc}", file=sys.stderr)
        return 2
    print(" ".join(command))
    if status != 0:
        print(f"hwgen: {command[0]} exited with status {status}", file=sys.stderr)
        return 1
    return 0
