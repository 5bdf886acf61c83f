"""The ``hwgen`` command line: parser, dispatch and one-line errors."""

from __future__ import annotations

import argparse
import sys

from hwgen.emulation.errors import ConfigError
from hwgen.sim.cocotb_runner import SimulationError

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """A bad command-line value; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _array_options(parser: argparse.ArgumentParser) -> None:
    from hwgen.dataflow.config import ARCHS, DATAFLOWS, MAX_DIM

    parser.add_argument(
        "--config", metavar="FILE", help="load options from a .toml or .json file (command-line options override it)"
    )
    parser.add_argument("--arch", help=f"architecture: {', '.join(ARCHS)} (default: systolic)")
    parser.add_argument("--rows", type=int, help=f"PE rows, 1..{MAX_DIM} (default: 8)")
    parser.add_argument("--cols", type=int, help=f"PE columns, 1..{MAX_DIM} (default: 8)")
    parser.add_argument("--dataflow", help=f"dataflow: {', '.join(DATAFLOWS)} (default: ws)")
    parser.add_argument("--dtype", help="activation and weight format: int8 (default: int8)")
    parser.add_argument("--acc", help="accumulator format: int32, wraps on overflow (default: int32)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hwgen`` (exposed for tests and docs)."""
    parser = _Parser(prog="hwgen", description="Design, verify and deploy low-precision ML accelerators.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    build = sub.add_parser(
        "build",
        help="write Verilog and manifest.json for a design",
        description="Generate Verilog, lint it with Verilator and write manifest.json.",
    )
    _array_options(build)
    build.add_argument("--out", metavar="DIR", help="output folder (default: build/<top module>)")
    build.add_argument("--no-lint", action="store_true", help="skip verilator --lint-only")

    sim = sub.add_parser(
        "sim",
        help="build a design and run its cocotb regression",
        description="Run random GEMMs through the generated Verilog in cocotb and "
        "check every output bit-exactly against the emulator, and cycles against "
        "the array's cycle formula.",
    )
    _array_options(sim)
    sim.add_argument(
        "--simulator", default="verilator", help="verilator, icarus, or all (every installed one) (default: verilator)"
    )
    sim.add_argument(
        "--gemm",
        action="append",
        metavar="MxKxN",
        help="GEMM shape to run, repeatable (default: 16x16x16 13x21x11 1x24x20 9x5x3)",
    )
    sim.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    sim.add_argument(
        "--backpressure",
        type=float,
        default=None,
        metavar="P",
        help="run with random idle sources and stalled sink, each cycle ready/valid "
        "with probability P in (0, 1); cycles are then reported, not checked",
    )
    sim.add_argument("--work", metavar="DIR", help="working folder (default: build/sim/<top module>)")

    sub.add_parser("doctor", help="list every tool hwgen uses, its version and how to fix what is missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hwgen`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "build":
            from hwgen.cli.build_cmd import run_build

            return run_build(args)
        if args.command == "sim":
            from hwgen.cli.sim_cmd import run_sim

            return run_sim(args)
        from hwgen.cli.doctor_cmd import run_doctor

        return run_doctor()
    except ConfigError as exc:
        return _fail(f"--{exc.field.replace('_', '-')} {exc.value}: not allowed; allowed: {exc.allowed}")
    except UsageError as exc:
        return _fail(str(exc))
    except SimulationError as exc:
        print(f"hwgen: simulation failed: {exc}", file=sys.stderr)
        return 1


def _fail(message: str) -> int:
    print(f"hwgen: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
