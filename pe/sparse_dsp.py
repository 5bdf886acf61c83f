"""Sparse DSP slice (multiplexer + multiplier, optionally two packed tokens) and the group reduction node."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.sparse_chain import SparseChainConfig, guard_bias
from hwgen.rtl.format_shape import FormatShape

__all__ = ["ReductionNode", "SparseDspSlice", "cascade_layout", "group_sum_width", "product_width"]


def product_width(cfg: SparseChainConfig) -> int:
    """Bits of a slice product: act x weight, or ``(a1*2**k + a0) * w`` when packed."""
    operand = cfg.act_format.width + (cfg.pack_shift if cfg.packed else 0)
    return operand + cfg.weight_format.width


def group_sum_width(cfg: SparseChainConfig) -> int:
    """Bits of a group sum register: the int32 result, or ``k + 32`` for the packed sum."""
    return cfg.acc_format.width + (cfg.pack_shift if cfg.packed else 0)


def cascade_layout(cfg: SparseChainConfig) -> data.ArrayLayout:
    """One int32 cascade value per token."""
    return data.ArrayLayout(FormatShape(cfg.acc_format), cfg.tokens)


class SparseDspSlice(wiring.Component):
    """One DSP slice: sparse multiplexer, input registers, multiplier, product register.

    On an enabled cycle the multiplexer picks ``cand[t][index]`` for every token and
    registers it with ``weight`` (the DSP's A/B registers); the next enabled cycle
    registers the product (the M register). Unpacked: ``a * w``. Packed (two
    tokens): ``(a1 * 2**k + a0) * w`` in one multiplier, which the reduction node
    splits (``hwgen.emulation.sparse_chain.split_packed``).

    Golden model: ``hwgen.emulation.sparse_chain.select_activations`` (the pick) and
    ``group_partials`` (the products, summed per group).

    Parameters
    ----------
    cfg : SparseChainConfig

    Members
    -------
    en : In(1)
        Advance the pipeline.
    cand : In(ArrayLayout(ArrayLayout(act, cfg.candidates), cfg.tokens))
        Candidate activations of this slice for the current mode.
    index : In(cfg.index_bits)
        Which candidate matches the weight.
    weight : In(FormatShape(weight format))
    product : Out(signed(product_width(cfg)))

    Latency
    -------
    2 enabled cycles; one product per cycle.
    """

    def __init__(self, cfg: SparseChainConfig):
        self.cfg = cfg
        act = FormatShape(cfg.act_format)
        super().__init__(
            {
                "en": In(1),
                "cand": In(data.ArrayLayout(data.ArrayLayout(act, cfg.candidates), cfg.tokens)),
                "index": In(cfg.index_bits),
                "weight": In(FormatShape(cfg.weight_format)),
                "product": Out(signed(product_width(cfg))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        acts = [Signal(FormatShape(cfg.act_format), name=f"a{t}") for t in range(cfg.tokens)]
        weight = Signal(FormatShape(cfg.weight_format))
        with m.If(self.en):
            m.d.sync += weight.eq(self.weight)
            # The sparse multiplexer: an explicit case per candidate (out-of-range indices pick 0).
            with m.Switch(self.index):
                for j in range(cfg.candidates):
                    with m.Case(j):
                        m.d.sync += [a.eq(self.cand[t][j]) for t, a in enumerate(acts)]
                with m.Default():
                    m.d.sync += [a.eq(0) for a in acts]
            if cfg.packed:
                # The packed operand fits act.width + k bits: a1 * 2**k + a0 with |a0| < 2**k.
                operand = (acts[1] << cfg.pack_shift) + acts[0]
            else:
                operand = acts[0]
            m.d.sync += self.product.eq(operand * weight)
        return m


class ReductionNode(wiring.Component):
    """Reduction node at the end of a DSP group: adds the group result into the cascade or breaks it.

    Registers ``casc_out[t] = (brk ? 0 : casc_in[t]) + part[t]`` (int32 wrap), where
    ``part`` is the group sum itself, or, for a packed group sum ``S``, its split
    ``part[0] = sext(S mod 2**k) - beta`` and ``part[1] = (S >> k) + S[k-1]`` (the
    borrow correction). Golden model: ``hwgen.emulation.sparse_chain.split_packed``
    and ``chain_beat``.

    Parameters
    ----------
    cfg : SparseChainConfig

    Members
    -------
    en : In(1)
    brk : In(1)
        Start a new segment: feed zero instead of the incoming cascade.
    group : In(signed(group_sum_width(cfg)))
    casc_in : In(cascade_layout(cfg))
    casc_out : Out(cascade_layout(cfg))

    Latency
    -------
    1 enabled cycle.
    """

    def __init__(self, cfg: SparseChainConfig):
        self.cfg = cfg
        super().__init__(
            {
                "en": In(1),
                "brk": In(1),
                "group": In(signed(group_sum_width(cfg))),
                "casc_in": In(cascade_layout(cfg)),
                "casc_out": Out(cascade_layout(cfg)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        acc = FormatShape(cfg.acc_format)
        # Each token's group contribution and the constant that goes with it (the packed bias).
        if cfg.packed:
            k = cfg.pack_shift
            field = Signal(signed(k))  # sign-extended by the addition below
            hi = Signal(acc)
            m.d.comb += [field.eq(self.group[:k]), hi.eq(self.group[k:] + self.group[k - 1])]
            parts = [(field, -guard_bias(cfg)), (hi, 0)]
        else:
            parts = [(self.group, 0)]
        for t, (part, const) in enumerate(parts):
            incoming = Signal(acc, name=f"in{t}")  # signed view of the cascade lane
            m.d.comb += incoming.eq(self.casc_in[t])
            # The full-width cascade stays on the left of every add: the form the lint waiver expects.
            total = Mux(self.brk, 0, incoming) + part
            if const:
                total = total + Const(const, signed(acc.as_shape().width))
            with m.If(self.en):
                m.d.sync += self.casc_out[t].eq(total)
        return m
