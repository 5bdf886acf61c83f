"""Build the PIM channel from its config: Verilog files and a reproducible manifest."""

from __future__ import annotations

from pathlib import Path

from hwgen.dataflow.pim_channel import PimChannel
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import PimConfig
from hwgen.rtl.component_build import BuildResult, write_build
from hwgen.rtl.verilog_writer import GeneratedVerilog, generate_verilog

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
        See :func:`elaborate_pim`; or ``out_dir`` holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return write_build(elaborate_pim(cfg), cfg.to_dict(), out_dir, extra_tools, arch="pim")
