"""``hwgen build`` and ``hwgen synth``: Verilog, lint, manifest, and optionally synthesis reports."""

from __future__ import annotations

import argparse
import json
import subprocess

from rich.console import Console
from rich.table import Table

from hwgen.cli.options import config_from_args, writable_dir
from hwgen.dataflow.registry import get_architecture
from hwgen.sim.toolchain import ensure_verilator, find_simulator

__all__ = ["lint", "run_build"]


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
    console = Console()
    arch = get_architecture(args.arch)
    cfg = config_from_args(arch, args)
    out = writable_dir(args.out or f"build/{cfg.top_name}", "out")
    linting = args.command == "build" and not args.no_lint
    with console.status(f"Generating Verilog for {cfg.top_name}"):
        tools = {"verilator": find_simulator("verilator")} if linting else {}
        result = arch.build_function()(cfg, out, {k: v for k, v in tools.items() if v})
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


def _synthesise(console: Console, args: argparse.Namespace, result) -> int:
    from hwgen.fpga import SynthesisError, synthesize

    top = result.manifest_data["top"]
    work = result.verilog.parent / f"synth_{args.family}"
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
    manifest.setdefault("synthesis", {})[args.family] = report.to_dict()
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
