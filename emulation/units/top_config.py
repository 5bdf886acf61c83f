"""Typed config of the accelerator top, the device info it answers ``PING`` with, and its golden model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import DeviceInfo, Space
from hwgen.emulation.units.systolic_config import MAX_DIM, ArrayConfig
from hwgen.emulation.units.uart_rate import uart_divisor

__all__ = [
    "LINKS",
    "TOP_DATAFLOWS",
    "TopConfig",
    "check_link",
    "device_info",
    "golden_model",
    "memories_info",
    "top_name",
]

#: Dataflows the top supports: both share the stationary datapath of ``SystolicArray``.
TOP_DATAFLOWS = ("ws", "is")
#: Host links of the top: a UART (``uart_rx``/``uart_tx``) or a byte stream (``i_rx``/``o_tx``).
LINKS = ("uart", "stream")
_U16 = 0xFFFF


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
        check_link(self.link, self.clk_freq, self.uart_baud, "uart_baud")
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


def device_info(
    cfg: ArrayConfig,
    w_depth: int = TopConfig.w_depth,
    a_depth: int = TopConfig.a_depth,
    o_depth: int = TopConfig.o_depth,
    max_payload: int = TopConfig.max_payload,
) -> DeviceInfo:
    """The ``DeviceInfo`` (what ``PING`` returns) of the top built from ``cfg`` with these memories.

    Raises
    ------
    ConfigError
        If the dataflow is output-stationary, the accumulator saturates, or the memories
        are not allowed (see :func:`memories_info`).
    """
    if not isinstance(cfg, ArrayConfig):
        raise ConfigError("cfg", cfg, "an ArrayConfig")
    if cfg.dataflow not in TOP_DATAFLOWS:
        raise ConfigError("dataflow", cfg.dataflow, f"{', '.join(TOP_DATAFLOWS)} (the accelerator top)")
    if cfg.saturates:
        # RUN's ACCUMULATE and the host's K-tiling treat the O words as wrapping int32.
        raise ConfigError("acc", cfg.acc, "a wrapping or float accumulator (the accelerator top), e.g. int32")
    memories = {"w_depth": w_depth, "a_depth": a_depth, "o_depth": o_depth, "max_payload": max_payload}
    return memories_info(cfg.rows, cfg.cols, cfg.dtype_format, cfg.acc_format, cfg.dataflow, **memories)


def memories_info(
    rows: int,
    cols: int,
    value_format,
    acc_format,
    dataflow: str = "ws",
    w_depth: int = TopConfig.w_depth,
    a_depth: int = TopConfig.a_depth,
    o_depth: int = TopConfig.o_depth,
    max_payload: int = TopConfig.max_payload,
) -> DeviceInfo:
    """The ``DeviceInfo`` of a top of this shape, formats and memories (the checks :func:`device_info` applies).

    The host uses it for tops of any number format it emulates; :func:`device_info` for
    the configs the RTL builds.

    Parameters
    ----------
    rows, cols : int
        The array's shape (1..``MAX_DIM``).
    value_format, acc_format : IntFormat or FloatFormat
        Operand and accumulator formats (anything with an integer ``width`` and a string ``name``).
    dataflow : {"ws", "is"}
        The top's dataflow.
    w_depth, a_depth, o_depth, max_payload : int
        Scratchpad depths in words and the largest command payload (the top's defaults).

    Raises
    ------
    ConfigError
        If rows or cols are out of range, a format has no integer ``width`` and string
        ``name``, a depth or ``max_payload`` is out of range, ``w_depth < rows``, or a
        whole scratchpad would not fit one response (``depth * word bytes > 65535``).
    """
    for name, value in (("rows", rows), ("cols", cols)):
        _check_int(name, value, 1, MAX_DIM)
    for name, fmt in (("value_format", value_format), ("acc_format", acc_format)):
        if isinstance(getattr(fmt, "width", None), bool) or not isinstance(getattr(fmt, "width", None), int):
            raise ConfigError(name, fmt, "an IntFormat or FloatFormat")
        if not isinstance(getattr(fmt, "name", None), str):
            raise ConfigError(name, fmt, "an IntFormat or FloatFormat")
    if dataflow not in TOP_DATAFLOWS:
        raise ConfigError("dataflow", dataflow, f"{', '.join(TOP_DATAFLOWS)} (the accelerator top)")
    for name, value, low in (("w_depth", w_depth, rows), ("a_depth", a_depth, 1), ("o_depth", o_depth, 1)):
        _check_int(name, value, low, _U16)
    _check_int("max_payload", max_payload, 16, _U16)
    info = DeviceInfo(
        rows=rows,
        cols=cols,
        value_bytes=-(-value_format.width // 8),
        acc_bytes=-(-acc_format.width // 8),
        w_depth=w_depth,
        a_depth=a_depth,
        o_depth=o_depth,
        max_payload=max_payload,
        dtype=value_format.name,
        dataflow=dataflow,
    )
    for space in Space:
        size = info.depth(space) * info.word_bytes(space)
        if size > _U16:
            name = f"{space.name.lower()}_depth"
            limit = _U16 // info.word_bytes(space)
            raise ConfigError(name, info.depth(space), f"at most {limit} ({info.word_bytes(space)}-byte words)")
    return info


def golden_model(cfg: ArrayConfig, info: DeviceInfo) -> AcceleratorModel:
    """``AcceleratorModel`` of the top: same formats and multiplier, RUN cycles from ``run_cycles``."""
    return AcceleratorModel(info, cfg.dtype_format, cfg.acc_format, lambda m: run_cycles(info, m), cfg.multiplier)


def top_name(cfg: ArrayConfig, link: str) -> str:
    """Verilog module name of the top built from ``cfg`` with ``link``."""
    return f"accel_{link}_{cfg.top_name}"


def check_link(link: str, clk_freq: int, baud: int, baud_field: str = "baud") -> None:
    """Check a host link and its rate: ConfigError naming ``link``, ``clk_freq`` or ``baud_field`` otherwise."""
    if not isinstance(link, str) or link not in LINKS:
        raise ConfigError("link", link, ", ".join(LINKS))
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
