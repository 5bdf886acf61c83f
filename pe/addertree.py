"""Multiplier-adder tree dot-product unit: N parallel multipliers feeding a pipelined binary adder tree."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.emulation.addertree import tree_depth, tree_levels
from hwgen.rtl.format_shape import FormatShape

__all__ = ["AdderTreeDot", "dot_bits"]


def dot_bits(dtype: IntFormat, lanes: int) -> int:
    """Width of the exact tree result: ``2 * width`` product bits plus one per tree level."""
    return 2 * dtype.width + tree_depth(lanes)


class AdderTreeDot(wiring.Component):
    """``lanes`` multipliers and a registered pairwise adder tree; one dot product per enabled cycle.

    Every level is registered, so the unit is a ``1 + ceil(log2 lanes)`` stage pipeline
    moving when ``en`` is high. Sums are exact (one bit wider per level; see
    ``dot_bits``); the pairing is ``hwgen.emulation.addertree.tree_levels``.

    Golden model: ``hwgen.emulation.addertree.tree_sum`` of the exact products.

    Parameters
    ----------
    dtype : IntFormat
        Operand format.
    lanes : int
        Number of multipliers (>= 1).

    Members
    -------
    en : In(1)
    a, w : In(ArrayLayout(FormatShape(dtype), lanes))
    dot : Out(signed(dot_bits(dtype, lanes)))

    Latency
    -------
    ``1 + ceil(log2 lanes)`` enabled cycles; throughput one dot per cycle.
    """

    def __init__(self, dtype: IntFormat, lanes: int):
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes={lanes!r} is not allowed; allowed: an integer >= 1")
        self.dtype, self.lanes = dtype, lanes
        vec = data.ArrayLayout(FormatShape(dtype), lanes)
        super().__init__({"en": In(1), "a": In(vec), "w": In(vec), "dot": Out(signed(dot_bits(dtype, lanes)))})

    @property
    def latency(self) -> int:
        return 1 + tree_depth(self.lanes)

    def elaborate(self, platform):
        m = Module()
        width = 2 * self.dtype.width
        nodes = []
        for i in range(self.lanes):
            prod = Signal(signed(width), name=f"prod{i}")
            with m.If(self.en):
                m.d.sync += prod.eq(self.a[i].as_signed() * self.w[i].as_signed())
            nodes.append(prod)
        for depth, level in enumerate(tree_levels(self.lanes)):
            width += 1
            nxt = []
            for i, pair in enumerate(level):
                node = Signal(signed(width), name=f"l{depth}_{i}")
                with m.If(self.en):
                    m.d.sync += node.eq(nodes[pair[0]] + nodes[pair[1]] if len(pair) == 2 else nodes[pair[0]])
                nxt.append(node)
            nodes = nxt
        m.d.comb += self.dot.eq(nodes[0])
        return m
