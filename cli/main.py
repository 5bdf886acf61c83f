"""The ``hwgen`` command line: parser, dispatch and one-line errors."""

from __future__ import annotations

import argparse
import os
import sys

from hwgen.emulation.errors import ConfigError
from hwgen.host.model_files import ModelError
from hwgen.sim.cocotb_runner import SimulationError

__all__ = ["UsageError", "build_parser", "main"]


class UsageError(Exception):
    """A bad command-line value; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser(arch_name: str = "systolic") -> argparse.ArgumentParser:
    """The argument parser of ``hwgen``, with the config options of architecture ``arch_name``."""
    from hwgen.cli.options import add_config_options
    from hwgen.emulation.units import UNITS, get_unit

    arch = get_unit(arch_name)
    archs = "; ".join(f"{a.name}: {a.summary}" for a in UNITS.values())
    arch_help = f"architecture (default: systolic). {archs}. `--arch NAME --help` lists its options"
    parser = _Parser(prog="hwgen", description="Design, verify and deploy low-precision ML accelerators.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    build = sub.add_parser(
        "build",
        help="write Verilog and manifest.json for a design",
        description="Generate Verilog, lint it with Verilator and write manifest.json.",
    )
    build.add_argument("--arch", default="systolic", help=arch_help)
    add_config_options(build, arch)
    build.add_argument("--out", metavar="DIR", help="output folder (default: build/<top module>)")
    build.add_argument("--no-lint", action="store_true", help="skip verilator --lint-only")

    synth = sub.add_parser(
        "synth",
        help="build a design and synthesise it (Yosys, nextpnr): LUT/FF/DSP, Fmax",
        description="Build, then synthesise, place and route with the YoWASP tools; the "
        "report is printed and written into the build's manifest.json.",
    )
    synth.add_argument("--arch", default="systolic", help=arch_help)
    add_config_options(synth, arch)
    synth.add_argument("--family", default="ecp5", help="ecp5 (ULX3S, LFE5U-85F) or ice40 (iCEBreaker, UP5K)")
    synth.add_argument("--device", help="device of the family (default: 85k for ecp5, up5k for ice40)")
    synth.add_argument("--freq", type=float, metavar="MHZ", help="clock target for place and route")
    synth.add_argument("--no-pnr", action="store_true", help="synthesis only: cell counts, no Fmax")
    synth.add_argument("--out", metavar="DIR", help="output folder (default: build/<top module>)")

    sim = sub.add_parser(
        "sim",
        help="build any unit and run its cocotb regression",
        description="Run random vectors through the generated Verilog of the unit (--arch) in cocotb "
        "and check every output bit-exactly against its golden model, and cycles against its cycle model.",
    )
    sim.add_argument("--arch", default="systolic", help="unit to simulate: " + ", ".join(UNITS))
    add_config_options(sim, arch)
    sim.add_argument(
        "--simulator", default="verilator", help="verilator, icarus, or all (every installed one) (default: verilator)"
    )
    sim.add_argument(
        "--gemm",
        action="append",
        metavar="MxKxN",
        help="GEMM shape to run, repeatable, for systolic, bitslice and addertree "
        "(default: the unit's own cases; systolic: 16x16x16 13x21x11 1x24x20 9x5x3)",
    )
    sim.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    sim.add_argument(
        "--backpressure",
        type=float,
        default=None,
        metavar="P",
        help="run with random idle sources and stalled sink, each cycle ready/valid with "
        "probability P in (0, 1); cycles are then reported, not checked",
    )
    sim.add_argument("--work", metavar="DIR", help="working folder (default: build/sim/<top module>)")

    sub.add_parser("doctor", help="list every tool hwgen uses, its version and how to fix what is missing")
    for name in _EXTRA_COMMANDS:
        _command_module(name).register(sub, arch)
    return parser


# Commands that live in their own module ``hwgen.cli.<name>_cmd``, each with
# ``register(subparsers, arch)`` adding its parser and ``run(args) -> int``.
_EXTRA_COMMANDS: tuple[str, ...] = ("fpga", "run", "report")


def _command_module(name: str):
    import importlib

    return importlib.import_module(f"hwgen.cli.{name}_cmd")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hwgen`` console script; returns the exit status.

    Exit status: 0 success; 1 a failed check (simulation, lint, timing, device); 2 a
    value that is not allowed (one line on stderr, before any long work); 130 Ctrl-C.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except ModelError as exc:  # already one line naming the file, the key or tensor, and the fix
        return _fail(_one_line(str(exc)))
    except ConfigError as exc:
        return _fail(config_message(exc))
    except UsageError as exc:
        return _fail(_one_line(str(exc)))
    except SimulationError as exc:
        print(f"hwgen: simulation failed: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hwgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``hwgen ... | head``): nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # the last resort: one line, never a traceback
        if os.environ.get("HWGEN_DEBUG"):
            raise
        print(f"hwgen: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
              "(a bug: please report it; HWGEN_DEBUG=1 shows the traceback)", file=sys.stderr)  # fmt: skip
        return 1


def _dispatch(argv: list[str]) -> int:
    from hwgen.cli.options import arch_from_argv

    args = build_parser(arch_from_argv(argv)).parse_args(argv)
    if args.command in ("build", "synth"):
        from hwgen.cli.build_cmd import run_build

        return run_build(args)
    if args.command == "sim":
        from hwgen.cli.sim_cmd import run_sim

        return run_sim(args)
    if args.command in _EXTRA_COMMANDS:
        return _command_module(args.command).run(args)
    from hwgen.cli.doctor_cmd import run_doctor

    return run_doctor()


def config_message(exc: ConfigError) -> str:
    """One line naming the option, its rejected value and what is allowed."""
    return f"--{exc.field.replace('_', '-')} {_shown(exc.value)}: not allowed; allowed: {_one_line(exc.allowed)}"


_MAX_SHOWN = 120  # characters of a rejected value echoed back (a 5,000-digit number is not)


def _shown(value) -> str:
    if isinstance(value, str):
        plain = value and value == value.strip() and value.isprintable()
        text = value if plain else repr(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 10_000:
        text = f"(an integer of about {int(value.bit_length() * 0.30103)} digits)"  # str() would refuse it
    else:
        text = _one_line(str(value))
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 20]}... ({len(text)} characters)"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> int:
    print(f"hwgen: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
