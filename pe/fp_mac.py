"""Floating-point MAC PE: exact FP8/bf16 product, fused accumulate into a float register."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat
from hwgen.emulation.fp_mac_model import check_in_format
from hwgen.pe.fp_dot import FpDotPE
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import code_layout, exp_offset, unpack_code, unpacked_layout

__all__ = ["FpMacPE", "FpMul"]


class FpMul(wiring.Component):
    """Exact product of two codes of ``fmt`` as an unpacked float; combinational.

    ``product.sig`` is the ``2 * (man_bits + 1)``-bit integer product of the
    significands (never rounded), ``product.exp`` the sum of the two biased
    exponent fields (1 for zero and subnormals); the two biases are the layout's
    ``exp_offset = -2 * (bias + man_bits)``, which the consumer (:class:`~hwgen.rtl.fp_add.FpAdd`)
    folds into a constant it adds anyway, so the unit holds no exponent constant.
    NaN operands and ``Inf * 0`` give ``nan``; an Inf operand sets ``inf`` (``nan`` wins).
    Golden model: :func:`hwgen.emulation.fp_mac_model.exact_products`.

    Members
    -------
    a, b : In(FormatShape(fmt))
    product : Out(unpacked_layout(2 * (fmt.man_bits + 1), exp_bits, -2 * (fmt.bias + fmt.man_bits)))
        Value ``(-1)**sign * sig * 2**(exp + exp_offset)`` unless ``nan`` or ``inf``.

    Latency
    -------
    0 cycles (combinational).
    """

    def __init__(self, fmt: FloatFormat):
        check_in_format(fmt)
        self.fmt = fmt
        op = code_layout(fmt)
        layout = unpacked_layout(2 * op["sig"].width, op["exp"].width + 1, 2 * exp_offset(op))
        super().__init__({"a": In(FormatShape(fmt)), "b": In(FormatShape(fmt)), "product": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        a = unpack_code(m, self.fmt, self.a.as_value())
        b = unpack_code(m, self.fmt, self.b.as_value())
        a_zero, b_zero = ~a.sig.any(), ~b.sig.any()
        nan = a.nan | b.nan | (a.inf & b_zero) | (a_zero & b.inf)
        m.d.comb += [
            self.product.sig.eq(a.sig * b.sig),
            self.product.exp.eq(a.exp + b.exp),
            self.product.sign.eq(a.sign ^ b.sign),
            self.product.nan.eq(nan),
            self.product.inf.eq(a.inf | b.inf),
        ]
        return m


class FpMacPE(FpDotPE):
    """Floating-point dot-product PE with an exact multiplier: ``acc = RNE_acc(acc + a * b)``.

    FP8 (e4m3fn, e5m2) or bf16 operands; the product is exact and added to the
    accumulator with one rounding (fused multiply-add), so for FP8 into float32
    (where every product is exact in float32) it equals a multiply followed by
    an IEEE float32 add.

    Golden model: ``hwgen.emulation.fp_mac_model.fp_dot(a, b, in_fmt, acc_fmt, mul="exact")``.

    Parameters
    ----------
    in_fmt : FloatFormat
        Operand format (``"ieee"`` or ``"fn"`` specials, subnormals kept).
    acc_fmt : FloatFormat
        Accumulator format: IEEE-style, round to nearest even (float32, bf16, fp16, ...).

    Raises
    ------
    FormatError
        If a format is not supported; the message names it.

    Members
    -------
    i_in : In(stream.Signature(beat_layout(in_fmt)))
        Beats ``(a, b, first, last)``.
    o_acc : Out(stream.Signature(FormatShape(acc_fmt)))
        The accumulator after each ``last`` beat.

    Latency
    -------
    2 cycles from the ``last`` beat to ``o_acc.valid``; one MAC per cycle.
    """

    def multiplier(self) -> FpMul:
        return FpMul(self.in_fmt)
