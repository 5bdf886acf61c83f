"""8N1 UART receiver and transmitter with a fixed clock divisor (clock cycles per bit)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.uart_rate import MIN_DIVISOR, uart_divisor

__all__ = ["MIN_DIVISOR", "UartRx", "UartTx", "uart_divisor"]


def _check_divisor(component, divisor) -> int:
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < MIN_DIVISOR:
        component._MustUse__silence = True  # a rejected component is not one someone forgot to use
        raise ConfigError("divisor", divisor, f"an integer >= {MIN_DIVISOR} (clock cycles per bit)")
    return divisor


class UartRx(wiring.Component):
    """8N1 receiver: 2-flop synchroniser, start-bit glitch check, one sample in the middle of each bit.

    A falling edge starts a byte; the line is sampled again ``divisor // 2`` cycles later
    and, if high by then, the edge is taken for a glitch. Each data bit (LSB first) and
    the stop bit are then sampled one bit time apart. A low stop bit is a framing error:
    the byte is discarded and the receiver waits for the line to go idle (high).
    With the sample point in mid-bit it tolerates a sender clock ±3 % off for
    ``divisor >= 6``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, >= 4.

    Members
    -------
    rx : In(1)
        Serial line, idle high; asynchronous to the clock.
    o_data : Out(stream.Signature(8, always_ready=True))
        One beat per byte received (valid for one cycle; a UART cannot wait).
    frame_error : Out(1)
        One-cycle pulse when a byte's stop bit was low.

    Latency
    -------
    ``o_data.valid`` rises ``3 + divisor // 2`` cycles after the stop bit begins on ``rx``
    (synchroniser 2, half a bit to the sample point, output register 1).
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({
            "rx": In(1, init=1),
            "o_data": Out(stream.Signature(8, always_ready=True)),
            "frame_error": Out(1),
        })  # fmt: skip

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(8))
        shreg = Signal(8)
        m.d.sync += [self.o_data.valid.eq(0), self.frame_error.eq(0)]
        m.d.comb += self.o_data.payload.eq(shreg)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(7)]
                    m.next = "DATA"
                    with m.If(line):  # high again at mid-bit: a glitch, not a start bit
                        m.next = "IDLE"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), shreg.eq(Cat(shreg[1:], line)), bits.eq(bits - 1)]
                    with m.If(bits == 0):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += self.o_data.valid.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: start bit, 8 data bits LSB first, stop bit, each ``divisor`` cycles.

    Back-to-back bytes leave no idle time between one stop bit and the next start bit.
    The line comes straight from a flip-flop (no glitches on the pin).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, >= 4.

    Members
    -------
    i_data : In(stream.Signature(8))
        Bytes to send; accepted when the previous byte's stop bit is in its last cycle.
    tx : Out(1)
        Serial line, idle high.

    Latency
    -------
    The start bit begins the cycle after a byte is accepted; throughput one byte per
    ``10 * divisor`` cycles.
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({"i_data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        # Shifted right with ones behind: after the stop bit the line stays idle-high by itself.
        shreg = Signal(10, init=0x3FF)
        timer = Signal(range(self.divisor))
        bits = Signal(range(10))
        busy = Signal()
        last = busy & (timer == 0) & (bits == 0)
        m.d.comb += [self.i_data.ready.eq(~busy | last), self.tx.eq(shreg[0])]
        with m.If(self.i_data.valid & self.i_data.ready):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.i_data.payload, Const(1, 1))),
                busy.eq(1),
                timer.eq(self.divisor - 1),
                bits.eq(9),
            ]
        with m.Elif(busy):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Elif(bits != 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += busy.eq(0)
        return m
