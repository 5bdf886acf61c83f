"""One DRAM bank of a PIM channel: burst storage, ``lanes`` multipliers and a MAC register."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.emulation.pim_model import PimConfig
from hwgen.pe.fp_mac import FpMul
from hwgen.rtl.format_shape import FormatShape
from hwgen.rtl.fp_add import FpAdd, unpack_code

__all__ = ["PimBank", "PimFloatDot", "burst_layout"]


def burst_layout(cfg: PimConfig) -> data.ArrayLayout:
    """One column burst: ``lanes`` values of the lane format, lane 0 in the low bits."""
    return data.ArrayLayout(FormatShape(cfg.dtype_format), cfg.lanes)


class PimFloatDot(wiring.Component):
    """Float MAC of one column burst: ``result = RNE_acc(acc + tree(w * x))``; combinational.

    ``lanes`` exact multipliers (:class:`~hwgen.pe.fp_mac.FpMul`) feed a pairwise tree of
    :class:`~hwgen.rtl.fp_add.FpAdd` (adjacent pairs, one rounding into the accumulator
    format per node, an odd last node carried up unchanged); the tree's root is added
    to ``acc`` by one more ``FpAdd``. Every NaN result is ``acc_format.nan_code``.

    Golden model: :func:`hwgen.emulation.pim_model.float_mac`.

    Parameters
    ----------
    cfg : PimConfig
        A config with float lanes (``cfg.is_float``).

    Members
    -------
    w, x : In(burst_layout(cfg))
    acc : In(FormatShape(acc))
    result : Out(FormatShape(acc))

    Latency
    -------
    0 cycles (combinational): a multiplier, ``ceil(log2(lanes))`` tree adders and the
    accumulator adder in one path.
    """

    def __init__(self, cfg: PimConfig):
        if not cfg.is_float:
            raise ValueError(f"PimFloatDot needs float lanes; got dtype={cfg.dtype}")
        self.cfg = cfg
        acc = FormatShape(cfg.acc_format)
        super().__init__({"w": In(burst_layout(cfg)), "x": In(burst_layout(cfg)), "acc": In(acc), "result": Out(acc)})

    def elaborate(self, platform):
        m = Module()
        cfg, fmt = self.cfg, self.cfg.acc_format
        nodes = []
        for lane in range(cfg.lanes):
            mul = m.submodules[f"mul_{lane}"] = FpMul(cfg.dtype_format)
            m.d.comb += [mul.a.eq(self.w[lane]), mul.b.eq(self.x[lane])]
            nodes.append(mul.product)
        level = 0
        while len(nodes) > 1:
            pairs = []
            for i in range(0, len(nodes) - 1, 2):
                add = self._add(m, f"add_{level}_{i // 2}", nodes[i], nodes[i + 1])
                pairs.append(unpack_code(m, fmt, add.result.as_value()))
            nodes = pairs + nodes[len(pairs) * 2 :]
            level += 1
        root = self._add(m, "add_acc", unpack_code(m, fmt, self.acc.as_value()), nodes[0])
        m.d.comb += self.result.eq(root.result)
        return m

    def _add(self, m: Module, name: str, x, y) -> FpAdd:
        """A new ``FpAdd`` submodule ``name`` fed with the unpacked nodes ``x`` and ``y``."""
        add = m.submodules[name] = FpAdd(self.cfg.acc_format, x.shape(), y.shape())
        m.d.comb += [add.x.eq(x), add.y.eq(y)]
        return add


class PimBank(wiring.Component):
    """A bank of ``rows x cols`` bursts with a dot-product MAC lane set.

    Storage is one ``amaranth.lib.memory.Memory`` of bursts at word address
    ``{row, col}`` (``rows << ceil(log2(cols))`` words) with a synchronous read port and a write port. A MAC issued
    at cycle ``t`` (``mac`` high, address and ``gb`` read started at ``t``) updates
    ``acc`` at the end of cycle ``t + 1``:
    ``acc = wrap(acc + sum_l w[l] * x[l])`` with exact products (integer lanes), or
    ``acc = PimFloatDot(acc, w, x)`` (float lanes). ``bias_we`` loads ``acc``.

    Golden model: ``hwgen.emulation.pim_model.PimModel`` (MAC_ABK / MAC_SBK / WR_BIAS).

    Parameters
    ----------
    cfg : PimConfig

    Members
    -------
    row, col : In
        Address of this cycle's read / write.
    we : In(1)
        Write ``wdata`` at the address.
    wdata : In(burst_layout(cfg))
    rdata : Out(burst_layout(cfg))
        The burst at the address of the previous cycle.
    mac : In(1)
        Start a MAC with the burst at the address.
    gb : In(burst_layout(cfg))
        Global-buffer burst, valid the cycle after ``mac``.
    bias_we : In(1)
    bias : In(FormatShape(acc))
    acc : Out(FormatShape(acc))

    Latency
    -------
    Read: 1 cycle. MAC: ``acc`` holds the result 2 cycles after ``mac``; one MAC per
    2 cycles (the controller spaces column commands by tCCD >= 2).
    """

    def __init__(self, cfg: PimConfig):
        self.cfg = cfg
        acc = FormatShape(cfg.acc_format)
        super().__init__(
            {
                "row": In(max(1, (cfg.rows - 1).bit_length())),
                "col": In(max(1, (cfg.cols - 1).bit_length())),
                "we": In(1),
                "wdata": In(burst_layout(cfg)),
                "rdata": Out(burst_layout(cfg)),
                "mac": In(1),
                "gb": In(burst_layout(cfg)),
                "bias_we": In(1),
                "bias": In(acc),
                "acc": Out(acc),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        # Word address {row, col}: a concatenation, not row * cols + col, so no adder and no
        # width-mismatch lint; rows are padded to a power-of-two number of columns.
        col_bits = max(1, (cfg.cols - 1).bit_length())
        m.submodules.mem = mem = Memory(shape=burst_layout(cfg), depth=cfg.rows << col_bits, init=[])
        addr = Cat(self.col, self.row)
        rd = mem.read_port()
        wr = mem.write_port()
        m.d.comb += [
            rd.addr.eq(addr),
            self.rdata.eq(rd.data),
            wr.addr.eq(addr),
            wr.en.eq(self.we),
            wr.data.eq(self.wdata),
        ]
        mac_pending = Signal()
        m.d.sync += mac_pending.eq(self.mac)
        with m.If(self.bias_we):
            m.d.sync += self.acc.eq(self.bias)
        with m.Elif(mac_pending):
            m.d.sync += self.acc.eq(self._mac(m, rd.data))
        return m

    def _mac(self, m: Module, w):
        """The accumulator after a MAC of burst ``w`` with the global-buffer burst."""
        cfg = self.cfg
        if cfg.is_float:
            m.submodules.dot = dot = PimFloatDot(cfg)
            m.d.comb += [dot.w.eq(w), dot.x.eq(self.gb), dot.acc.eq(self.acc)]
            return dot.result
        # Exact products into an adder tree wide enough for every lane sum.
        # The dot product is wrapped to the accumulator width first (same result modulo
        # 2**width), so both adder operands have the accumulator's width.
        dot = Signal(FormatShape(cfg.acc_format))
        m.d.comb += dot.eq(sum(w[lane].as_signed() * self.gb[lane].as_signed() for lane in range(cfg.lanes)))
        return self.acc + dot
