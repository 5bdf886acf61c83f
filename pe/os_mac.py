"""Output-stationary integer multiply-accumulate processing element."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.pe.mac import acc_add
from hwgen.rtl.format_shape import FormatShape

__all__ = ["OsMacPE"]


class OsMacPE(wiring.Component):
    """Output-stationary integer MAC cell; latency 1, one MAC per cycle.

    Keeps one output's running sum. Each cycle it passes ``a_in`` right and ``b_in``
    down (registered), together with the step flags that travel with ``a``: on a
    ``valid`` step it registers the product, and a cycle later ``acc = (0 if first else acc) + product`` (exact
    product; the sum wraps or saturates by ``acc.overflow``, see
    :func:`~hwgen.pe.mac.acc_add`), and on the ``last`` step it also captures that
    sum in ``result``, which stays until the next tile's last step, so the array can
    drain results while the next tile accumulates. Bit-exact with
    ``hwgen.emulation.ops.matmul_int`` (wrap) or ``hwgen.emulation.accumulate`` over
    k in order (saturate).

    Parameters
    ----------
    dtype : IntFormat
        Format of both operands.
    acc : IntFormat
        Accumulator format; wraps or saturates on overflow by ``acc.overflow``.

    Members
    -------
    a_in, b_in : In(FormatShape(dtype))
    valid_in, first_in, last_in : In(1)
        Step flags, aligned with ``a_in``.
    a_out, b_out : Out(FormatShape(dtype))
    valid_out, first_out, last_out : Out(1)
    result : Out(FormatShape(acc))

    Latency
    -------
    1 cycle for the pass-through registers; a step's product is added one cycle after
    it arrives, so ``result`` is valid two cycles after the last step.
    """

    def __init__(self, dtype: IntFormat, acc: IntFormat):
        self.dtype = dtype
        self.acc = acc
        operand, total = FormatShape(dtype), FormatShape(acc)
        super().__init__(
            {
                "a_in": In(operand),
                "b_in": In(operand),
                "valid_in": In(1),
                "first_in": In(1),
                "last_in": In(1),
                "a_out": Out(operand),
                "b_out": Out(operand),
                "valid_out": Out(1),
                "first_out": Out(1),
                "last_out": Out(1),
                "result": Out(total),
            }
        )

    def elaborate(self, platform):
        m = Module()
        acc = Signal(FormatShape(self.acc))
        # The product and its step flags are registered a cycle before the add, so the
        # multiplier and the accumulator's carry chain are separate timing paths.
        product = Signal(signed(2 * self.dtype.width))
        valid, first, last = Signal(), Signal(), Signal()
        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.b_out.eq(self.b_in),
            self.valid_out.eq(self.valid_in),
            self.first_out.eq(self.first_in),
            self.last_out.eq(self.last_in),
            product.eq(self.a_in * self.b_in),
            valid.eq(self.valid_in),
            first.eq(self.first_in),
            last.eq(self.last_in),
        ]
        # Assigning the wider sum to the accumulator-width register is the wrap-around;
        # a saturating accumulator clamps it (acc_add).
        running = Signal(FormatShape(self.acc))
        m.d.comb += running.eq(acc_add(self.acc, Mux(first, 0, acc), product))
        with m.If(valid):
            m.d.sync += acc.eq(running)
            with m.If(last):
                m.d.sync += self.result.eq(running)
        return m
