"""Digit-serial bit-slice MAC processing element with zero-digit skipping and carry-save accumulation."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.emulation.bitslice import SliceCoding
from hwgen.rtl.format_shape import FormatShape

__all__ = ["CYCLE_BITS", "PRECISION_SHAPE", "BitSlicePE", "pair_layout", "result_layout", "static_digits"]

#: Width of the reported cycle count (wraps after 2**32 busy cycles).
CYCLE_BITS = 32
#: Shape of a run-time precision port; wide enough to hold (and flag) values past ``max_bits``.
PRECISION_SHAPE = unsigned(5)


def pair_layout(coding: SliceCoding) -> data.StructLayout:
    """Payload of ``i_pair``: serial operand ``a``, parallel operand ``w``, and the group's ``last`` flag."""
    fmt = FormatShape(coding.operand_format)
    return data.StructLayout({"a": fmt, "w": fmt, "last": 1})


def result_layout(acc: IntFormat) -> data.StructLayout:
    """Payload of ``o_acc``: the group's dot product, its busy cycles and its error flag."""
    return data.StructLayout({"acc": FormatShape(acc), "cycles": unsigned(CYCLE_BITS), "error": 1})


def static_digits(value: Value, bits: int, coding: SliceCoding) -> list[Value]:
    """Digits of the low ``bits`` bits of ``value`` (a ``bits``-bit two's complement number), LSB first.

    Bit ``bits-1`` is the sign: higher positions read it again (sign extension), so the
    digits are those of ``hwgen.emulation.bitslice.SliceCoding.digits``.
    """

    def bit(k: int) -> Value:
        return Const(0, 1) if k < 0 else value[min(k, bits - 1)]

    s, n = coding.slice_bits, coding.slots(bits)
    if coding.encoding == "radix4":
        return [(bit(2 * i) + bit(2 * i - 1)) - Cat(Const(0, 1), bit(2 * i + 1)) for i in range(n)]
    out = [Cat(*(bit(s * i + j) for j in range(s))) for i in range(n)]
    out[-1] = out[-1].as_signed()  # the top slice carries the sign weight
    return out


def _fits(value: Value, bits: int) -> Value:
    """``value`` is a ``bits``-bit two's complement number: all bits from ``bits-1`` up agree."""
    top = value[bits - 1 :]
    return top.all() | ~top.any()


class BitSlicePE(wiring.Component):
    """Digit-serial MAC: ``a`` one non-zero digit per cycle, ``w`` in parallel; zero digits skipped.

    Each pair on ``i_pair`` is recoded (``coding``: radix-4 Booth digits or 1-/2-bit
    slices of the ``a_bits``-bit operand ``a``). Every cycle the PE adds the partial
    product ``d_i * w << (slice_bits * i)`` of the lowest pending non-zero digit into a
    carry-save accumulator (sum and carry registers, no carry propagation); a pair
    with no non-zero digit still takes its one cycle. When the pair flagged ``last``
    is done, the carry-save pair is resolved and ``o_acc`` carries the group's dot
    product, the group's busy cycles and an error flag.

    Golden model: ``hwgen.emulation.bitslice.bitslice_dot`` (same carry-save steps in
    the same order; ``cycles`` is its exact data-dependent count).

    Errors: ``error`` is set on a group if ``a_bits`` or ``w_bits`` was outside
    ``2..max_bits`` or an operand did not fit its precision when a pair was accepted;
    ``acc`` of such a group is unspecified. Precisions are sampled per pair; hold them
    for a whole group.

    Parameters
    ----------
    coding : SliceCoding
    acc : IntFormat
        Accumulator format (wraps).

    Members
    -------
    a_bits, w_bits : In(PRECISION_SHAPE)
        Run-time operand precisions, 2..max_bits.
    i_pair : In(stream.Signature(pair_layout(coding)))
    o_acc : Out(stream.Signature(result_layout(acc)))

    Latency
    -------
    A group whose pairs need ``C = sum max(1, nonzero digits of a)`` cycles is on
    ``o_acc`` ``C + 1`` cycles after its first pair was accepted. Throughput: one digit
    per cycle; groups follow back to back without bubbles while ``o_acc`` is ready.
    """

    def __init__(self, coding: SliceCoding, acc: IntFormat):
        self.coding = coding
        self.acc = acc
        super().__init__(
            {
                "a_bits": In(PRECISION_SHAPE),
                "w_bits": In(PRECISION_SHAPE),
                "i_pair": In(stream.Signature(pair_layout(coding))),
                "o_acc": Out(stream.Signature(result_layout(acc))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        slots, width = self.coding.slots(self.coding.max_bits), self.acc.width
        # The pair being worked on: its digits, which of them are still pending, and w.
        held, last, err = Signal(), Signal(), Signal()
        digits = Signal(data.ArrayLayout(signed(self.coding.digit_bits), slots))
        pending = Signal(slots)
        w = Signal(FormatShape(self.coding.operand_format))
        # Carry-save accumulator, busy-cycle counter and error flag of the current group.
        s_reg, c_reg = Signal(width), Signal(width)
        count, group_err, done = Signal(CYCLE_BITS), Signal(), Signal()

        rest = Signal(slots)
        m.d.comb += rest.eq(pending & (pending - 1))  # clear the lowest pending digit
        advance = ~done | self.o_acc.ready
        free = ~held | ~rest.any()
        m.d.comb += [
            self.i_pair.ready.eq(advance & free),
            self.o_acc.valid.eq(done),
            self.o_acc.payload.acc.eq(s_reg + c_reg),
            self.o_acc.payload.cycles.eq(count),
            self.o_acc.payload.error.eq(group_err),
        ]

        partial = self._partial_product(m, digits, pending, w)
        # A finished group leaves the registers when its result is taken: start from zero.
        base_s, base_c = Mux(done, 0, s_reg), Mux(done, 0, c_reg)
        with m.If(advance):
            m.d.sync += [
                s_reg.eq(base_s),
                c_reg.eq(base_c),
                count.eq(Mux(done, 0, count) + held),
                group_err.eq(Mux(done, 0, group_err) | (held & err)),
                done.eq(held & ~rest.any() & last),
                pending.eq(rest),
            ]
            with m.If(held & pending.any()):
                m.d.sync += [
                    s_reg.eq(base_s ^ base_c ^ partial),
                    c_reg.eq(((base_s & base_c) | (base_s & partial) | (base_c & partial)) << 1),
                ]
            with m.If(free):
                m.d.sync += held.eq(self.i_pair.valid)
                self._load(m, digits, pending, w, last, err)
        return m

    def _partial_product(self, m: Module, digits, pending: Signal, w: Signal) -> Signal:
        """``d_i * w << (slice_bits * i)`` of the lowest pending digit, as accumulator-width bits."""
        partial = Signal(self.acc.width)
        value = Const(0, signed(self.acc.width))
        for i in reversed(range(len(pending))):
            value = Mux(pending[i], (digits[i] * w) << (self.coding.slice_bits * i), value)
        m.d.comb += partial.eq(value)
        return partial

    def _load(self, m: Module, digits, pending: Signal, w: Signal, last: Signal, err: Signal) -> None:
        """Recode the offered pair at the run-time precisions into the work registers."""
        pay, coding = self.i_pair.payload, self.coding
        w_bad = Signal()
        m.d.sync += [w.eq(pay.w), last.eq(pay.last)]
        with m.Switch(self.w_bits):
            for bits in range(2, coding.max_bits + 1):
                with m.Case(bits):
                    m.d.comb += w_bad.eq(~_fits(pay.w, bits))
            with m.Default():
                m.d.comb += w_bad.eq(1)
        # Every case assigns every register, so the Verilog case statements are complete.
        with m.Switch(self.a_bits):
            for bits in range(2, coding.max_bits + 1):
                with m.Case(bits):
                    ds = static_digits(pay.a, bits, coding)
                    ds += [Const(0, 1)] * (len(pending) - len(ds))
                    m.d.sync += [digits[i].eq(d) for i, d in enumerate(ds)]
                    m.d.sync += [pending.eq(Cat(*(d != 0 for d in ds))), err.eq(~_fits(pay.a, bits) | w_bad)]
            with m.Default():
                m.d.sync += [digits[i].eq(0) for i in range(len(pending))]
                m.d.sync += [pending.eq(0), err.eq(1)]
