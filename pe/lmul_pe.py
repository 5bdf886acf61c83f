"""L-Mul PE: the integer-add L-Mul multiplier feeding the floating-point dot-product accumulator."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat, LMul
from hwgen.emulation.fp_mac_model import check_in_format
from hwgen.emulation.units.fp_pe_config import SUPPORTED_POLICIES
from hwgen.pe.fp_dot import FpDotPE
from hwgen.rtl import arith
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import exp_offset, unpack_code, unpacked_layout

__all__ = ["LMulPE", "LMulUnit"]


def _check_supported(lmul: LMul) -> None:
    if not isinstance(lmul, LMul):
        raise ValueError(f"lmul must be an hwgen.emulation.LMul; got {lmul!r}")
    check_in_format(lmul.fmt)
    for field, allowed in SUPPORTED_POLICIES.items():
        value = getattr(lmul, field)
        if value not in allowed:
            raise ValueError(f"LMul {field}={value!r} has no hardware implementation; allowed: {', '.join(allowed)}")


def _signed_bits(lo: int, hi: int) -> int:
    return max(lo.bit_length(), hi.bit_length()) + 1


class LMulUnit(wiring.Component):
    """Integer-add L-Mul of two codes as an unpacked float; combinational.

    ``r = |a| + |b| - (bias << m) + 2**(m - l)`` on the exponent|mantissa
    fields (a mantissa carry flows into the exponent); the product is
    ``(1 + r[m-1:0] / 2**m) * 2**(r[:m] - bias)`` with the sign ``s_a ^ s_b``,
    then the :class:`~hwgen.emulation.lmul.LMul` policies: zero and subnormal
    operands, underflow below ``min_normal``, overflow above ``max_finite``
    (``r > max_code``), NaN/Inf operands (``Inf * 0`` is NaN; ``Inf *
    subnormal`` is Inf since a subnormal is nonzero). ``inf`` may be set
    together with ``nan``, which wins (:func:`~hwgen.rtl.fp_add.unpacked_layout`).

    Golden model: ``hwgen.emulation.LMul(fmt, ...)`` with the same policies.

    Datapath: for FP8 one adder ``s = |a| + |b| + 2**(m - l)`` (the constant as its
    carry-in when it is 1); ``- bias << m`` only shifts the exponent field, so it merges
    into the constant that unbiases the output exponent, and the tests on ``r``
    (underflow, overflow) are comparisons of ``s`` with constants built as logic, not
    carry chains. Wider formats (bf16) keep ``r`` and chain comparisons, which measured
    fewer LUTs there. The unbiasing constant itself is not added here: ``product.exp``
    is the biased exponent (``s[m:]`` for FP8, ``r[m:]`` for bf16) and the bias is the
    layout's ``exp_offset``, which :class:`~hwgen.rtl.fp_add.FpAdd` merges into the
    constant it adds to every operand exponent.

    Parameters
    ----------
    lmul : LMul
        Format and policies; see :data:`SUPPORTED_POLICIES`.

    Raises
    ------
    ValueError
        For ``definition="formula"`` or ``subnormal="normalize"`` (no hardware yet).

    Members
    -------
    a, b : In(FormatShape(lmul.fmt))
    product : Out(unpacked_layout(man_bits + 1, exp_bits, exp_offset))
        Value ``(-1)**sign * sig * 2**(exp + exp_offset)`` unless ``nan`` or ``inf``;
        ``exp_offset`` is ``-(2 * bias + man_bits)`` for FP8 and ``-(bias + man_bits)``
        for wider formats (``product.shape().exp_offset``).

    Latency
    -------
    0 cycles (combinational).
    """

    def __init__(self, lmul: LMul):
        _check_supported(lmul)
        self.lmul = lmul
        f, m = lmul.fmt, lmul.fmt.man_bits
        mag_max = (1 << (f.width - 1)) - 1
        self._r_lo = -(f.bias << m)
        self._r_hi = 2 * mag_max - (f.bias << m) + self._offset
        self._s_max = 2 * mag_max + self._offset
        # The product's exponent field is biased (the lean path's ``s[m:]`` = r_exp + bias, the
        # chains path's r_exp); the bias is the layout's exp_offset, folded by the consumer.
        self._lean = f.width - 1 <= _LOGIC_COMPARE_BITS
        exp_bias = 2 * f.bias + m if self._lean else f.bias + m
        exp_lo = 0 if self._lean else self._r_lo >> m
        exp_hi = (self._s_max if self._lean else self._r_hi) >> m
        # sig is 1.m or 0 (and 1.max_man when saturated): normalised, FpAdd counts no leading zeros.
        layout = unpacked_layout(m + 1, _signed_bits(exp_lo, exp_hi), -exp_bias, sig_normalized=True)
        super().__init__({"a": In(FormatShape(f)), "b": In(FormatShape(f)), "product": Out(layout)})

    @property
    def _offset(self) -> int:
        return 1 << (self.lmul.fmt.man_bits - self.lmul.offset_bits)

    def _zero_may_overflow(self, threshold: int) -> bool:
        """Whether a product flushed to zero can have ``s > threshold`` (else ``over`` needs no ``~zero``).

        A flushed operand has an exponent field of 0 (magnitude below ``2**m``); an
        underflow has ``r_exp <= 0``, i.e. ``s < (bias + 1) << m``. Either keeps ``s``
        far below the overflow threshold in every supported format.
        """
        f = self.lmul.fmt
        mag_max = (1 << (f.width - 1)) - 1
        flushed = mag_max + (1 << f.man_bits) - 1 + self._offset
        return max(flushed, ((f.bias + 1) << f.man_bits) - 1) > threshold

    def _overflow_policy(self) -> str:
        policy = self.lmul.overflow
        return self.lmul.fmt.resolved_overflow if policy == "format" else policy

    def elaborate(self, platform):
        if not self._lean:
            return self._elaborate_chains()
        m = Module()
        lm, f, mb = self.lmul, self.lmul.fmt, self.lmul.fmt.man_bits
        a, b = self.a.as_value(), self.b.as_value()
        ua, ub = unpack_code(m, f, a), unpack_code(m, f, b)
        # FP8: lean datapath: one adder s = |a| + |b| + offset. The "- bias << m" of r = s - (bias << m)
        # only touches the exponent field, so it is folded into the one constant that unbiases
        # the output exponent, and every test on r becomes a comparison of s with a constant,
        # written as logic (no carry chain).
        s = Signal(range(self._s_max + 1))
        mag_a, mag_b, offset = a[: f.width - 1], b[: f.width - 1], self._offset
        if offset == 1:  # the +1 as the carry-in of the one adder: (2a + 1) + (2b + 1) = 2 (a + b + 1)
            m.d.comb += s.eq((Cat(1, mag_a) + Cat(1, mag_b))[1:])
        else:
            m.d.comb += s.eq(mag_a + mag_b + offset)
        biased = s[mb:]  # r_exp + bias, unsigned
        exp_a, exp_b = a[mb : f.width - 1], b[mb : f.width - 1]
        terms = []
        if lm.zero == "exact" and lm.subnormal == "flush":
            terms.append(~exp_a.any() | ~exp_b.any())  # zero or subnormal: the exponent field is 0
        else:
            if lm.zero == "exact":
                terms.append(~ua.sig.any() | ~ub.sig.any())
            if lm.subnormal == "flush":
                terms.append((~exp_a.any() & ua.sig.any()) | (~exp_b.any() & ub.sig.any()))
        if lm.underflow == "flush":
            terms.append(~_gt_const(biased, f.bias))  # r_exp <= 0
        zero = Signal()
        m.d.comb += zero.eq(Cat(*terms).any() if terms else 0)
        threshold = f.max_code + (f.bias << mb)  # r > max_code
        over = _gt_const(s, threshold)
        if self._zero_may_overflow(threshold):
            over = ~zero & over
        self._drive_product(m, ua, ub, zero, over, Cat(s[:mb], 1), biased)
        return m

    def _elaborate_chains(self) -> Module:
        """Wide formats (bf16): r = fields + offset - (bias << m) as adders, its tests as carry chains."""
        m = Module()
        lm, f, mb = self.lmul, self.lmul.fmt, self.lmul.fmt.man_bits
        a, b = self.a.as_value(), self.b.as_value()
        ua, ub = unpack_code(m, f, a), unpack_code(m, f, b)
        fields = Signal(f.width)
        m.d.comb += fields.eq(a[: f.width - 1] + b[: f.width - 1])
        r = arith.add_const(m, fields, self._offset - (f.bias << mb), "r")
        r_exp = r[mb:].as_signed()  # floor(r / 2**m): the biased result exponent
        exp_a, exp_b = a[mb : f.width - 1], b[mb : f.width - 1]
        zero_a, zero_b = ~ua.sig.any(), ~ub.sig.any()
        zero = Signal()
        terms = []
        if lm.zero == "exact":
            terms.append(zero_a | zero_b)
        if lm.subnormal == "flush":
            terms.append((~exp_a.any() & ~zero_a) | (~exp_b.any() & ~zero_b))
        if lm.underflow == "flush":
            terms.append(~arith.is_positive(r_exp))
        m.d.comb += zero.eq(Cat(*terms).any() if terms else 0)
        over = ~zero & arith.gt_const(m, r, f.max_code, "over")
        self._drive_product(m, ua, ub, zero, over, Cat(r[:mb], 1), r_exp)
        return m

    def _drive_product(self, m: Module, ua, ub, zero, over, sig, exp) -> None:
        """Drive ``product`` from the datapath's significand and exponent and the policies' flags."""
        f, mb = self.lmul.fmt, self.lmul.fmt.man_bits
        zero_a, zero_b = ~ua.sig.any(), ~ub.sig.any()
        inf_any = ua.inf | ub.inf
        nan = ua.nan | ub.nan | (ua.inf & zero_b) | (zero_a & ub.inf)
        policy = self._overflow_policy()
        # An Inf operand wins over an overflow-to-NaN, as in the model (its Inf is assigned last).
        over_nan = over & ~inf_any if policy == "nan" else 0
        over_inf = over if policy == "inf" else 0
        m.d.comb += [
            self.product.sign.eq(ua.sign ^ ub.sign),
            self.product.nan.eq(nan | over_nan),
            self.product.inf.eq(inf_any | over_inf),
            self.product.sig.eq(sig),
            self.product.exp.eq(exp),
        ]
        with m.If(zero):
            m.d.comb += self.product.sig.eq(0)
        with m.If(over if policy == "saturate" else 0):
            m.d.comb += [
                self.product.sig.eq((f.max_code & ((1 << mb) - 1)) | (1 << mb)),
                self.product.exp.eq((f.max_code >> mb) - f.bias - mb - exp_offset(self.product.shape())),
            ]


#: Widest operand magnitude (bits) for the lean datapath; wider formats (bf16) measured fewer
#: LUTs with carry-chain comparisons (``benchmarks/lmul_area.py``).
_LOGIC_COMPARE_BITS = 8


def _gt_const(x, k: int):
    """``x > k`` for an unsigned value and a constant, as sum-of-products logic (no carry chain)."""
    x = Value.cast(x)
    if k < 0:
        return Const(1)
    if k >= (1 << len(x)) - 1:
        return Const(0)
    greater, equal = Const(0), Const(1)
    for i in reversed(range(len(x))):
        if (k >> i) & 1:
            equal = equal & x[i]
        else:
            greater = greater | (equal & x[i])
    return greater


class LMulPE(FpDotPE):
    """Dot-product PE with the integer-add L-Mul: ``acc = RNE_acc(acc + lmul(a, b))``.

    The same stream interface, pipeline and accumulator as
    :class:`~hwgen.pe.fp_mac.FpMacPE`; only the multiplier differs.

    Golden model: ``hwgen.emulation.fp_mac_model.fp_dot(a, b, in_fmt, acc_fmt, mul=LMul(in_fmt, ...))``.

    Parameters
    ----------
    in_fmt : FloatFormat
        Operand format (e4m3fn, e5m2, bf16, ...).
    acc_fmt : FloatFormat
        Accumulator format (float32, ...).
    **policies
        :class:`~hwgen.emulation.lmul.LMul` policies (``zero``, ``subnormal``,
        ``overflow``, ``underflow``, ``nan``); defaults as in ``LMul``.

    Raises
    ------
    ValueError
        For a policy without hardware (see :data:`SUPPORTED_POLICIES`).
    FormatError
        For an unknown policy value or an unsupported format.

    Members
    -------
    i_in : In(stream.Signature(beat_layout(in_fmt)))
    o_acc : Out(stream.Signature(FormatShape(acc_fmt)))

    Latency
    -------
    2 cycles from the ``last`` beat to ``o_acc.valid``; one MAC per cycle.
    """

    def __init__(self, in_fmt: FloatFormat, acc_fmt: FloatFormat, **policies):
        self.lmul = LMul(in_fmt, **policies)
        _check_supported(self.lmul)
        super().__init__(in_fmt, acc_fmt)

    def multiplier(self) -> LMulUnit:
        return LMulUnit(self.lmul)
