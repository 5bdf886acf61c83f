"""Build the sparse DSP chain from its config: Verilog files and a reproducible manifest."""

from __future__ import annotations

from pathlib import Path

from hwgen.dataflow.sparse_chain import SparseDspChain
from hwgen.dataflow.sparse_chain_model import latency
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.rtl.component_build import BuildResult, write_build
from hwgen.rtl.verilog_writer import GeneratedVerilog, generate_verilog

__all__ = ["ARCH", "build_sparse_chain", "elaborate_sparse_chain"]

#: Name of the architecture in manifests (and for ``hwgen build --arch``).
ARCH = "sparse-dsp"


def elaborate_sparse_chain(cfg: SparseChainConfig) -> GeneratedVerilog:
    """Generate the Verilog of the chain ``cfg`` describes."""
    return generate_verilog(SparseDspChain(cfg), cfg.top_name)


def build_sparse_chain(
    cfg: SparseChainConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None
) -> BuildResult:
    """Write ``<top>.v``, ``<top>.noattr.v``, ``<top>.vlt`` and ``manifest.json`` into ``out_dir``.

    The manifest has the fields of ``hwgen.dataflow.build.build_design``'s plus
    ``arch`` (``"sparse-dsp"``), ``modes`` (code -> ``[n, m]``) and ``latency``.

    Parameters
    ----------
    cfg : SparseChainConfig
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
    extra = {"modes": {str(code): list(mode) for code, mode in enumerate(cfg.modes)}, "latency": latency(cfg)}
    return write_build(elaborate_sparse_chain(cfg), cfg.to_dict(), out_dir, extra_tools, arch=ARCH, extra=extra)
