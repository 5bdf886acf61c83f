"""Build a systolic array from its config: Verilog files and a reproducible manifest."""

from __future__ import annotations

from pathlib import Path

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.os_array import OutputStationaryArray
from hwgen.dataflow.systolic import SystolicArray
from hwgen.rtl.component_build import BuildResult, write_build
from hwgen.rtl.verilog_writer import GeneratedVerilog, generate_verilog

__all__ = ["BuildResult", "build_design", "elaborate", "make_array"]


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
    ConfigError
        If ``out_dir`` holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return write_build(elaborate(cfg), cfg.to_dict(), out_dir, extra_tools, arch=cfg.arch)
