"""Weight-stationary systolic array with valid/ready stream interfaces."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.dataflow.config import ArrayConfig
from hwgen.dataflow.systolic_model import latency
from hwgen.pe.mac import MacPE
from hwgen.rtl.delay_line import DelayLine
from hwgen.rtl.format_shape import FormatShape

__all__ = ["SystolicArray", "act_layout", "out_layout", "weight_layout"]


def weight_layout(cfg: ArrayConfig) -> data.ArrayLayout:
    """Payload of ``i_weight``: one row of ``cols`` weights."""
    return data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.cols)


def act_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Payload of ``i_act``: one activation row of ``rows`` values and the tile's ``last`` flag."""
    return data.StructLayout({"data": data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.rows), "last": 1})


def out_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Payload of ``o_out``: one output row of ``cols`` accumulators and ``last``."""
    return data.StructLayout({"data": data.ArrayLayout(FormatShape(cfg.acc_format), cfg.cols), "last": 1})


class SystolicArray(wiring.Component):
    """Weight-stationary ``rows x cols`` systolic array of ``MacPE`` cells.

    A tile is ``rows`` weight rows on ``i_weight`` (row 0 first, loaded into the PE
    row of that index), then activation rows on ``i_act`` until one carries
    ``last``. Activation row ``m`` yields output row ``m`` on ``o_out``:
    ``out[c] = sum_r act[r] * w[r][c]`` in the wrapping accumulator. The array skews
    activations into the rows, passes partial sums down the columns and de-skews the
    column results, all under one enable: when ``o_out`` is stalled, the whole
    pipeline holds. Weights of the next tile are accepted once the pipeline has drained.

    Golden model: ``hwgen.emulation.ops.matmul_int`` per tile
    (``hwgen.dataflow.systolic_model.GemmPlan.tile_outputs``).

    Parameters
    ----------
    cfg : ArrayConfig

    Members
    -------
    i_weight : In(stream.Signature(weight_layout(cfg)))
    i_act : In(stream.Signature(act_layout(cfg)))
    o_out : Out(stream.Signature(out_layout(cfg)))

    Latency
    -------
    ``D = rows + cols - 1`` cycles from an accepted activation row to its output.
    Throughput: one activation row per cycle. A tile of ``m`` rows takes
    ``rows + m + D`` cycles (``systolic_model.tile_cycles``).
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        super().__init__(
            {
                "i_weight": In(stream.Signature(weight_layout(cfg))),
                "i_act": In(stream.Signature(act_layout(cfg))),
                "o_out": Out(stream.Signature(out_layout(cfg))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rows, cols, depth = self.cfg.rows, self.cfg.cols, latency(self.cfg)
        advance = Signal()
        # One-hot: bit r selects the PE row the next weight beat loads; bit `rows` means loaded.
        w_sel = Signal(rows + 1, init=1)
        tag_valid = Signal(depth)  # tag_valid[s]: pipeline stage s holds a real row
        tag_last = Signal(depth)
        loaded = w_sel[rows]
        act_taken = self.i_act.valid & self.i_act.ready
        w_taken = self.i_weight.valid & self.i_weight.ready

        m.d.comb += [
            advance.eq(~tag_valid[-1] | self.o_out.ready),
            self.i_act.ready.eq(advance & loaded),
            self.i_weight.ready.eq(~loaded & ~tag_valid.any()),
            self.o_out.valid.eq(tag_valid[-1]),
            self.o_out.payload.last.eq(tag_last[-1]),
        ]
        with m.If(advance):
            m.d.sync += [
                tag_valid.eq((tag_valid << 1) | act_taken),
                tag_last.eq((tag_last << 1) | self.i_act.payload.last),
            ]
        with m.If(w_taken):
            m.d.sync += w_sel.eq(w_sel << 1)
        with m.If(act_taken & self.i_act.payload.last):
            m.d.sync += w_sel.eq(1)

        pes = self._grid(m, advance)
        for r in range(rows):
            for c in range(cols):
                m.d.comb += [
                    pes[r][c].load.eq(w_taken & w_sel[r]),
                    pes[r][c].w_in.eq(self.i_weight.payload[c]),
                ]
        return m

    def _grid(self, m: Module, advance: Signal) -> list[list[MacPE]]:
        """Instantiate the PEs, the input skew and the output de-skew, and wire them."""
        rows, cols = self.cfg.rows, self.cfg.cols
        dtype, acc = self.cfg.dtype_format, self.cfg.acc_format
        pes = [[MacPE(dtype, acc) for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            # Row r starts r cycles late so its partial sums meet row r-1's on time.
            skew = m.submodules[f"skew_{r}"] = DelayLine(FormatShape(dtype), r)
            m.d.comb += [skew.en.eq(advance), skew.i.eq(self.i_act.payload.data[r])]
            for c in range(cols):
                pe = m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                a_in = skew.o if c == 0 else pes[r][c - 1].a_out
                psum_in = Const(0, FormatShape(acc)) if r == 0 else pes[r - 1][c].psum_out
                m.d.comb += [pe.en.eq(advance), pe.a_in.eq(a_in), pe.psum_in.eq(psum_in)]
        for c in range(cols):
            # Column c finishes cols-1-c cycles before the last column: hold it back to align.
            deskew = m.submodules[f"deskew_{c}"] = DelayLine(FormatShape(acc), cols - 1 - c)
            m.d.comb += [
                deskew.en.eq(advance),
                deskew.i.eq(pes[rows - 1][c].psum_out),
                self.o_out.payload.data[c].eq(deskew.o),
            ]
        return pes
