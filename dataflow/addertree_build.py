"""Build the adder-tree array from its config."""

from __future__ import annotations

from pathlib import Path

from hwgen.dataflow.addertree_array import AdderTreeArray
from hwgen.dataflow.addertree_model import AdderTreeConfig
from hwgen.rtl.component_build import BuildResult, build_component

__all__ = ["build_addertree"]


def build_addertree(
    cfg: AdderTreeConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None
) -> BuildResult:
    """Write the array's Verilog, lint waivers and ``manifest.json`` into ``out_dir``.

    Raises
    ------
    ConfigError
        If ``out_dir`` holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return build_component(AdderTreeArray(cfg), cfg.top_name, cfg.to_dict(), out_dir, extra_tools, arch="addertree")
