"""L-Mul PE: the integer-add L-Mul multiplier feeding the floating-point dot-product accumulator."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import FloatFormat, LMul
from hwgen.emulation.fp_mac_model import check_in_format
from hwgen.pe.fp_dot import FpDotPE
from hwgen.rtl import arith
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import unpack_code, unpacked_layout

__all__ = ["SUPPORTED_POLICIES", "LMulPE", "LMulUnit"]

#: Policy values of :class:`~hwgen.emulation.lmul.LMul` the hardware implements.
SUPPORTED_POLICIES = {
    "definition": ("integer_add",),
    "zero": ("exact", "raw"),
    "subnormal": ("flush", "raw"),
    "overflow": ("format", "saturate", "inf"),
    "underflow": ("flush", "keep"),
    "nan": ("propagate",),
}


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
    subnormal`` is Inf since a subnormal is nonzero).

    Golden model: ``hwgen.emulation.LMul(fmt, ...)`` with the same policies.

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
    product : Out(unpacked_layout(man_bits + 1, ...))

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
        exp_lo, exp_hi = (self._r_lo >> m) - f.bias - m, (self._r_hi >> m) - f.bias - m
        layout = unpacked_layout(m + 1, _signed_bits(exp_lo, exp_hi))
        super().__init__({"a": In(FormatShape(f)), "b": In(FormatShape(f)), "product": Out(layout)})

    @property
    def _offset(self) -> int:
        return 1 << (self.lmul.fmt.man_bits - self.lmul.offset_bits)

    def _overflow_policy(self) -> str:
        policy = self.lmul.overflow
        return self.lmul.fmt.resolved_overflow if policy == "format" else policy

    def elaborate(self, platform):
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
        inf_any = ua.inf | ub.inf
        nan = ua.nan | ub.nan | (ua.inf & zero_b) | (zero_a & ub.inf)
        policy = self._overflow_policy()
        # An Inf operand wins over an overflow-to-NaN, as in the model (its Inf is assigned last).
        over_nan = over & ~inf_any if policy == "nan" else 0
        over_inf = over if policy == "inf" else 0
        m.d.comb += [
            self.product.sign.eq(ua.sign ^ ub.sign),
            self.product.nan.eq(nan | over_nan),
            self.product.inf.eq(~nan & (inf_any | over_inf)),
            self.product.sig.eq(Cat(r[:mb], 1)),
            self.product.exp.eq(arith.add_const(m, r_exp, -(f.bias + mb), "unbiased")),
        ]
        with m.If(zero):
            m.d.comb += self.product.sig.eq(0)
        with m.If(over if policy == "saturate" else 0):
            m.d.comb += [
                self.product.sig.eq((f.max_code & ((1 << mb) - 1)) | (1 << mb)),
                self.product.exp.eq((f.max_code >> mb) - f.bias - mb),
            ]
        return m


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
