"""Weight-stationary systolic array with valid/ready stream interfaces."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import latency
from hwgen.pe.mac import MacPE
from hwgen.pe.systolic_float import SystolicFloatPE
from hwgen.rtl.delay_line import DelayLine
from hwgen.rtl.format_shape import FormatShape

__all__ = ["SystolicArray", "make_pe", "out_layout", "stationary_layout", "streamed_layout"]


def stationary_layout(cfg: ArrayConfig) -> data.ArrayLayout:
    """Payload of the stationary port: one row of ``cols`` values for one PE row."""
    return data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.cols)


def streamed_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Payload of the streamed port: ``rows`` values (one per PE row) and the tile's ``last`` flag."""
    return data.StructLayout({"data": data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.rows), "last": 1})


def out_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Payload of ``o_out``: one output row of ``cols`` accumulators and ``last``."""
    return data.StructLayout({"data": data.ArrayLayout(FormatShape(cfg.acc_format), cfg.cols), "last": 1})


def make_pe(cfg: ArrayConfig) -> MacPE | SystolicFloatPE:
    """One PE of the array: ``MacPE`` for integer dtypes, ``SystolicFloatPE`` (exact or L-Mul) for floats."""
    if cfg.is_float:
        return SystolicFloatPE(cfg.dtype_format, cfg.acc_format, cfg.multiplier)
    return MacPE(cfg.dtype_format, cfg.acc_format)


class SystolicArray(wiring.Component):
    """Weight- or input-stationary ``rows x cols`` systolic array of ``MacPE``/``SystolicFloatPE`` cells.

    One operand is held in the PEs and the other streams through. A tile is ``rows``
    stationary beats (row 0 first, each loaded into the PE row of that index), then
    streamed beats until one carries ``last``. Streamed beat ``s`` yields output beat
    ``s`` on ``o_out``: ``out[c] = sum_r streamed[r] * held[r][c]`` in the integer
    accumulator (wrapping, or for ``acc="int32_sat"`` saturating at every addition,
    row 0 first) or, for float dtypes, the float32 sum rounded to nearest
    even after each row's product is added, row 0 first, starting from +0.
    Weight-stationary (``dataflow="ws"``) holds weights (``i_weight``)
    and streams activation rows (``i_act``); input-stationary (``"is"``) is the same
    datapath with the roles swapped: ``i_act`` carries the held rows of ``a.T`` and
    ``i_weight`` streams the columns of ``b``.

    The array skews streamed rows into the PE rows, passes partial sums down the
    columns and de-skews the column results, all under one enable: when ``o_out``
    stalls, the whole pipeline holds. The held operand is double-buffered: the next
    tile loads into the other bank while the current one computes, and the bank
    choice travels with each streamed row so the switch sweeps the grid as a
    wavefront. A bank is refilled once no row in the grid still uses it.

    Golden model: ``hwgen.emulation.units.systolic_plan.int_matmul`` (integers) or
    ``hwgen.emulation.fp_mac_model.fp_dot`` over the rows (floats) per tile
    (``hwgen.emulation.units.systolic_plan.StationaryPlan.tile_outputs``).

    Parameters
    ----------
    cfg : ArrayConfig
        With ``dataflow`` ``"ws"`` or ``"is"``.

    Members
    -------
    i_weight, i_act : In(stream.Signature(...))
        ``stationary_layout(cfg)`` on the held port, ``streamed_layout(cfg)`` on the other.
    o_out : Out(stream.Signature(out_layout(cfg)))

    Latency
    -------
    ``D = rows + cols - 1`` cycles from an accepted streamed row to its output.
    Throughput: one streamed row per cycle; ``StationaryPlan.cycles`` gives the exact
    cycle count of a tiled GEMM.
    """

    def __init__(self, cfg: ArrayConfig):
        if cfg.dataflow not in ("ws", "is"):
            raise ValueError(f"SystolicArray dataflow={cfg.dataflow!r} is not allowed; allowed: 'ws', 'is'")
        self.cfg = cfg
        self._held, self._moving = ("i_weight", "i_act") if cfg.dataflow == "ws" else ("i_act", "i_weight")
        super().__init__(
            {
                self._held: In(stream.Signature(stationary_layout(cfg))),
                self._moving: In(stream.Signature(streamed_layout(cfg))),
                "o_out": Out(stream.Signature(out_layout(cfg))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rows, cols, depth = self.cfg.rows, self.cfg.cols, latency(self.cfg)
        advance = Signal()
        tag_valid = Signal(depth)  # tag_valid[s]: pipeline stage s holds a real row
        tag_last = Signal(depth)
        tag_bank = Signal(depth)  # weight bank the row at stage s multiplies with
        w_sel = Signal(rows, init=1)  # one-hot: the PE row the next weight beat loads
        load_bank = Signal()  # bank the weight stream fills
        act_bank = Signal()  # bank the activation stream uses
        loaded = [Signal(name=f"loaded{b}") for b in range(2)]  # bank b holds a tile not yet streamed
        held, moving = getattr(self, self._held), getattr(self, self._moving)
        act_taken = moving.valid & moving.ready
        w_taken = held.valid & held.ready
        # A bank may be overwritten once no row still in the PE grid uses it; the last
        # stage only waits for the output handshake and has finished every product.
        grid_valid, grid_bank = tag_valid[: depth - 1], tag_bank[: depth - 1]
        busy = Mux(load_bank, grid_valid & grid_bank, grid_valid & ~grid_bank).any() if depth > 1 else 0

        m.d.comb += [
            advance.eq(~tag_valid[-1] | self.o_out.ready),
            moving.ready.eq(advance & Mux(act_bank, loaded[1], loaded[0])),
            held.ready.eq(~Mux(load_bank, loaded[1], loaded[0]) & ~busy),
            self.o_out.valid.eq(tag_valid[-1]),
            self.o_out.payload.last.eq(tag_last[-1]),
        ]
        with m.If(advance):
            m.d.sync += [
                tag_valid.eq((tag_valid << 1) | act_taken),
                tag_last.eq((tag_last << 1) | moving.payload.last),
                tag_bank.eq((tag_bank << 1) | act_bank),
            ]
        tile_loaded = w_taken & w_sel[-1]
        tile_done = act_taken & moving.payload.last
        with m.If(w_taken):
            m.d.sync += w_sel.eq(w_sel.rotate_left(1))
        with m.If(tile_loaded):
            m.d.sync += load_bank.eq(~load_bank)
        with m.If(tile_done):
            m.d.sync += act_bank.eq(~act_bank)
        for b, flag in enumerate(loaded):
            # Filling and draining never touch the same bank in one cycle (a bank is full or empty).
            with m.If(tile_loaded & (load_bank == b)):
                m.d.sync += flag.eq(1)
            with m.If(tile_done & (act_bank == b)):
                m.d.sync += flag.eq(0)

        pes = self._grid(m, advance, act_bank, moving)
        for r in range(rows):
            for c in range(cols):
                m.d.comb += [
                    pes[r][c].load.eq(w_taken & w_sel[r]),
                    pes[r][c].load_bank.eq(load_bank),
                    pes[r][c].w_in.eq(held.payload[c]),
                ]
        return m

    def _grid(self, m: Module, advance: Signal, act_bank: Signal, moving) -> list[list[MacPE | SystolicFloatPE]]:
        """Instantiate the PEs, the input skew and the output de-skew, and wire them."""
        rows, cols = self.cfg.rows, self.cfg.cols
        dtype, acc = self.cfg.dtype_format, self.cfg.acc_format
        pes = [[make_pe(self.cfg) for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            # Row r starts r cycles late so its partial sums meet row r-1's on time.
            # The weight bank travels with the activation, so the bank switch sweeps the grid as a wavefront.
            skew = m.submodules[f"skew_{r}"] = DelayLine(dtype.width + 1, r)
            m.d.comb += [skew.en.eq(advance), skew.i.eq(Cat(moving.payload.data[r], act_bank))]
            for c in range(cols):
                pe = m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                first = c == 0
                psum_in = Const(0, FormatShape(acc)) if r == 0 else pes[r - 1][c].psum_out
                m.d.comb += [
                    pe.en.eq(advance),
                    pe.a_in.eq(skew.o[: dtype.width] if first else pes[r][c - 1].a_out),
                    pe.bank_in.eq(skew.o[-1] if first else pes[r][c - 1].bank_out),
                    pe.psum_in.eq(psum_in),
                ]
        for c in range(cols):
            # Column c finishes cols-1-c cycles before the last column: hold it back to align.
            deskew = m.submodules[f"deskew_{c}"] = DelayLine(FormatShape(acc), cols - 1 - c)
            m.d.comb += [
                deskew.en.eq(advance),
                deskew.i.eq(pes[rows - 1][c].psum_out),
                self.o_out.payload.data[c].eq(deskew.o),
            ]
        return pes
