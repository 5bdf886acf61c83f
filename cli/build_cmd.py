"""``hwgen build`` and ``hwgen synth``: Verilog, lint, manifest, and optionally synthesis reports."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time

from rich.console import Console
from rich.table import Table

from hwgen.cli.options import config_from_args, writable_dir
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import get_unit
from hwgen.rtl.component_build import check_build_folder
from hwgen.sim.toolchain import ensure_verilator, find_simulator

__all__ = ["MAX_FREQ_MHZ", "lint", "run_build"]

#: Highest ``--freq`` accepted: far above what any supported FPGA family reaches.
MAX_FREQ_MHZ = 1000.0


def lint(verilog_path, waivers_path) -> tuple[bool, str]:
    """Run ``verilator --lint-only`` on a file with its waiver config; return (clean, messages)."""
    exe = ensure_verilator()
    if exe is None:
        return False, "verilator is not installed; run `hwgen doctor`"
    command = [str(exe), "--lint-only", str(waivers_path), str(verilog_path)]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def run_build(args: argparse.Namespace) -> int:
    """Build the design the options describe; lint it (``build``) or synthesise it (``synth``)."""
    console = Console(soft_wrap=True)  # paths in messages are never cut
    if args.command == "synth":
        _check_synth_options(args)
    arch = get_unit(args.arch)
    cfg = config_from_args(arch, args)
    out = writable_dir(args.out if args.out is not None else f"build/{cfg.top_name}", "out")
    check_build_folder(out)
    linting = args.command == "build" and not args.no_lint
    with console.status(f"Generating Verilog for {cfg.top_name}"):
        tools = {"verilator": find_simulator("verilator")} if linting else {}
        result = build_unit(cfg, out, {k: v for k, v in tools.items() if v})
    console.print(f"wrote {result.verilog}")
    console.print(f"wrote {result.manifest}")
    if args.command == "synth":
        return _synthesise(console, args, result)
    if not linting:
        return 0
    with console.status("verilator --lint-only"):
        clean, messages = lint(result.verilog, result.lint_waivers)
    if not clean:
        console.print(f"[red]lint failed[/red]\n{messages}")
        return 1
    console.print("verilator --lint-only: clean")
    return 0


def _check_synth_options(args: argparse.Namespace) -> None:
    """Refuse a bad ``--family``, ``--device`` or ``--freq`` before any Verilog is written."""
    from hwgen.fpga.devices import resolve_target

    resolve_target(args.family, args.device)
    if args.freq is not None and not (math.isfinite(args.freq) and 0 < args.freq <= MAX_FREQ_MHZ):
        raise ConfigError("freq", f"{args.freq:g}", f"a clock target in MHz, above 0 and at most {MAX_FREQ_MHZ:g}")


def _synthesise(console: Console, args: argparse.Namespace, result) -> int:
    from hwgen.fpga import SynthesisError, synthesize

    top = result.manifest_data["top"]
    work = result.verilog.parent / f"synth_{args.family}"
    started = time.time()
    with console.status(f"{args.family}: synthesis{'' if args.no_pnr else ', place and route'}") as status:
        try:
            report = synthesize(
                result.verilog.read_text(),
                top,
                args.family,
                work,
                device=args.device,
                place_and_route=not args.no_pnr,
                clock_mhz_target=args.freq,
                progress=lambda step: status.update(f"{args.family}: {step}"),
            )
        except SynthesisError as exc:
            console.print(f"[red]hwgen: synthesis failed: {exc}[/red]")
            return 1
    manifest = json.loads(result.manifest.read_text())
    # What synthesis wrote, so that a later build into this folder can remove exactly those files.
    written = sorted(p.name for p in work.iterdir() if p.is_file() and p.stat().st_mtime >= started - 1)
    manifest.setdefault("synthesis", {})[args.family] = {**report.to_dict(), "work": work.name, "files": written}
    result.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    table = Table(title=f"{top} on {report.family} {report.device}")
    for column in ("LUT4", "carry", "FF", "BRAM", "DSP", "Fmax", "timing"):
        table.add_column(column, justify="right")
    fmax = "-" if report.fmax_mhz is None else f"{report.fmax_mhz:.1f} MHz"
    timing = {None: "-", True: "[green]met[/green]", False: "[red]missed[/red]"}[report.timing_met]
    table.add_row(*(str(v) for v in (report.luts, report.carry, report.ffs, report.bram, report.dsp)), fmax, timing)
    console.print(table)
    console.print(f"report added to {result.manifest}")
    return 0
