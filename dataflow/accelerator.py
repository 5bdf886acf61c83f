"""Build the accelerator top (host link, command processor, scratchpads, systolic array) from an ArrayConfig."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.systolic import SystolicArray
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import DeviceInfo, Space
from hwgen.rtl.accelerator_top import LINK_PORTS, AcceleratorTop, ProcessorCore
from hwgen.rtl.component_build import BuildResult, build_component
from hwgen.rtl.uart import uart_divisor
from hwgen.rtl.verilog_writer import FSM_LINT_WAIVERS

__all__ = [
    "TOP_DATAFLOWS",
    "TOP_LINT_WAIVERS",
    "TopConfig",
    "build_top",
    "device_info",
    "golden_model",
    "make_accelerator_top",
    "make_processor_core",
    "top_name",
]

#: Dataflows the top supports: both share the stationary datapath of ``SystolicArray``.
TOP_DATAFLOWS = ("ws", "is")
_U16 = 0xFFFF
#: Verilator config shipped with the top (its link and processor are state machines).
TOP_LINT_WAIVERS = FSM_LINT_WAIVERS


@dataclass(frozen=True)
class TopConfig:
    """Configuration of the accelerator top (``hwgen build --arch top``), validated at construction.

    The array fields are ``ArrayConfig``'s; the rest are ``make_accelerator_top``'s
    parameters (``uart_baud`` is its ``baud``: ``hwgen fpga build`` has a ``--baud`` of
    its own). ConfigError names any field that is not allowed.
    """

    rows: int = 4
    cols: int = 4
    dataflow: str = "ws"
    dtype: str = "int8"
    acc: str = "int32"
    mul: str = "exact"
    link: str = "uart"
    clk_freq: int = 12_000_000
    uart_baud: int = 115200
    w_depth: int = 64
    a_depth: int = 256
    o_depth: int = 256
    max_payload: int = 1024
    arch: str = "top"

    def __post_init__(self):
        if self.arch != "top":
            raise ConfigError("arch", self.arch, "top")
        _check_link(self.link, self.clk_freq, self.uart_baud, "uart_baud")
        device_info(self.array, **self.memories)

    @property
    def array(self) -> ArrayConfig:
        """The compute array's config."""
        return ArrayConfig(self.rows, self.cols, self.dataflow, self.dtype, self.acc, mul=self.mul)

    @property
    def memories(self) -> dict:
        """``device_info``'s keyword arguments."""
        names = ("w_depth", "a_depth", "o_depth", "max_payload")
        return {name: getattr(self, name) for name in names}

    @property
    def top_name(self) -> str:
        """Verilog module name."""
        return top_name(self.array, self.link)

    def to_dict(self) -> dict:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


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


def device_info(
    cfg: ArrayConfig, w_depth: int = 64, a_depth: int = 256, o_depth: int = 256, max_payload: int = 1024
) -> DeviceInfo:
    """The ``DeviceInfo`` (what ``PING`` returns) of the top built from ``cfg`` with these memories.

    Raises
    ------
    ConfigError
        If the dataflow is output-stationary, the accumulator saturates, a depth or ``max_payload`` is out of
        range, ``w_depth < rows``, or a whole scratchpad would not fit one response
        (``depth * word bytes > 65535``).
    """
    if not isinstance(cfg, ArrayConfig):
        raise ConfigError("cfg", cfg, "an ArrayConfig")
    if cfg.dataflow not in TOP_DATAFLOWS:
        raise ConfigError("dataflow", cfg.dataflow, f"{', '.join(TOP_DATAFLOWS)} (the accelerator top)")
    if cfg.saturates:
        # RUN's ACCUMULATE and the host's K-tiling treat the O words as wrapping int32.
        raise ConfigError("acc", cfg.acc, "a wrapping or float accumulator (the accelerator top), e.g. int32")
    for name, value, low in (("w_depth", w_depth, cfg.rows), ("a_depth", a_depth, 1), ("o_depth", o_depth, 1)):
        _check_int(name, value, low, _U16)
    _check_int("max_payload", max_payload, 16, _U16)
    info = DeviceInfo(
        rows=cfg.rows,
        cols=cfg.cols,
        value_bytes=-(-cfg.dtype_format.width // 8),
        acc_bytes=-(-cfg.acc_format.width // 8),
        w_depth=w_depth,
        a_depth=a_depth,
        o_depth=o_depth,
        max_payload=max_payload,
        dtype=cfg.dtype,
        dataflow=cfg.dataflow,
    )
    for space in Space:
        size = info.depth(space) * info.word_bytes(space)
        if size > _U16:
            name = f"{space.name.lower()}_depth"
            limit = _U16 // info.word_bytes(space)
            raise ConfigError(name, info.depth(space), f"at most {limit} ({info.word_bytes(space)}-byte words)")
    return info


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
    _check_link(link, clk_freq, baud)
    info = device_info(cfg, w_depth, a_depth, o_depth, max_payload)
    return AcceleratorTop(SystolicArray(cfg), info, cfg.dtype_format, cfg.acc_format, link, clk_freq, baud)


def golden_model(cfg: ArrayConfig, info: DeviceInfo) -> AcceleratorModel:
    """``AcceleratorModel`` of the top: same formats and multiplier, RUN cycles from ``run_cycles``."""
    return AcceleratorModel(info, cfg.dtype_format, cfg.acc_format, lambda m: run_cycles(info, m), cfg.multiplier)


def top_name(cfg: ArrayConfig, link: str) -> str:
    """Verilog module name of the top built from ``cfg`` with ``link``."""
    return f"accel_{link}_{cfg.top_name}"


def _check_link(link: str, clk_freq: int, baud: int, baud_field: str = "baud") -> None:
    if not isinstance(link, str) or link not in LINK_PORTS:
        raise ConfigError("link", link, ", ".join(LINK_PORTS))
    _check_int("clk_freq", clk_freq, 1, None)
    if link != "uart":
        _check_int(baud_field, baud, 1, None)  # unused by a stream link, but still a rate
        return
    try:
        uart_divisor(clk_freq, baud)  # the one rule for rates: range, divisor >= 4, within 2 % of the asked rate
    except ConfigError as exc:
        raise ConfigError(baud_field if exc.field == "baud" else exc.field, exc.value, exc.allowed) from None


def _check_int(name: str, value, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise ConfigError(name, value, f"an integer from {low} to {high}" if high else f"an integer >= {low}")
