"""Bit Fusion-style fusion unit: a grid of slice x slice bricks that fuse into wider multiplies by precision."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.bitslice import SliceCoding
from hwgen.pe.bitslice import static_digits

__all__ = ["FusionUnit", "fusion_modes"]


def fusion_modes(coding: SliceCoding) -> list[int]:
    """Fused precisions a unit supports, by mode index: ``slice_bits * 2**k`` up to ``max_bits``."""
    out, bits = [], coding.slice_bits
    while bits <= coding.max_bits:
        out.append(bits)
        bits *= 2
    return out


class FusionUnit(wiring.Component):
    """``(max_bits / slice_bits)**2`` bricks computing one packed dot product per cycle.

    Each brick multiplies one digit of an activation (``coding``: radix-4 Booth digits
    or two's complement slices) by one two's complement slice of a weight. At fused
    precisions ``fa x fw`` (``fusion_modes``), bricks group into ``(fa/s) x (fw/s)``
    blocks, one per multiply, and the unit does ``lanes = bricks / block`` MACs: the
    words ``a`` and ``w`` hold ``lanes`` values at ``fa`` and ``fw`` bits, lane 0 in the
    low bits. Each brick's product is shifted by ``s * (i + j)`` and all are summed.

    Golden model: one beat of ``hwgen.emulation.bitslice.fusion_dot``.

    Parameters
    ----------
    coding : SliceCoding
    dot_bits : int
        Width of the signed ``dot`` output.

    Members
    -------
    en : In(1)
    a_mode, w_mode : In(unsigned(3))
        Index into ``fusion_modes(coding)``; other values make ``dot`` zero.
    a, w : In(word_bits)
        Packed operand words, ``word_bits = bricks * slice_bits``.
    dot : Out(signed(dot_bits))

    Latency
    -------
    1 enabled cycle (registered ``dot``); one beat per cycle.
    """

    def __init__(self, coding: SliceCoding, dot_bits: int):
        self.coding = coding
        self.side = coding.max_bits // coding.slice_bits
        self.bricks = self.side**2
        super().__init__(
            {
                "en": In(1),
                "a_mode": In(unsigned(3)),
                "w_mode": In(unsigned(3)),
                "a": In(self.bricks * coding.slice_bits),
                "w": In(self.bricks * coding.slice_bits),
                "dot": Out(signed(dot_bits)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        s, width = self.coding.slice_bits, len(self.dot)
        xs = [Signal(signed(s + 1), name=f"x{b}") for b in range(self.bricks)]
        ys = [Signal(signed(s + 1), name=f"y{b}") for b in range(self.bricks)]
        products = [Signal(signed(2 * s + 2), name=f"p{b}") for b in range(self.bricks)]
        # Shifts are static per mode (no barrel shifter): each case places the product.
        terms = [Signal(signed(width), name=f"term{b}") for b in range(self.bricks)]
        m.d.comb += [p.eq(x * y) for p, x, y in zip(products, xs, ys, strict=True)]
        modes = fusion_modes(self.coding)
        with m.Switch(Cat(self.a_mode, self.w_mode)):
            for ka, fa in enumerate(modes):
                for kw, fw in enumerate(modes):
                    with m.Case(ka | (kw << 3)):
                        self._route(m, fa, fw, xs, ys, products, terms)
            with m.Default():
                m.d.comb += [sig.eq(0) for sig in (*xs, *ys, *terms)]
        with m.If(self.en):
            m.d.sync += self.dot.eq(_tree_sum(terms, width))
        return m

    def _route(self, m: Module, fa: int, fw: int, xs, ys, products, terms) -> None:
        """Brick inputs and shifts for fused precisions ``fa x fw``."""
        s = self.coding.slice_bits
        ga, gw = fa // s, fw // s
        w_coding = SliceCoding("unsigned", s, self.coding.max_bits)
        for lane in range(self.bricks // (ga * gw)):
            a_digits = static_digits(self.a[lane * fa : (lane + 1) * fa], fa, self.coding)
            w_digits = static_digits(self.w[lane * fw : (lane + 1) * fw], fw, w_coding)
            for i in range(ga):
                for j in range(gw):
                    b = lane * ga * gw + i * gw + j
                    m.d.comb += [
                        xs[b].eq(a_digits[i]),
                        ys[b].eq(w_digits[j]),
                        terms[b].eq(products[b] << (s * (i + j))),
                    ]


def _tree_sum(terms, width: int):
    """Pairwise sum of ``terms`` (a balanced tree, each partial sum cut to ``width`` bits)."""
    while len(terms) > 1:
        pairs = [(terms[i] + terms[i + 1])[:width].as_signed() for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0] if terms else Const(0, signed(width))
