"""The accelerator top's host link: command frames in, response frames out, over a UART or a byte stream.

Implements the ``HostLink`` contract of the accelerator top (frames of ``hwgen.emulation.isa``)
with no deviation.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.errors import ConfigError
from hwgen.rtl.frame_receiver import COUNTER_MEMBERS, FrameReceiver, check_max_payload, command_members
from hwgen.rtl.frame_sender import RESPONSE_HEAD, FrameSender
from hwgen.rtl.uart import UartRx, UartTx, uart_divisor

__all__ = ["LINKS", "RESPONSE_HEAD", "STREAM_TIMEOUT_CYCLES", "UART_TIMEOUT_BYTES", "HostLink"]

#: Link kinds: a pin-level 8N1 UART, or a byte stream for embedding in a larger design.
LINKS = ("uart", "stream")
#: Default inter-byte timeout of the stream link, in clock cycles.
STREAM_TIMEOUT_CYCLES = 4096
#: Default inter-byte timeout of the UART link, in byte times (10 bits each).
UART_TIMEOUT_BYTES = 64
# Below two byte times a UART frame sent at full rate would time out between its own bytes.
_MIN_UART_TIMEOUT_BYTES = 2

_COMMAND_OUT = ("cmd_valid", "cmd_seq", "cmd_len", "cmd_rd_data", "good_frames", "dropped_frames")
_COMMAND_IN = ("cmd_rd_addr", "cmd_done")


class HostLink(wiring.Component):
    """Parses command frames into a frame buffer and frames the processor's responses.

    Protocol: stop-and-wait frames of ``hwgen.emulation.isa`` (``encode_command`` /
    ``encode_response`` are the golden model). A good frame (CRC right, ``len <=
    max_payload``) raises ``cmd_valid`` until ``cmd_done``; the processor reads its payload
    through a synchronous read port. Frames with a bad CRC or ``len``, and frames stalled
    for ``timeout_cycles`` between bytes, are dropped, counted, and the parser hunts for
    the next ``0xA5``. Bytes that arrive while a frame waits are accepted and discarded.
    The response path is independent, so a response may start before ``cmd_done``.

    Parameters
    ----------
    max_payload : int
        Frame-buffer bytes (one ``Memory``, block RAM), 1..65535.
    link : str
        ``"uart"`` (pins ``uart_rx``/``uart_tx``) or ``"stream"`` (``i_rx``/``o_tx``).
    clk_freq : int
        Clock in Hz (UART only).
    baud : int
        Bits per second (UART only); ``round(clk_freq / baud)`` must be >= 4.
    timeout_cycles : int, optional
        Inter-byte timeout in cycles; default 64 byte times for UART (at least 2 allowed),
        4096 cycles for the stream link.

    Members
    -------
    uart_rx : In(1)
        ``link="uart"``: serial input, idle high, 8N1, LSB first.
    uart_tx : Out(1)
        ``link="uart"``: serial output.
    i_rx : In(stream.Signature(8))
        ``link="stream"``: command bytes; ``ready`` is always high.
    o_tx : Out(stream.Signature(8))
        ``link="stream"``: response bytes; honours ``ready``.
    cmd_valid, cmd_seq, cmd_len, cmd_rd_addr, cmd_rd_data, cmd_done
        Command side, see :class:`~hwgen.rtl.frame_receiver.FrameReceiver`.
    i_rsp_head : In(stream.Signature(RESPONSE_HEAD))
    i_rsp_data : In(stream.Signature(8))
        Response side, see :class:`~hwgen.rtl.frame_sender.FrameSender`.
    good_frames, dropped_frames : Out(32)

    Latency
    -------
    Stream link: ``cmd_valid`` rises the cycle after the last CRC byte is accepted; a
    response head accepted in cycle t puts the sync byte on ``o_tx`` in cycle t+1. UART:
    add the UART's bit times (``UartRx``: ``3 + divisor // 2`` cycles after the last stop
    bit begins; ``UartTx``: start bit the cycle after a byte is accepted).

    Raises
    ------
    ConfigError
        For an unknown ``link``, a ``max_payload`` outside 1..65535, a divisor below 4 or a
        ``timeout_cycles`` below the minimum.
    """

    def __init__(
        self,
        max_payload: int = 1024,
        link: str = "uart",
        clk_freq: int = 12_000_000,
        baud: int = 115_200,
        timeout_cycles: int | None = None,
    ):
        try:
            if link not in LINKS:
                raise ConfigError("link", link, " or ".join(repr(k) for k in LINKS))
            self.max_payload = check_max_payload(max_payload)
            self.link = link
            self.divisor = uart_divisor(clk_freq, baud) if link == "uart" else None
            self.timeout_cycles = self._timeout(timeout_cycles)
        except ConfigError:
            self._MustUse__silence = True  # a rejected component is not one someone forgot to use
            raise
        if link == "uart":
            outside = {"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1)}
        else:
            outside = {"i_rx": In(stream.Signature(8)), "o_tx": Out(stream.Signature(8))}
        super().__init__({
            **outside,
            **command_members(max_payload),
            "i_rsp_head": In(stream.Signature(RESPONSE_HEAD)),
            "i_rsp_data": In(stream.Signature(8)),
            **COUNTER_MEMBERS,
        })  # fmt: skip

    def _timeout(self, timeout_cycles) -> int:
        if self.link == "uart":
            byte_time = 10 * self.divisor
            least, default = _MIN_UART_TIMEOUT_BYTES * byte_time, UART_TIMEOUT_BYTES * byte_time
            allowed = f"an integer >= {least} (two byte times at divisor {self.divisor}) or None"
        else:
            least, default, allowed = 1, STREAM_TIMEOUT_CYCLES, "an integer >= 1 or None"
        if timeout_cycles is None:
            return default
        if not isinstance(timeout_cycles, int) or isinstance(timeout_cycles, bool) or timeout_cycles < least:
            raise ConfigError("timeout_cycles", timeout_cycles, allowed)
        return timeout_cycles

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = FrameReceiver(self.max_payload, self.timeout_cycles)
        m.submodules.sender = sender = FrameSender()
        m.d.comb += [getattr(self, name).eq(getattr(receiver, name)) for name in _COMMAND_OUT]
        m.d.comb += [getattr(receiver, name).eq(getattr(self, name)) for name in _COMMAND_IN]
        wiring.connect(m, wiring.flipped(self.i_rsp_head), sender.i_rsp_head)
        wiring.connect(m, wiring.flipped(self.i_rsp_data), sender.i_rsp_data)
        if self.link == "stream":
            wiring.connect(m, wiring.flipped(self.i_rx), receiver.i_rx)
            wiring.connect(m, sender.o_tx, wiring.flipped(self.o_tx))
            return m
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.d.comb += [
            uart_rx.rx.eq(self.uart_rx),
            self.uart_tx.eq(uart_tx.tx),
            # The UART cannot wait; the receiver is always ready, so no byte is lost here.
            receiver.i_rx.valid.eq(uart_rx.o_data.valid),
            receiver.i_rx.payload.eq(uart_rx.o_data.payload),
        ]
        wiring.connect(m, sender.o_tx, uart_tx.i_data)
        return m
