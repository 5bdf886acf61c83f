"""The accelerator top: host link, command processor, scratchpads and a compute array, wired together."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from hwgen.emulation.isa import DeviceInfo
from hwgen.rtl.command_processor import CommandProcessor, response_head_layout

__all__ = ["LINK_PORTS", "AcceleratorTop", "ProcessorCore"]

#: Command-side members of ``HostLink`` the processor reads, and the ones it drives.
_CMD_IN = ("cmd_valid", "cmd_seq", "cmd_len", "cmd_rd_data", "good_frames", "dropped_frames")
_CMD_OUT = ("cmd_rd_addr", "cmd_done")
#: The links ``AcceleratorTop`` supports and their outside-world members.
LINK_PORTS = {"uart": ("uart_rx", "uart_tx"), "stream": ("i_rx", "o_tx")}


def _held_and_streamed(info: DeviceInfo) -> tuple[str, str]:
    """The array port that holds W words and the one that streams A words."""
    return ("i_act", "i_weight") if info.dataflow == "is" else ("i_weight", "i_act")


class ProcessorCore(wiring.Component):
    """``CommandProcessor`` (with its scratchpads) driving a compute array: the top without its link.

    The array's held port gets the W words and its streamed port the A words (for an
    input-stationary array the held port is ``i_act``: the same product, roles swapped).

    Parameters
    ----------
    array : wiring.Component
        A ``SystolicArray``-like component with ``i_weight``, ``i_act`` and ``o_out``.
    info : DeviceInfo
    value_format, acc_format : IntFormat or FloatFormat

    Members
    -------
    The command side of ``HostLink`` seen from the processor: ``cmd_valid``,
    ``cmd_seq``, ``cmd_len``, ``cmd_rd_addr``, ``cmd_rd_data``, ``cmd_done``,
    ``o_rsp_head``, ``o_rsp_data``, ``good_frames``, ``dropped_frames``.

    Latency
    -------
    See ``CommandProcessor``.
    """

    def __init__(self, array: wiring.Component, info: DeviceInfo, value_format, acc_format):
        self.array, self.info = array, info
        self.processor = CommandProcessor(info, value_format, acc_format)
        members = {name: self.processor.signature.members[name] for name in (*_CMD_IN, *_CMD_OUT)}
        members["o_rsp_head"] = Out(stream.Signature(response_head_layout()))
        members["o_rsp_data"] = Out(stream.Signature(8))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.processor = proc = self.processor
        m.submodules.array = array = self.array
        for name in _CMD_IN:
            m.d.comb += getattr(proc, name).eq(getattr(self, name))
        for name in _CMD_OUT:
            m.d.comb += getattr(self, name).eq(getattr(proc, name))
        wiring.connect(m, proc.o_rsp_head, wiring.flipped(self.o_rsp_head))
        wiring.connect(m, proc.o_rsp_data, wiring.flipped(self.o_rsp_data))
        held, streamed = (getattr(array, name) for name in _held_and_streamed(self.info))
        m.d.comb += [
            held.valid.eq(proc.o_stationary.valid),
            held.payload.as_value().eq(proc.o_stationary.payload),
            proc.o_stationary.ready.eq(held.ready),
            streamed.valid.eq(proc.o_streamed.valid),
            streamed.payload.as_value().eq(proc.o_streamed.payload.as_value()),
            proc.o_streamed.ready.eq(streamed.ready),
            proc.i_result.valid.eq(array.o_out.valid),
            proc.i_result.payload.as_value().eq(array.o_out.payload.as_value()),
            array.o_out.ready.eq(proc.i_result.ready),
        ]
        return m


class AcceleratorTop(wiring.Component):
    """``HostLink`` + ``CommandProcessor`` + scratchpads + a compute array; golden model ``AcceleratorModel``.

    Its only ports are the link's outside world, so a board wrapper connects UART pins
    (``link="uart"``) and a larger design connects byte streams (``link="stream"``).

    Parameters
    ----------
    array : wiring.Component
        An elaborated-on-demand array with ``i_weight``, ``i_act`` and ``o_out``
        (``hwgen.dataflow.systolic.SystolicArray``); ``rtl`` does not import ``dataflow``.
    info : DeviceInfo
        Must describe ``array`` (``PING`` returns it).
    value_format, acc_format : IntFormat or FloatFormat
    link : str
        ``"uart"`` or ``"stream"``.
    clk_freq, baud : int
        UART timing (ignored by the stream link).

    Members
    -------
    uart_rx : In(1), uart_tx : Out(1)
        With ``link="uart"``.
    i_rx : In(stream.Signature(8)), o_tx : Out(stream.Signature(8))
        With ``link="stream"``.

    Latency
    -------
    ``RUN`` cycles: ``hwgen.emulation.accelerator_timing.run_cycles``; the link adds
    its framing time around each command.
    """

    def __init__(
        self,
        array: wiring.Component,
        info: DeviceInfo,
        value_format,
        acc_format,
        link: str = "uart",
        clk_freq: int = 12_000_000,
        baud: int = 115200,
    ):
        from hwgen.rtl.host_link import HostLink

        if link not in LINK_PORTS:
            raise ValueError(f"link={link!r} is not allowed; allowed: {', '.join(LINK_PORTS)}")
        self.info, self.link_kind = info, link
        self.link = HostLink(max_payload=info.max_payload, link=link, clk_freq=clk_freq, baud=baud)
        self.core = ProcessorCore(array, info, value_format, acc_format)
        super().__init__({name: self.link.signature.members[name] for name in LINK_PORTS[link]})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = self.link
        m.submodules.core = core = self.core
        if self.link_kind == "uart":
            m.d.comb += [link.uart_rx.eq(self.uart_rx), self.uart_tx.eq(link.uart_tx)]
        else:
            wiring.connect(m, wiring.flipped(self.i_rx), link.i_rx)
            wiring.connect(m, link.o_tx, wiring.flipped(self.o_tx))
        for name in _CMD_IN:
            m.d.comb += getattr(core, name).eq(getattr(link, name))
        for name in _CMD_OUT:
            m.d.comb += getattr(link, name).eq(getattr(core, name))
        wiring.connect(m, core.o_rsp_head, link.i_rsp_head)
        wiring.connect(m, core.o_rsp_data, link.i_rsp_data)
        return m
