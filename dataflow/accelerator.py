"""Build the accelerator top (host link, command processor, scratchpads, systolic array) from an ArrayConfig."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hwgen.dataflow.systolic import SystolicArray
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import TopConfig, check_link, device_info
from hwgen.rtl.accelerator_top import AcceleratorTop, ProcessorCore
from hwgen.rtl.component_build import BuildResult, build_component
from hwgen.rtl.verilog_writer import FSM_LINT_WAIVERS

__all__ = ["TOP_LINT_WAIVERS", "build_top", "make_accelerator_top", "make_processor_core"]

#: Verilator config shipped with the top (its link and processor are state machines).
TOP_LINT_WAIVERS = FSM_LINT_WAIVERS


def build_top(cfg: TopConfig, out_dir: str | Path, extra_tools: dict[str, str] | None = None) -> BuildResult:
    """Write the top's Verilog, attribute-free copy, lint waivers and manifest into ``out_dir``.

    Raises
    ------
    ConfigError
        If ``out_dir`` holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    top = make_accelerator_top(cfg.array, cfg.link, cfg.clk_freq, cfg.uart_baud, **cfg.memories)
    info = top.info
    extra = {"device_info": dataclasses.asdict(info), "run_cycles": "2 * rows + cols + m + 2"}
    return build_component(
        top, cfg.top_name, cfg.to_dict(), out_dir, extra_tools, arch="top", extra=extra, lint_waivers=TOP_LINT_WAIVERS
    )


def make_processor_core(cfg: ArrayConfig, **memories) -> ProcessorCore:
    """The top without its host link (command processor + scratchpads + array), for embedding and tests.

    ``memories`` are ``device_info``'s keyword arguments.
    """
    info = device_info(cfg, **memories)
    return ProcessorCore(SystolicArray(cfg), info, cfg.dtype_format, cfg.acc_format)


def make_accelerator_top(
    cfg: ArrayConfig,
    link: str = "uart",
    clk_freq: int = 12_000_000,
    baud: int = 115200,
    w_depth: int = 64,
    a_depth: int = 256,
    o_depth: int = 256,
    max_payload: int = 1024,
) -> AcceleratorTop:
    """The accelerator top for ``cfg``: a ``SystolicArray`` behind a UART or byte-stream host link.

    Parameters
    ----------
    cfg : ArrayConfig
        Dataflow ``"ws"`` or ``"is"``; any dtype.
    link : str
        ``"uart"`` (ports ``uart_rx``/``uart_tx``) or ``"stream"`` (``i_rx``/``o_tx``).
    clk_freq, baud : int
        Clock frequency (Hz) and UART baud (see :func:`hwgen.rtl.uart.uart_divisor` for the rates allowed).
    w_depth, a_depth, o_depth : int
        Scratchpad depths in words (``w_depth >= rows``).
    max_payload : int
        Largest command payload the link accepts (16..65535).

    Raises
    ------
    ConfigError
        On any parameter that is not allowed, naming it.
    """
    check_link(link, clk_freq, baud)
    info = device_info(cfg, w_depth, a_depth, o_depth, max_payload)
    return AcceleratorTop(SystolicArray(cfg), info, cfg.dtype_format, cfg.acc_format, link, clk_freq, baud)
