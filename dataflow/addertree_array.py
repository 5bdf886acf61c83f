"""Adder-tree array: dot units sharing one activation vector, output-stationary over K beats."""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.dataflow.accumulator_bank import AccumulatorBank, tile_layout
from hwgen.emulation.units.addertree_plan import AdderTreeConfig
from hwgen.pe.addertree import AdderTreeDot, dot_bits
from hwgen.rtl.delay_line import DelayLine
from hwgen.rtl.format_shape import FormatShape

__all__ = ["AdderTreeArray", "beat_layout", "out_layout"]


def beat_layout(cfg: AdderTreeConfig) -> data.StructLayout:
    """Payload of ``i_in``: the activation vector ``x``, one weight vector per dot unit, ``last``."""
    vec = data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.lanes)
    return data.StructLayout({"x": vec, "w": data.ArrayLayout(vec, cfg.rows), "last": 1})


def out_layout(cfg: AdderTreeConfig) -> data.StructLayout:
    """Payload of ``o_out``: one accumulator per dot unit."""
    return tile_layout(cfg.acc_format, cfg.rows, with_error=False)


class AdderTreeArray(wiring.Component):
    """``rows`` ``AdderTreeDot`` units of ``lanes`` multipliers; each beat is ``rows x lanes`` MACs.

    A tile is a run of beats ending with ``last``: dot unit ``r`` accumulates
    ``sum_l x[l] * w[r][l]`` over the tile's beats and the ``rows`` sums leave on
    ``o_out``. One global enable: a stalled ``o_out`` holds the whole pipeline.

    Golden model: ``hwgen.emulation.addertree.addertree_dot`` per output
    (``hwgen.emulation.units.addertree_plan.TreePlan.tile_outputs``).

    Parameters
    ----------
    cfg : AdderTreeConfig

    Members
    -------
    i_in : In(stream.Signature(beat_layout(cfg)))
    o_out : Out(stream.Signature(out_layout(cfg)))

    Latency
    -------
    ``D = ceil(log2 lanes) + 2`` cycles from a tile's last beat to its result; one beat
    per cycle; a GEMM takes ``tiles * ceil(K / lanes) + D`` cycles (``TreePlan.cycles``).
    """

    def __init__(self, cfg: AdderTreeConfig):
        self.cfg = cfg
        super().__init__(
            {"i_in": In(stream.Signature(beat_layout(cfg))), "o_out": Out(stream.Signature(out_layout(cfg)))}
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        width = dot_bits(cfg.dtype_format, cfg.lanes)
        bank = m.submodules.bank = AccumulatorBank(cfg.rows, signed(width), cfg.acc_format)
        wiring.connect(m, wiring.flipped(self.o_out), bank.o_out)
        m.d.comb += self.i_in.ready.eq(bank.advance)
        depth = 0
        for r in range(cfg.rows):
            unit = m.submodules[f"dot_{r}"] = AdderTreeDot(cfg.dtype_format, cfg.lanes)
            depth = unit.latency
            m.d.comb += [
                unit.en.eq(bank.advance),
                unit.a.eq(self.i_in.payload.x),
                unit.w.eq(self.i_in.payload.w[r]),
                bank.dots[r].eq(unit.dot),
            ]
        # Valid/last tags travel beside the data through the same number of enabled stages.
        tags = m.submodules.tags = DelayLine(2, depth)
        m.d.comb += [
            tags.en.eq(bank.advance),
            tags.i.eq(self.i_in.valid | (self.i_in.payload.last << 1)),
            bank.valid.eq(tags.o[0]),
            bank.last.eq(tags.o[1]),
        ]
        return m
