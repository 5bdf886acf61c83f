"""Combinational IEEE float adder (round to nearest even) on unpacked operands, generic in the format."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat
from hwgen.emulation.fp_mac_model import check_acc_format, check_in_format
from hwgen.rtl import arith
from hwgen.rtl.format_shape import FormatShape

__all__ = ["FpAdd", "FpAdder", "UnpackedLayout", "code_layout", "exp_offset", "unpack_code", "unpacked_layout"]


def _signed_bits(lo: int, hi: int) -> int:
    """Width of a signed shape holding every integer in ``lo..hi``."""
    return max(lo.bit_length(), hi.bit_length()) + 1


class UnpackedLayout(data.StructLayout):
    """:class:`~amaranth.lib.data.StructLayout` of an unpacked float, with two static facts about it.

    Both facts are part of the shape (layouts that differ in them compare unequal), so a
    consumer such as :class:`FpAdd` built from ``product.shape()`` uses them without any
    wiring: it folds ``exp_offset`` into its own exponent constants (the producer spends
    no adder on a bias) and skips normalising a ``sig_normalized`` operand.

    Parameters
    ----------
    members : dict
        The ``sig``, ``exp``, ``sign``, ``inf`` and ``nan`` fields.
    exp_offset : int
        Added to the ``exp`` field to give the exponent of ``sig``'s least significant bit.
    sig_normalized : bool
        Whether ``sig``'s top bit is set whenever ``sig`` is nonzero.
    """

    def __init__(self, members, exp_offset: int = 0, sig_normalized: bool = False):
        super().__init__(members)
        self.exp_offset = int(exp_offset)
        self.sig_normalized = bool(sig_normalized)

    def _facts(self) -> tuple[int, bool]:
        return self.exp_offset, self.sig_normalized

    def __eq__(self, other):
        return super().__eq__(other) and _facts(other) == self._facts()

    def __hash__(self):  # a plain StructLayout's hash without facts, as __eq__ compares them
        return hash((super().__hash__(), self._facts())) if any(self._facts()) else super().__hash__()

    def __repr__(self):
        return (
            f"UnpackedLayout({dict(self.members)!r}, exp_offset={self.exp_offset}, "
            f"sig_normalized={self.sig_normalized})"
        )


def _facts(layout) -> tuple[int, bool]:
    return exp_offset(layout), getattr(layout, "sig_normalized", False)


def unpacked_layout(sig_bits: int, exp_bits: int, exp_offset: int = 0, sig_normalized: bool = False) -> UnpackedLayout:
    """An unpacked float: value ``(-1)**sign * sig * 2**(exp + exp_offset)`` unless ``nan`` or ``inf``.

    ``nan`` wins over ``inf`` (a producer may set both, as :class:`FpAdd` tests ``nan`` first).

    Parameters
    ----------
    sig_bits : int
        Width of ``sig``, an unsigned integer significand (the value is zero when
        ``sig == 0``, whatever ``exp`` holds).
    exp_bits : int
        Width of ``exp``, a signed integer.
    exp_offset : int, optional
        Constant added to ``exp`` to give the exponent of ``sig``'s least
        significant bit. A producer stores a biased exponent (e.g. the sum of
        two exponent fields) and leaves the bias to the consumer, which merges it
        into a constant it adds anyway (:class:`FpAdd` does).
    sig_normalized : bool, optional
        The producer guarantees that ``sig``'s top bit is set unless ``sig == 0``
        (an L-Mul product, ``1.m`` or zero); :class:`FpAdd` then needs no leading-zero
        count or shifter for it. Default: ``sig`` may have leading zeros.

    Returns
    -------
    UnpackedLayout
        Fields ``sig``, ``exp``, ``sign``, ``inf``, ``nan``; ``exp_offset`` and
        ``sig_normalized`` as attributes.
    """
    members = {"sig": unsigned(sig_bits), "exp": signed(exp_bits), "sign": 1, "inf": 1, "nan": 1}
    return UnpackedLayout(members, exp_offset, sig_normalized)


def exp_offset(layout) -> int:
    """The ``exp_offset`` of an unpacked layout (0 for a plain ``StructLayout``)."""
    return getattr(layout, "exp_offset", 0)


def code_layout(fmt: FloatFormat) -> UnpackedLayout:
    """The :func:`unpacked_layout` that holds every code of ``fmt`` (see :func:`unpack_code`).

    ``exp`` is the biased exponent field (1 for zero and subnormals, so that the
    significand ``0.m`` has the same scale as ``1.m`` at exponent field 1) and
    ``exp_offset = -(bias + man_bits)``.
    """
    emax = (1 << fmt.exp_bits) - 1
    return unpacked_layout(fmt.man_bits + 1, _signed_bits(1, emax), -(fmt.bias + fmt.man_bits))


def unpack_code(m: Module, fmt: FloatFormat, code) -> data.View:
    """Combinationally unpack ``code`` of ``fmt`` (``"ieee"`` or ``"fn"`` specials, subnormals kept).

    The result has :func:`code_layout`: ``exp`` is the raw exponent field (forced to 1
    for zero and subnormals); its bias is the layout's ``exp_offset``, so no adder here.
    """
    check_in_format(fmt)
    out = Signal(code_layout(fmt))
    man, exp = code[: fmt.man_bits], code[fmt.man_bits : fmt.man_bits + fmt.exp_bits]
    all_ones = exp.all()
    normal = exp.any()
    m.d.comb += [
        out.sig.eq(Cat(man, normal)),
        out.exp.eq(Cat(exp[0] | ~normal, exp[1:])),  # Mux(normal, exp, 1)
        out.sign.eq(code[fmt.width - 1]),
    ]
    if fmt.specials == "ieee":
        m.d.comb += [out.inf.eq(all_ones & ~man.any()), out.nan.eq(all_ones & man.any())]
    else:  # "fn": only S.1..1.1..1 is NaN, no Inf
        m.d.comb += out.nan.eq(all_ones & man.all())
    return out


def _normalize(m: Module, value, width: int, name: str):
    """Shift ``value`` left until its top bit is set; return (shifted, shift count) (count is junk for 0)."""
    cur, counts = value, []
    for k in reversed(range((width - 1).bit_length())):
        step = 1 << k
        top_zero = ~cur[width - step :].any()
        nxt = Signal(width, name=f"{name}_n{k}")
        m.d.comb += nxt.eq(Mux(top_zero, cur << step, cur))
        counts.append(top_zero)
        cur = nxt
    count = Signal(range(1 << len(counts)) if counts else 1, name=f"{name}_lz")
    m.d.comb += count.eq(Cat(*reversed(counts)) if counts else 0)
    return cur, count


class FpAdd(wiring.Component):
    """Fused add-and-round of two unpacked operands into an IEEE format; combinational.

    ``result = RNE_fmt(x + y)`` rounded once from the exact sum: subnormal
    results kept, overflow to ±Inf, ``x + (-x) = +0``, ``(-0) + (-0) = -0``,
    ``Inf - Inf`` and NaN operands give the canonical positive NaN code
    ``fmt.nan_code``. Operands may be unnormalised and have any exponent range
    (e.g. an exact FP8 or bf16 product), so a multiply feeding ``y`` and this
    adder form a fused multiply-add.

    Each operand is normalised in its own width (not at all when its layout is
    ``sig_normalized``) and placed at the top of ``s = max(x, y, fmt precision)``
    bits, its layout's ``exp_offset`` merged into the constant that gives the
    exponent of its top bit; the smaller one is aligned with guard, round and
    sticky bits, the sum normalised, shifted right below the normal range
    (subnormals) and rounded to nearest even.

    Golden model: :func:`hwgen.emulation.fp_mac_model.fp_dot` (one step) and
    :func:`~hwgen.emulation.fp_mac_model.fp_add`.

    Parameters
    ----------
    fmt : FloatFormat
        Result format (see :func:`~hwgen.emulation.fp_mac_model.check_acc_format`).
    x_layout, y_layout : StructLayout
        :func:`unpacked_layout` of the operands; their ``exp_offset`` and
        ``sig_normalized`` (:class:`UnpackedLayout`) are honoured, a plain
        ``StructLayout`` counts as offset 0, not normalised.

    Members
    -------
    x : In(x_layout)
    y : In(y_layout)
    result : Out(FormatShape(fmt))

    Latency
    -------
    0 cycles (combinational): align, add, normalise, round in one path.
    """

    def __init__(self, fmt: FloatFormat, x_layout: data.StructLayout, y_layout: data.StructLayout):
        check_acc_format(fmt)
        self.fmt = fmt
        super().__init__({"x": In(x_layout), "y": In(y_layout), "result": Out(FormatShape(fmt))})

    def elaborate(self, platform):
        m = Module()
        fmt, x, y = self.fmt, self.x, self.y
        s = max(len(x.sig), len(y.sig), fmt.man_bits + 1)  # common significand width
        nx, ex = self._norm_operand(m, x, s, "x")
        ny, ey = self._norm_operand(m, y, s, "y")
        d = arith.sub(m, ex, ey, "exp_diff")
        x_zero, y_zero = ~x.sig.any(), ~y.sig.any()
        x_big = ~x_zero & (y_zero | arith.is_positive(d) | (~d.any() & (nx >= ny)))
        big_exp = Signal(signed(max(len(ex), len(ey))))
        diff = Signal(signed(len(d) + 1))
        m.d.comb += [big_exp.eq(Mux(x_big, ex, ey)), diff.eq(Mux(x_big, d, arith.neg(m, d, "exp_diff_neg")))]
        total = self._add_aligned(m, Mux(x_big, nx, ny), Mux(x_big, ny, nx), diff, x.sign ^ y.sign, s)
        code = self._round(m, total, big_exp, s)
        sign = Mux(~total.any(), x.sign & y.sign, Mux(x_big, x.sign, y.sign))
        nan = x.nan | y.nan | (x.inf & y.inf & (x.sign != y.sign))
        inf_sign = Mux(x.inf, x.sign, y.sign)
        with m.If(nan):
            m.d.comb += self.result.eq(fmt.nan_code)
        with m.Elif(x.inf | y.inf):
            m.d.comb += self.result.eq(Cat(Const(fmt.inf_code, fmt.width - 1), inf_sign))
        with m.Elif(~total.any()):
            m.d.comb += self.result.eq(Cat(Const(0, fmt.width - 1), sign))
        with m.Else():
            m.d.comb += self.result.eq(Cat(code, sign))
        return m

    @staticmethod
    def _norm_operand(m: Module, op, s: int, name: str):
        """Normalised ``s``-bit significand and the exponent of its top bit.

        The significand is normalised in its own width ``w`` (a narrow product needs a
        ``w``-bit shifter, not an ``s``-bit one) and then placed at the top of ``s`` bits.
        """
        w, layout = len(op.sig), op.shape()
        # The operand's exponent offset merges into the constant that finds the top bit.
        base = arith.add_const(m, op.exp, w - 1 + exp_offset(layout), f"{name}_msb")
        padded = Signal(s, name=f"{name}_pad")
        if getattr(layout, "sig_normalized", False):  # top bit already set (or zero): nothing to count
            m.d.comb += padded.eq(Cat(Const(0, s - w), op.sig))
            return padded, base
        norm, lz = _normalize(m, op.sig, w, name)
        m.d.comb += padded.eq(Cat(Const(0, s - w), norm))
        return padded, arith.sub(m, base, lz, f"{name}_top")

    @staticmethod
    def _add_aligned(m: Module, big, small, diff, subtract, s: int):
        """``big ± (small >> diff)`` on ``s + 4`` bits with 3 guard bits, the last one sticky."""
        limit = s + 3
        shift = Signal(range(limit + 1))
        out_of_range = diff[-1] | arith.gt_const(m, diff, limit, "far")
        m.d.comb += shift.eq(Mux(out_of_range, limit, diff[: len(shift)]))
        wide = Signal(2 * limit)
        m.d.comb += wide.eq(Cat(Const(0, limit), Const(0, 3), small) >> shift)
        aligned = Signal(limit)
        m.d.comb += aligned.eq(wide[limit:] | wide[:limit].any())
        big_ext = Signal(limit)
        m.d.comb += big_ext.eq(Cat(Const(0, 3), big))
        total = Signal(limit + 1)
        m.d.comb += total.eq(Mux(subtract, big_ext - aligned, big_ext + aligned))
        return total

    def _round(self, m: Module, total, big_exp, s: int):
        """Round the ``s + 4``-bit sum (bit ``s + 2`` has exponent ``big_exp``); return the code below the sign."""
        fmt = self.fmt
        p, width = fmt.man_bits + 1, s + 4
        norm, lz = _normalize(m, total, width, "sum")
        # Exponent of the sum's leading bit, and how far it lies below the normal range.
        top = arith.sub(m, arith.add_const(m, big_exp, 1, "sum_msb"), lz, "sum_top")
        emin = 1 - fmt.bias
        under = arith.add_const(m, arith.neg(m, top, "sum_top_neg"), emin, "under")
        subnormal = arith.is_positive(under)
        sub_shift = Signal(range(p + 3))
        m.d.comb += sub_shift.eq(
            Mux(subnormal, Mux(arith.gt_const(m, under, p + 2, "deep"), p + 2, under[: len(sub_shift)]), 0)
        )
        # Below emin the significand is shifted right (subnormal), the lost bits kept as sticky.
        wide = Signal(width + p + 2)
        m.d.comb += wide.eq(Cat(Const(0, p + 2), norm) >> sub_shift)
        keep = wide[width + 2 :]  # p bits, hidden bit at the top
        rbit = wide[width + 1]
        sticky = wide[: width + 1].any()
        # The biased exponent minus 1: the hidden bit of ``keep`` adds the 1 back (0 + 0.m for subnormals).
        eff = Signal(top.shape())
        m.d.comb += eff.eq(Mux(subnormal, emin, top))
        field = arith.add_const(m, eff, fmt.bias - 1, "field")
        code = Signal(fmt.width - 1)
        inf_field = (1 << fmt.exp_bits) - 1
        with m.If(arith.gt_const(m, field, inf_field - 2, "overflow")):
            m.d.comb += code.eq(fmt.inf_code)
        with m.Else():
            unrounded = Signal(fmt.width - 1)
            keep_ext = Signal(fmt.width - 1)
            m.d.comb += [keep_ext.eq(keep), unrounded.eq(Cat(Const(0, fmt.man_bits), field[: fmt.exp_bits]))]
            m.d.comb += code.eq(unrounded + keep_ext + (rbit & (sticky | keep[0])))
        return code


class FpAdder(wiring.Component):
    """``a + b`` on two codes of an IEEE format, round to nearest even; combinational.

    Golden model: :func:`hwgen.emulation.fp_mac_model.fp_add` (for float32,
    NumPy float32 addition with NaN canonicalised to ``fmt.nan_code``).

    Members
    -------
    a, b : In(FormatShape(fmt))
    result : Out(FormatShape(fmt))

    Latency
    -------
    0 cycles (combinational).
    """

    def __init__(self, fmt: FloatFormat):
        check_acc_format(fmt)
        self.fmt = fmt
        super().__init__({"a": In(FormatShape(fmt)), "b": In(FormatShape(fmt)), "result": Out(FormatShape(fmt))})

    def elaborate(self, platform):
        m = Module()
        layout = code_layout(self.fmt)
        m.submodules.add = add = FpAdd(self.fmt, layout, layout)
        m.d.comb += [
            add.x.eq(unpack_code(m, self.fmt, self.a.as_value())),
            add.y.eq(unpack_code(m, self.fmt, self.b.as_value())),
            self.result.eq(add.result),
        ]
        return m
