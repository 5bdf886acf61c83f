"""Weight-stationary integer multiply-accumulate processing element."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.rtl.format_shape import FormatShape

__all__ = ["MacPE", "acc_add", "stationary_members", "weight_banks"]


def acc_add(acc: IntFormat, x: Value, y: Value) -> Value:
    """``x + y`` in the accumulator ``acc``: wrapped (truncated on assignment) or saturated.

    Saturation is ``IntFormat.fit`` of the exact sum: clamp to ``[min_value, max_value]``.
    For a signed non-symmetric accumulator at least as wide as both operands the exact
    sum has one extra bit, and it overflowed exactly when its top two bits differ; the
    sign bit then says which end to clamp to (no comparators on the carry chain).

    Parameters
    ----------
    acc : IntFormat
        The accumulator; ``acc.overflow`` picks the policy.
    x, y : Value
        Signed operands (the running sum and an exact product).

    Returns
    -------
    Value
        The exact sum (``"wrap"``: assigning it to an ``acc``-wide signal wraps it) or the
        clamped sum (``"saturate"``, always within ``acc``'s range).
    """
    x, y = Value.cast(x), Value.cast(y)
    total = x + y
    if acc.overflow == "wrap":
        return total
    lo, hi = Const(acc.min_value, FormatShape(acc)), Const(acc.max_value, FormatShape(acc))
    narrow = max(len(x), len(y)) <= acc.width
    if acc.signed and not acc.symmetric and narrow and len(total) == acc.width + 1:
        over = total[-1] ^ total[-2]
        return Mux(over, Mux(total[-1], lo, hi), total[: acc.width].as_signed())
    return Mux(total > acc.max_value, hi, Mux(total < acc.min_value, lo, total))


def stationary_members(dtype, acc) -> dict:
    """Signature members of a stationary-operand PE (``MacPE``, ``SystolicFloatPE``): see ``MacPE``."""
    return {
        "en": In(1),
        "load": In(1),
        "load_bank": In(1),
        "bank_in": In(1),
        "bank_out": Out(1),
        "w_in": In(FormatShape(dtype)),
        "a_in": In(FormatShape(dtype)),
        "psum_in": In(FormatShape(acc)),
        "a_out": Out(FormatShape(dtype)),
        "psum_out": Out(FormatShape(acc)),
    }


def weight_banks(m: Module, pe) -> list[Signal]:
    """The two raw weight registers of a stationary PE, written from ``w_in`` by ``load``/``load_bank``."""
    banks = [Signal(pe.dtype.width, name=f"weight{b}") for b in range(2)]
    with m.If(pe.load & ~pe.load_bank):
        m.d.sync += banks[0].eq(Value.cast(pe.w_in))
    with m.If(pe.load & pe.load_bank):
        m.d.sync += banks[1].eq(Value.cast(pe.w_in))
    return banks


class MacPE(wiring.Component):
    """Weight-stationary integer MAC cell; latency 1, one MAC per enabled cycle.

    Holds two weights (double buffering: one bank computes while the other loads).
    On a cycle with ``en`` high it advances a three-stage pipeline: operands
    ``a_in`` and ``w[bank_in]``, their product, then ``psum_out = psum_in + product``
    (the product is exact) and passes
    ``a_in``/``bank_in`` on to ``a_out``/``bank_out`` for its right neighbour, so
    the bank choice travels with the activation wavefront. The sum follows
    ``acc.overflow`` (:func:`acc_add`): ``"wrap"`` is bit-exact with
    ``hwgen.emulation.ops.matmul_int``; ``"saturate"`` clamps every addition, as
    ``hwgen.emulation.accumulate(products, acc)`` does down a column, row 0 first.

    Parameters
    ----------
    dtype : IntFormat
        Format of activations and weights.
    acc : IntFormat
        Accumulator format; wraps or saturates on overflow by ``acc.overflow``.

    Members
    -------
    en : In(1)
        Advance: register the MAC result and the passed-on activation.
    load : In(1)
        Store ``w_in`` as the stationary weight of bank ``load_bank``.
    load_bank, bank_in : In(1)
    bank_out : Out(1)
    w_in, a_in : In(FormatShape(dtype))
    psum_in : In(FormatShape(acc))
    a_out : Out(FormatShape(dtype))
    psum_out : Out(FormatShape(acc))

    Latency
    -------
    ``a_out``: 1 cycle. ``psum_out``: an activation's product is added 3 cycles after
    it arrives (operands, multiply, add), to the ``psum_in`` present at that cycle.
    """

    def __init__(self, dtype: IntFormat, acc: IntFormat):
        self.dtype = dtype
        self.acc = acc
        super().__init__(stationary_members(dtype, acc))

    def elaborate(self, platform):
        m = Module()
        banks = weight_banks(m, self)
        # Three stages: operands (bank select done), product, sum. With registers on both
        # sides, a multiplier mapped to a DSP block has no logic on its paths, and the carry
        # chain is separate; the partial sums still move one row per cycle, two cycles later.
        op_a, op_w = Signal(FormatShape(self.dtype)), Signal(FormatShape(self.dtype))
        product = Signal(signed(2 * self.dtype.width))
        with m.If(self.en):
            # Assigning the wider sum to the accumulator-width register is the wrap-around;
            # a saturating accumulator clamps the exact sum first (acc_add).
            m.d.sync += [
                self.a_out.eq(self.a_in),
                self.bank_out.eq(self.bank_in),
                op_a.eq(self.a_in),
                op_w.eq(Mux(self.bank_in, banks[1], banks[0])),
                product.eq(op_a * op_w),
                self.psum_out.eq(acc_add(self.acc, self.psum_in, product)),
            ]
        return m
