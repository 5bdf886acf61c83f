"""FlightLLM-style sparse DSP chain: grouped cascade, reduction nodes, N:M multiplexers, stream ports."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.sparse_chain import SparseChainConfig, guard_bias
from hwgen.emulation.units.sparse_dsp_plan import latency
from hwgen.pe.sparse_dsp import ReductionNode, SparseDspSlice, cascade_layout, group_sum_width
from hwgen.rtl.delay_line import DelayLine
from hwgen.rtl.format_shape import FormatShape

__all__ = ["SparseDspChain", "act_layout", "out_layout", "weight_layout"]


def weight_layout(cfg: SparseChainConfig) -> data.StructLayout:
    """Payload of ``i_weight``: per-slice value and index, the mode code, ``last``."""
    return data.StructLayout(
        {
            "value": data.ArrayLayout(FormatShape(cfg.weight_format), cfg.length),
            "index": data.ArrayLayout(unsigned(cfg.index_bits), cfg.length),
            "mode": unsigned(cfg.mode_bits),
            "last": 1,
        }
    )


def act_layout(cfg: SparseChainConfig) -> data.StructLayout:
    """Payload of ``i_act``: ``window`` activations per token (token-major)."""
    lanes = data.ArrayLayout(FormatShape(cfg.act_format), cfg.window)
    return data.StructLayout({"data": data.ArrayLayout(lanes, cfg.tokens)})


def out_layout(cfg: SparseChainConfig) -> data.StructLayout:
    """Payload of ``o_out``: ``lanes`` int32 results per token; lane k is segment k (unused lanes 0)."""
    lanes = data.ArrayLayout(FormatShape(cfg.acc_format), cfg.lanes)
    return data.StructLayout({"data": data.ArrayLayout(lanes, cfg.tokens)})


def _mode_switch(m: Module, mode: Signal, cfg: SparseChainConfig, body, one_hot: bool = False) -> None:
    """Run ``body(code)`` under a case per sparse mode; dense (code 0) and unknown codes take the default."""
    with m.Switch(mode):
        for code in range(1, len(cfg.modes)):
            with m.Case(1 << code if one_hot else code):
                body(code)
        with m.Default():
            body(0)


def _decode_one_hot(m: Module, code: Signal, count: int) -> Signal:
    """One-hot of ``code`` over ``count`` modes from bit logic; codes ``>= count`` decode as mode 0."""
    one_hot = Signal(count, name="mode_in")
    for c in range(1, count):
        hit = Const(1, 1)
        for b in range(len(code)):
            hit = hit & (code[b] if (c >> b) & 1 else ~code[b])
        m.d.comb += one_hot[c].eq(hit)
    m.d.comb += one_hot[0].eq(~one_hot[1:].any() if count > 1 else 1)
    return one_hot


def _mode_flag(one_hot: Signal, flags: list[bool]):
    """A per-mode constant flag as the OR of the one-hot mode bits whose flag is set.

    Plain bit logic rather than a case of constants: Icarus never evaluates an
    ``always @*`` block whose right-hand sides are all constants if its selector keeps
    its initial value, and the flag would stay X.
    """
    flag = Const(0, 1)
    for code, set_ in enumerate(flags):
        if set_:
            flag = flag | one_hot[code]
    return flag


class SparseDspChain(wiring.Component):
    """Chain of ``length`` sparse DSP slices in groups, with run-time dense and N:M modes.

    Each cycle the chain joins one ``i_weight`` beat (a value and multiplexer index
    per slice, the mode code, ``last``) with one ``i_act`` beat (``window``
    activations per token, shared by all segments). Mode ``(n, m, s)`` cuts the chain
    into ``s`` segments (default ``m // n``) of ``length // s`` slices: slice ``p`` of
    a segment picks ``act[(p // n) * m + index]`` and the reduction node at each
    segment's first group breaks the cascade, so a beat yields ``s`` dot products over
    ``span = (length // s) * m // n`` dense positions (dense: one over the first
    ``length``). Only the multiplexer routing and the lane count depend on ``s``;
    ``s = n`` with ``window = length * m // n**2`` gives N results per cycle. Results
    are summed over beats (int32 wrap) and leave on ``o_out`` with the beat that
    carries ``last``; the mode must not change before it. The mode travels down the
    pipeline with each beat, so it can change from one output to the next without
    rebuilding. A packed chain runs
    two tokens per multiplier (see ``hwgen.emulation.sparse_chain``). One enable
    stalls the whole pipeline when ``o_out`` is not ready. Unknown mode codes act as
    dense.

    Golden model: ``hwgen.emulation.sparse_chain.run_chain``.

    Parameters
    ----------
    cfg : SparseChainConfig

    Members
    -------
    i_weight : In(stream.Signature(weight_layout(cfg)))
    i_act : In(stream.Signature(act_layout(cfg)))
    o_out : Out(stream.Signature(out_layout(cfg)))

    Latency
    -------
    ``D = n_groups + 3`` cycles from an accepted beat to its result
    (``sparse_chain_model.latency``). Throughput: one beat per cycle, ``length``
    multipliers busy; a stream of ``B`` beats takes ``B + D`` cycles.
    """

    def __init__(self, cfg: SparseChainConfig):
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
        depth = latency(self.cfg)
        advance = Signal()
        tag_valid = Signal(depth)  # tag_valid[s]: stage s holds a real beat
        tag_last = Signal(depth)
        # The beat's mode, one-hot (unknown codes decode as dense), travels with it down the pipeline.
        tag_mode = [Signal(len(self.cfg.modes), name=f"tag_mode{s}") for s in range(depth)]
        mode_in = _decode_one_hot(m, self.i_weight.payload.mode, len(self.cfg.modes))
        final = tag_valid[-1] & tag_last[-1]
        taken = Signal()
        m.d.comb += [
            advance.eq(~final | self.o_out.ready),
            self.i_weight.ready.eq(advance & self.i_act.valid),
            self.i_act.ready.eq(advance & self.i_weight.valid),
            taken.eq(self.i_weight.valid & self.i_act.valid & advance),
            self.o_out.valid.eq(final),
        ]
        with m.If(advance):
            m.d.sync += [
                tag_valid.eq((tag_valid << 1) | taken),
                tag_last.eq((tag_last << 1) | self.i_weight.payload.last),
                tag_mode[0].eq(mode_in),
            ]
            m.d.sync += [tag_mode[s].eq(tag_mode[s - 1]) for s in range(1, depth)]
        slices = self._slices(m, advance)
        sums = self._group_sums(m, advance, slices)
        ends = self._cascade(m, advance, sums, tag_mode)
        self._outputs(m, advance & tag_valid[-1], tag_last[-1], tag_mode[-1], ends)
        return m

    def _slices(self, m: Module, advance: Signal) -> list[SparseDspSlice]:
        """Instantiate the slices and route each one's multiplexer candidates for the beat's mode."""
        cfg, w = self.cfg, self.i_weight.payload
        slices = []
        for i in range(cfg.length):
            sl = m.submodules[f"slice_{i}"] = SparseDspSlice(cfg)
            m.d.comb += [sl.en.eq(advance), sl.index.eq(w.index[i]), sl.weight.eq(w.value[i])]
            slices.append(sl)

            def route(code, sl=sl, i=i):
                n, mm = cfg.nm(code)
                base = (i % cfg.segment(code)) // n * mm
                for t in range(cfg.tokens):
                    for j in range(cfg.candidates):
                        src = self.i_act.payload.data[t][base + j] if j < mm else 0
                        m.d.comb += sl.cand[t][j].eq(src)

            _mode_switch(m, w.mode, cfg, route)
        return slices

    def _group_sums(self, m: Module, advance: Signal, slices: list[SparseDspSlice]) -> list[Signal]:
        """Register each group's sum of products (plus the packed guard bias)."""
        cfg = self.cfg
        bias = guard_bias(cfg) if cfg.packed else 0
        sums = []
        for g in range(cfg.n_groups):
            s = Signal(signed(group_sum_width(cfg)), name=f"group_sum_{g}")
            members = slices[g * cfg.group_size : (g + 1) * cfg.group_size]
            total = members[0].product
            for sl in members[1:]:
                total = total + sl.product
            if bias:
                total = total + Const(bias)  # the narrower constant on the right: the waived lint form
            with m.If(advance):
                m.d.sync += s.eq(total)
            sums.append(s)
        return sums

    def _cascade(self, m: Module, advance: Signal, sums: list[Signal], tag_mode: list[Signal]) -> dict:
        """Reduction nodes along the registered cascade; return segment-end outputs aligned to the last stage."""
        cfg = self.cfg
        ends_any = {g for code in range(len(cfg.modes)) for g in cfg.segment_ends(code)}
        prev, aligned = None, {}
        for g, s in enumerate(sums):
            node = m.submodules[f"node_{g}"] = ReductionNode(cfg)
            # Group g meets the cascade g cycles after group 0: skew its sum by g.
            skew = m.submodules[f"skew_{g}"] = DelayLine(signed(group_sum_width(cfg)), g)
            m.d.comb += [skew.en.eq(advance), skew.i.eq(s), node.en.eq(advance), node.group.eq(skew.o)]
            if prev is not None:
                m.d.comb += node.casc_in.eq(prev.casc_out)

            starts = [(g * cfg.group_size) % cfg.segment(code) == 0 for code in range(len(cfg.modes))]
            m.d.comb += node.brk.eq(_mode_flag(tag_mode[2 + g], starts))
            if g in ends_any:
                deskew = m.submodules[f"deskew_{g}"] = DelayLine(cascade_layout(cfg), cfg.n_groups - 1 - g)
                m.d.comb += [deskew.en.eq(advance), deskew.i.eq(node.casc_out)]
                aligned[g] = deskew.o
            prev = node
        return aligned

    def _outputs(self, m: Module, retire: Signal, last: Signal, mode: Signal, ends: dict) -> None:
        """Pick each lane's segment for the beat's mode and sum beats until ``last``."""
        cfg = self.cfg
        acc_shape = FormatShape(cfg.acc_format)
        for t in range(cfg.tokens):
            for k in range(cfg.lanes):
                lane = Signal(acc_shape, name=f"lane_{t}_{k}")
                acc = Signal(acc_shape, name=f"acc_{t}_{k}")

                def pick(code, lane=lane, t=t, k=k):
                    seg_ends = cfg.segment_ends(code)
                    m.d.comb += lane.eq(ends[seg_ends[k]][t] if k < len(seg_ends) else 0)

                _mode_switch(m, mode, cfg, pick, one_hot=True)
                m.d.comb += self.o_out.payload.data[t][k].eq(acc + lane)
                with m.If(retire):
                    m.d.sync += acc.eq(Mux(last, 0, acc + lane))
