"""Floating-point multiply-accumulate processing elements of the systolic arrays (stationary operand or output)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat, LMul
from hwgen.emulation.fp_mac_model import check_acc_format, check_in_format
from hwgen.pe.fp_mac import FpMul
from hwgen.pe.lmul_pe import LMulUnit
from hwgen.pe.mac import stationary_members, weight_banks
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import FpAdd, code_layout, unpack_code

__all__ = ["SystolicFloatPE", "SystolicFloatOsPE"]


class SystolicFloatPE(wiring.Component):
    """Weight-stationary float MAC cell: ``psum_out = RNE_acc(psum_in + a * w)``; one MAC per enabled cycle.

    The ports and pipeline of :class:`~hwgen.pe.mac.MacPE`: two weight banks
    (double buffering), the bank bit travelling with the activation, a registered
    ``a_out``, and three stages under ``en``: operands (``a_in``, ``w[bank_in]``),
    the unpacked product (:class:`~hwgen.pe.fp_mac.FpMul`, exact, or
    :class:`~hwgen.pe.lmul_pe.LMulUnit`, the integer-add L-Mul), then the fused
    add :class:`~hwgen.rtl.fp_add.FpAdd` of ``psum_in`` and the product with one
    round-to-nearest-even (subnormals kept, overflow to ±Inf, every NaN the
    canonical ``acc.nan_code``). A column of these cells is one step of
    ``hwgen.emulation.fp_mac_model.fp_dot`` per row, row 0 adding to +0.

    Parameters
    ----------
    dtype : FloatFormat
        Format of activations and weights (e4m3fn, e5m2, bf16, ...).
    acc : FloatFormat
        Accumulator format (float32, ...; see ``check_acc_format``).
    mul : "exact" or LMul
        The multiplier; an ``LMul`` must be of ``dtype`` and have hardware policies.

    Raises
    ------
    FormatError
        If a format is not supported.
    ValueError
        If ``mul`` is neither ``"exact"`` nor an ``LMul`` with hardware policies.

    Members
    -------
    en, load, load_bank, bank_in : In(1)
    bank_out : Out(1)
    w_in, a_in : In(FormatShape(dtype))
    psum_in : In(FormatShape(acc))
    a_out : Out(FormatShape(dtype))
    psum_out : Out(FormatShape(acc))

    Latency
    -------
    As ``MacPE``: ``a_out`` 1 cycle; an activation's product is added 3 cycles
    after it arrives (operands, multiply, add) to the ``psum_in`` of that cycle.
    """

    def __init__(self, dtype: FloatFormat, acc: FloatFormat, mul="exact"):
        _check(self, dtype, acc, mul)
        self.dtype, self.acc, self.mul = dtype, acc, mul
        super().__init__(stationary_members(dtype, acc))

    def elaborate(self, platform):
        m = Module()
        banks = weight_banks(m, self)
        m.submodules.mul = mul = _multiplier(self.dtype, self.mul)
        m.submodules.add = add = FpAdd(self.acc, code_layout(self.acc), mul.product.shape())
        # Registers around the multiplier as in MacPE: the float add is the third stage.
        op_a, op_w = Signal(self.dtype.width), Signal(self.dtype.width)
        product = Signal(mul.product.shape())
        m.d.comb += [
            mul.a.eq(op_a),
            mul.b.eq(op_w),
            add.x.eq(unpack_code(m, self.acc, self.psum_in.as_value())),
            add.y.eq(product),
        ]
        with m.If(self.en):
            m.d.sync += [
                self.a_out.eq(self.a_in.as_value()),
                self.bank_out.eq(self.bank_in),
                op_a.eq(self.a_in.as_value()),
                op_w.eq(Mux(self.bank_in, banks[1], banks[0])),
                product.eq(mul.product),
                self.psum_out.eq(add.result.as_value()),
            ]
        return m


class SystolicFloatOsPE(wiring.Component):
    """Output-stationary float MAC cell: ``acc = RNE_acc((+0 if first else acc) + a * b)``; one MAC per cycle.

    The ports and pipeline of :class:`~hwgen.pe.os_mac.OsMacPE`: ``a`` passes right,
    ``b`` down and the step flags with ``a`` (all registered); on a ``valid`` step the
    unpacked product (exact or L-Mul) is registered, and a cycle later
    :class:`~hwgen.rtl.fp_add.FpAdd` adds it to the running sum (+0 on a ``first``
    step) with one rounding; on the ``last`` step the sum is also captured in
    ``result``. Bit-exact with ``hwgen.emulation.fp_mac_model.fp_dot``.

    Parameters
    ----------
    dtype : FloatFormat
    acc : FloatFormat
    mul : "exact" or LMul

    Members
    -------
    a_in, b_in : In(FormatShape(dtype))
    valid_in, first_in, last_in : In(1)
    a_out, b_out : Out(FormatShape(dtype))
    valid_out, first_out, last_out : Out(1)
    result : Out(FormatShape(acc))

    Latency
    -------
    As ``OsMacPE``: 1 cycle for the pass-through registers; ``result`` is valid two
    cycles after the last step.
    """

    def __init__(self, dtype: FloatFormat, acc: FloatFormat, mul="exact"):
        _check(self, dtype, acc, mul)
        self.dtype, self.acc, self.mul = dtype, acc, mul
        operand = FormatShape(dtype)
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
                "result": Out(FormatShape(acc)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = _multiplier(self.dtype, self.mul)
        m.submodules.add = add = FpAdd(self.acc, code_layout(self.acc), mul.product.shape())
        acc = Signal(self.acc.width)
        product = Signal(mul.product.shape())
        valid, first, last = Signal(), Signal(), Signal()
        m.d.comb += [
            mul.a.eq(self.a_in.as_value()),
            mul.b.eq(self.b_in.as_value()),
            add.x.eq(unpack_code(m, self.acc, Mux(first, 0, acc))),  # +0 starts every dot product
            add.y.eq(product),
        ]
        m.d.sync += [
            self.a_out.eq(self.a_in.as_value()),
            self.b_out.eq(self.b_in.as_value()),
            self.valid_out.eq(self.valid_in),
            self.first_out.eq(self.first_in),
            self.last_out.eq(self.last_in),
            product.eq(mul.product),
            valid.eq(self.valid_in),
            first.eq(self.first_in),
            last.eq(self.last_in),
        ]
        with m.If(valid):
            m.d.sync += acc.eq(add.result.as_value())
            with m.If(last):
                m.d.sync += self.result.eq(add.result.as_value())
        return m


def _check(pe: wiring.Component, dtype: FloatFormat, acc: FloatFormat, mul) -> None:
    try:
        check_in_format(dtype)
        check_acc_format(acc)
        if not (mul == "exact" or (isinstance(mul, LMul) and mul.fmt == dtype)):
            raise ValueError(f"mul={mul!r} is not allowed; allowed: 'exact' or an LMul of {dtype.name}")
    except ValueError:
        pe._MustUse__silence = True  # a rejected PE is not an elaboratable someone forgot to use
        raise


def _multiplier(dtype: FloatFormat, mul) -> FpMul | LMulUnit:
    return FpMul(dtype) if mul == "exact" else LMulUnit(mul)
