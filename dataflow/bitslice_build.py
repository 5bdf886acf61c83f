"""Build a bit-slice design (one PE or the Bit Fusion-like array) from its config."""

from __future__ import annotations

from pathlib import Path

from hwgen.dataflow.bitslice_model import BitSliceConfig
from hwgen.rtl.component_build import BuildResult, build_component

__all__ = ["bitslice_component", "build_bitslice"]


def bitslice_component(cfg: BitSliceConfig):
    """The Amaranth component ``cfg`` describes (``BitSlicePE`` or ``BitSliceArray``)."""
    if cfg.unit == "pe":
        from hwgen.pe.bitslice import BitSlicePE

        return BitSlicePE(cfg.coding, cfg.acc_format)
    from hwgen.dataflow.bitslice_array import BitSliceArray

    return BitSliceArray(cfg)


def build_bitslice(cfg: BitSliceConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None) -> BuildResult:
    """Write the design's Verilog, lint waivers and ``manifest.json`` into ``out_dir``.

    Raises
    ------
    ConfigError
        If ``out_dir`` holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return build_component(bitslice_component(cfg), cfg.top_name, cfg.to_dict(), out_dir, extra_tools, arch="bitslice")
