"""Stream shell shared by the floating-point dot-product PEs: product register, fused accumulate, output."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat
from hwgen.emulation.fp_mac_model import check_acc_format, check_in_format
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import FpAdd, code_layout, unpack_code

__all__ = ["FpDotPE", "beat_layout"]


def beat_layout(in_fmt: FloatFormat) -> data.StructLayout:
    """Payload of ``i_in``: operands ``a``, ``b`` and the dot-product framing flags (LSB first)."""
    return data.StructLayout({"a": FormatShape(in_fmt), "b": FormatShape(in_fmt), "first": 1, "last": 1})


class FpDotPE(wiring.Component):
    """A dot-product PE: ``acc = RNE_acc(acc + a * b)`` per beat, one result per ``last`` beat.

    Subclasses supply the multiplier (:meth:`multiplier`): a component with
    ``a``, ``b`` inputs and an unpacked ``product`` output
    (:func:`hwgen.rtl.fp_add.unpacked_layout`; its ``exp_offset`` and
    ``sig_normalized`` reach the adder through ``product.shape()``). The product
    is registered, then added to the accumulator by :class:`~hwgen.rtl.fp_add.FpAdd`
    with a single rounding (fused multiply-add). A beat with ``first`` adds to +0
    instead of the accumulator; a beat with ``last`` sends the new value on
    ``o_acc``. A beat with both is a length-1 dot product.

    Golden model: :func:`hwgen.emulation.fp_mac_model.fp_dot` (sequential K,
    accumulator starting at +0, canonical NaN ``acc_fmt.nan_code``).

    Members
    -------
    i_in : In(stream.Signature(beat_layout(in_fmt)))
    o_acc : Out(stream.Signature(FormatShape(acc_fmt)))

    Latency
    -------
    2 cycles from the handshake of a ``last`` beat to ``o_acc.valid``.
    Throughput: one MAC per cycle; the whole pipeline stalls only while a
    finished result waits on ``o_acc`` (``i_in.ready = ~o_acc.valid | o_acc.ready``).
    """

    def __init__(self, in_fmt: FloatFormat, acc_fmt: FloatFormat):
        check_in_format(in_fmt)
        check_acc_format(acc_fmt)
        self.in_fmt = in_fmt
        self.acc_fmt = acc_fmt
        super().__init__(
            {
                "i_in": In(stream.Signature(beat_layout(in_fmt))),
                "o_acc": Out(stream.Signature(FormatShape(acc_fmt))),
            }
        )

    def multiplier(self) -> wiring.Component:
        """A new multiplier component (``a``, ``b`` in; unpacked ``product`` out)."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self.multiplier()
        acc_layout = code_layout(self.acc_fmt)
        m.submodules.add = add = FpAdd(self.acc_fmt, acc_layout, mul.product.shape())
        beat = self.i_in.payload
        en = ~self.o_acc.valid | self.o_acc.ready
        p_valid, p_first, p_last = Signal(), Signal(), Signal()
        product = Signal(mul.product.shape())
        acc = Signal(self.acc_fmt.width)
        acc_in = Signal(self.acc_fmt.width)
        m.d.comb += [
            self.i_in.ready.eq(en),
            mul.a.eq(beat.a),
            mul.b.eq(beat.b),
            acc_in.eq(0),  # +0 starts every dot product
            add.y.eq(product),
        ]
        with m.If(~p_first):
            m.d.comb += acc_in.eq(acc)
        m.d.comb += add.x.eq(unpack_code(m, self.acc_fmt, acc_in))
        with m.If(en):
            m.d.sync += [
                p_valid.eq(self.i_in.valid),
                p_first.eq(beat.first),
                p_last.eq(beat.last),
                product.eq(mul.product),
                self.o_acc.valid.eq(p_valid & p_last),
            ]
            with m.If(p_valid):
                m.d.sync += acc.eq(add.result)
                with m.If(p_last):
                    m.d.sync += self.o_acc.payload.eq(add.result)
        return m
