"""Weight-stationary integer multiply-accumulate processing element."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.rtl.format_shape import FormatShape

__all__ = ["MacPE"]


class MacPE(wiring.Component):
    """Weight-stationary integer MAC cell; latency 1, one MAC per enabled cycle.

    Holds one weight. On a cycle with ``en`` high it registers
    ``psum_out = psum_in + a_in * weight`` (the product is exact, the sum wraps to
    the accumulator width) and passes ``a_in`` on to ``a_out`` for its right
    neighbour. Bit-exact with ``hwgen.emulation.ops.matmul_int`` for a wrapping
    accumulator.

    Parameters
    ----------
    dtype : IntFormat
        Format of activations and weights.
    acc : IntFormat
        Accumulator format; wraps on overflow.

    Members
    -------
    en : In(1)
        Advance: register the MAC result and the passed-on activation.
    load : In(1)
        Store ``w_in`` as the stationary weight.
    w_in, a_in : In(FormatShape(dtype))
    psum_in : In(FormatShape(acc))
    a_out : Out(FormatShape(dtype))
    psum_out : Out(FormatShape(acc))

    Latency
    -------
    1 cycle (registered outputs).
    """

    def __init__(self, dtype: IntFormat, acc: IntFormat):
        self.dtype = dtype
        self.acc = acc
        super().__init__(
            {
                "en": In(1),
                "load": In(1),
                "w_in": In(FormatShape(dtype)),
                "a_in": In(FormatShape(dtype)),
                "psum_in": In(FormatShape(acc)),
                "a_out": Out(FormatShape(dtype)),
                "psum_out": Out(FormatShape(acc)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        weight = Signal(FormatShape(self.dtype))
        with m.If(self.load):
            m.d.sync += weight.eq(self.w_in)
        with m.If(self.en):
            # Assigning the wider sum to the accumulator-width register is the wrap-around.
            m.d.sync += [
                self.a_out.eq(self.a_in),
                self.psum_out.eq(self.psum_in + self.a_in * weight),
            ]
        return m
