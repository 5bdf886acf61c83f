"""Bit Fusion-like array: a grid of fusion units, output-stationary, K streamed in packed beats."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.dataflow.accumulator_bank import AccumulatorBank, tile_layout
from hwgen.emulation.units.bitslice_plan import BitSliceConfig
from hwgen.pe.bitslice import PRECISION_SHAPE
from hwgen.pe.fusion_unit import FusionUnit, fusion_modes

__all__ = ["BitSliceArray", "beat_layout", "out_layout"]


def beat_layout(cfg: BitSliceConfig) -> data.StructLayout:
    """Payload of ``i_in``: one packed activation word per row, one weight word per column, ``last``."""
    word = data.ArrayLayout(cfg.word_bits, cfg.rows), data.ArrayLayout(cfg.word_bits, cfg.cols)
    return data.StructLayout({"a": word[0], "w": word[1], "last": 1})


def out_layout(cfg: BitSliceConfig) -> data.StructLayout:
    """Payload of ``o_out``: ``rows * cols`` accumulators, row-major, and the tile's ``error`` flag."""
    return tile_layout(cfg.acc_format, cfg.rows * cfg.cols, with_error=True)


class BitSliceArray(wiring.Component):
    """``rows x cols`` Bit Fusion-like fusion units; each beat does ``lanes`` MACs per unit.

    A tile is a run of beats ending with ``last``. Unit ``(r, c)`` multiplies activation
    word ``a[r]`` with weight word ``w[c]`` (``lanes`` values each, packed at the fused
    precisions of ``a_bits``/``w_bits``, see ``FusionPlan.word``) and accumulates over
    the tile; the tile's ``rows x cols`` results leave on ``o_out``. ``error`` is set
    when ``a_bits`` or ``w_bits`` was outside ``2..max_bits`` during the tile (its
    data is then unspecified). One global enable: a stalled ``o_out`` holds everything.

    Golden model: ``hwgen.emulation.bitslice.fusion_dot`` per output
    (``hwgen.emulation.units.bitslice_plan.FusionPlan.tile_outputs``).

    Parameters
    ----------
    cfg : BitSliceConfig

    Members
    -------
    a_bits, w_bits : In(PRECISION_SHAPE)
        Run-time precisions, held for a tile.
    i_in : In(stream.Signature(beat_layout(cfg)))
    o_out : Out(stream.Signature(out_layout(cfg)))

    Latency
    -------
    ``ARRAY_LATENCY = 2`` cycles from a tile's last beat to its result. Throughput: one
    beat per cycle, tiles back to back; a GEMM takes ``tiles * ceil(K / lanes) + 2``
    cycles from first beat to last result (``FusionPlan.cycles``).
    """

    def __init__(self, cfg: BitSliceConfig):
        self.cfg = cfg
        super().__init__(
            {
                "a_bits": In(PRECISION_SHAPE),
                "w_bits": In(PRECISION_SHAPE),
                "i_in": In(stream.Signature(beat_layout(cfg))),
                "o_out": Out(stream.Signature(out_layout(cfg))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        dot_bits = 2 * cfg.max_bits + 1  # |dot| <= 2**(2*max_bits - 2): the widest single product
        bank = m.submodules.bank = AccumulatorBank(
            cfg.rows * cfg.cols, signed(dot_bits), cfg.acc_format, with_error=True
        )
        wiring.connect(m, wiring.flipped(self.o_out), bank.o_out)
        a_mode, a_bad = self._decode(m, self.a_bits)
        w_mode, w_bad = self._decode(m, self.w_bits)
        valid, last, err = Signal(), Signal(), Signal()
        m.d.comb += self.i_in.ready.eq(bank.advance)
        with m.If(bank.advance):
            m.d.sync += [valid.eq(self.i_in.valid), last.eq(self.i_in.payload.last), err.eq(a_bad | w_bad)]
        m.d.comb += [bank.valid.eq(valid), bank.last.eq(last), bank.error.eq(err)]
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                unit = m.submodules[f"fu_{r}_{c}"] = FusionUnit(cfg.coding, dot_bits)
                m.d.comb += [
                    unit.en.eq(bank.advance),
                    unit.a_mode.eq(a_mode),
                    unit.w_mode.eq(w_mode),
                    unit.a.eq(self.i_in.payload.a[r]),
                    unit.w.eq(self.i_in.payload.w[c]),
                    bank.dots[r * cfg.cols + c].eq(unit.dot),
                ]
        return m

    def _decode(self, m: Module, bits_port) -> tuple[Signal, Signal]:
        """Fusion mode index of a run-time precision, and whether the precision is out of range."""
        mode, bad = Signal(3), Signal()
        modes = fusion_modes(self.cfg.coding)
        with m.Switch(bits_port):
            for bits in range(2, self.cfg.max_bits + 1):
                with m.Case(bits):
                    m.d.comb += [mode.eq(next(k for k, f in enumerate(modes) if f >= bits)), bad.eq(0)]
            with m.Default():
                m.d.comb += [mode.eq(0), bad.eq(1)]
        return mode, bad
