"""``hwgen build``: Verilog, lint and manifest for one design."""

from __future__ import annotations

import argparse
import subprocess

from rich.console import Console

from hwgen.cli.options import array_config, writable_dir
from hwgen.dataflow.build import build_design
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
    console = Console()
    cfg = array_config(args)
    out = writable_dir(args.out or f"build/{cfg.top_name}", "out")
    with console.status(f"Generating Verilog for {cfg.top_name}"):
        tools = {"verilator": find_simulator("verilator")} if not args.no_lint else {}
        result = build_design(cfg, out, extra_tools={k: v for k, v in tools.items() if v})
    console.print(f"wrote {result.verilog}")
    console.print(f"wrote {result.manifest}")
    if args.no_lint:
        return 0
    with console.status("verilator --lint-only"):
        clean, messages = lint(result.verilog, result.lint_waivers)
    if not clean:
        console.print(f"[red]lint failed[/red]\n{messages}")
        return 1
    console.print("verilator --lint-only: clean")
    return 0
