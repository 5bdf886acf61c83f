"""Output-stationary systolic array with valid/ready stream interfaces."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import latency
from hwgen.pe.os_mac import OsMacPE
from hwgen.pe.systolic_float import SystolicFloatOsPE
from hwgen.rtl.delay_line import DelayLine
from hwgen.rtl.format_shape import FormatShape

__all__ = ["OutputStationaryArray"]


class OutputStationaryArray(wiring.Component):
    """Output-stationary ``rows x cols`` systolic array of ``OsMacPE``/``SystolicFloatOsPE`` cells.

    Each PE owns one output of a ``rows x cols`` result tile. A step k is a pair of
    beats taken together: ``i_act`` carries column k of the ``a`` tile (``rows`` lanes,
    ``last`` on the tile's final step) and ``i_weight`` row k of the ``b`` tile
    (``cols`` lanes). Columns of ``a`` are skewed into the rows and flow right, rows of
    ``b`` are skewed into the columns and flow down, so PE(i, j) sees ``a[i][k]`` and
    ``b[k][j]`` together. When the last step has swept the grid, ``o_out`` drains the
    tile one result row per beat (``last`` on row ``rows - 1``) while the next tile
    already accumulates; only the next tile's last step waits for the drain.

    Golden model: ``hwgen.emulation.units.os_plan.OutputStationaryPlan.tile_outputs``
    (``systolic_model.int_matmul``: k in order, wrapping or saturating; or ``fp_dot`` for
    float dtypes; per tile). Cycles: ``OutputStationaryPlan.cycles``.

    Parameters
    ----------
    cfg : ArrayConfig
        With ``dataflow="os"``.

    Members
    -------
    i_act : In(stream.Signature(StructLayout({"data": rows lanes, "last": 1})))
    i_weight : In(stream.Signature(ArrayLayout(dtype, cols)))
    o_out : Out(stream.Signature(StructLayout({"data": cols accumulators, "last": 1})))

    Latency
    -------
    A tile's first result row is valid ``D + 1`` cycles after its last step is taken
    (``D = rows + cols - 1``); one step per cycle, one result row per cycle.
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        operand, total = FormatShape(cfg.dtype_format), FormatShape(cfg.acc_format)
        super().__init__(
            {
                "i_act": In(
                    stream.Signature(data.StructLayout({"data": data.ArrayLayout(operand, cfg.rows), "last": 1}))
                ),
                "i_weight": In(stream.Signature(data.ArrayLayout(operand, cfg.cols))),
                "o_out": Out(
                    stream.Signature(data.StructLayout({"data": data.ArrayLayout(total, cfg.cols), "last": 1}))
                ),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rows, depth = self.cfg.rows, latency(self.cfg)
        first = Signal(init=1)  # the next step starts a tile
        last_pipe = Signal(depth)  # a tile's last step, by how far it has swept the grid
        draining = Signal()
        row_sel = Signal(rows, init=1)  # one-hot: the result row o_out shows
        pending = draining | last_pipe.any()
        is_last = self.i_act.payload.last
        may_take = ~(is_last & pending)  # a new last step would overwrite results not yet drained
        taken = self.i_act.valid & self.i_weight.valid & may_take
        m.d.comb += [
            self.i_act.ready.eq(self.i_weight.valid & may_take),
            self.i_weight.ready.eq(self.i_act.valid & may_take),
        ]
        with m.If(taken):
            m.d.sync += first.eq(is_last)
        m.d.sync += last_pipe.eq((last_pipe << 1) | (taken & is_last))

        pes = self._grid(m, Cat(taken, first, is_last))
        m.d.comb += [self.o_out.valid.eq(draining), self.o_out.payload.last.eq(row_sel[-1])]
        for c in range(self.cfg.cols):
            picked = [Mux(row_sel[r], pes[r][c].result, 0) for r in range(rows)]
            m.d.comb += self.o_out.payload.data[c].eq(_or_all(picked))
        with m.If(last_pipe[-1]):
            m.d.sync += [draining.eq(1), row_sel.eq(1)]
        with m.If(self.o_out.valid & self.o_out.ready):
            m.d.sync += row_sel.eq(row_sel.rotate_left(1))
            with m.If(row_sel[-1]):
                m.d.sync += draining.eq(0)
        return m

    def _pe(self) -> OsMacPE | SystolicFloatOsPE:
        cfg = self.cfg
        if cfg.is_float:
            return SystolicFloatOsPE(cfg.dtype_format, cfg.acc_format, cfg.multiplier)
        return OsMacPE(cfg.dtype_format, cfg.acc_format)

    def _grid(self, m: Module, flags) -> list[list[OsMacPE | SystolicFloatOsPE]]:
        """PEs, with ``a`` (and the step flags) skewed into rows and ``b`` skewed into columns."""
        rows, cols = self.cfg.rows, self.cfg.cols
        dtype = self.cfg.dtype_format
        pes = [[self._pe() for _ in range(cols)] for _ in range(rows)]
        width = dtype.width
        for r in range(rows):
            skew = m.submodules[f"skew_a_{r}"] = DelayLine(width + 3, r)
            m.d.comb += [skew.en.eq(1), skew.i.eq(Cat(self.i_act.payload.data[r], flags))]
            for c in range(cols):
                pe = m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                left = pes[r][c - 1] if c else None
                m.d.comb += [
                    pe.a_in.eq(left.a_out if left else skew.o[:width]),
                    pe.valid_in.eq(left.valid_out if left else skew.o[width]),
                    pe.first_in.eq(left.first_out if left else skew.o[width + 1]),
                    pe.last_in.eq(left.last_out if left else skew.o[width + 2]),
                ]
        for c in range(cols):
            skew = m.submodules[f"skew_b_{c}"] = DelayLine(FormatShape(dtype), c)
            m.d.comb += [skew.en.eq(1), skew.i.eq(self.i_weight.payload[c])]
            for r in range(rows):
                m.d.comb += pes[r][c].b_in.eq(pes[r - 1][c].b_out if r else skew.o)
        return pes


def _or_all(values):
    total = values[0]
    for value in values[1:]:
        total = total | value
    return total
