"""DRAM processing-in-memory channel: banks with MAC lanes, a global buffer and a timing-checked controller."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.emulation.pim_model import (
    BANK_OPS,
    BANK_READ_OPS,
    COL_OPS,
    COLUMN_OPS,
    REG_OPS,
    PimConfig,
    PimOp,
)
from hwgen.pe.pim_bank import PimBank, burst_layout
from hwgen.rtl.format_shape import FormatShape

__all__ = ["PimChannel", "cmd_layout", "field_bits", "out_layout"]

_OP_BITS = 4


def field_bits(count: int) -> int:
    """Width of an address field able to hold ``0..count-1`` (at least 1 bit)."""
    return max(1, (count - 1).bit_length())


def cmd_layout(cfg: PimConfig) -> data.StructLayout:
    """Payload of ``i_cmd``, low bits first: op, bank, row, col, data (lanes), bias (one per bank)."""
    return data.StructLayout(
        {
            "op": _OP_BITS,
            "bank": field_bits(cfg.banks),
            "row": field_bits(cfg.rows),
            "col": field_bits(cfg.cols),
            "data": burst_layout(cfg),
            "bias": data.ArrayLayout(FormatShape(cfg.acc_format), cfg.banks),
        }
    )


def out_layout(cfg: PimConfig) -> data.StructLayout:
    """Payload of ``o_out``: op (RD or RD_MAC), data (RD: lanes), mac (RD_MAC: one per bank)."""
    return data.StructLayout(
        {
            "op": _OP_BITS,
            "data": burst_layout(cfg),
            "mac": data.ArrayLayout(FormatShape(cfg.acc_format), cfg.banks),
        }
    )


def _any_op(ops: dict, names) -> object:
    return Cat(*(ops[o] for o in sorted(names))).any()


class PimChannel(wiring.Component):
    """One PIM channel executing a command stream under DRAM timing (GDDR6-AiM style).

    Each accepted ``i_cmd`` beat is one command (``hwgen.emulation.pim_model.PimOp``):
    WR_GB, WR_BIAS, MAC_ABK, MAC_SBK, RD_MAC, RD, WR, ACT, ACT_ABK, PRE, PRE_ABK. The
    head command is accepted in the first cycle at which every ``PimTiming`` constraint
    holds (per-bank tRP / tRAS / tRCD / tRCD_MAC counters, tCCD, tRTP, tWR, tRTW, tRRD, a
    four-slot tFAW window, the read-return slot, refresh). A command of the other mode
    (register mode: WR_GB, WR_BIAS, RD_MAC; bank mode: the rest) is held while the channel
    changes mode: at the cycle it could issue, the mode flips and every command waits
    ``tMOD`` cycles. A command that is illegal in the current
    state (MAC on a bank with no open row, ACT to an open bank, address out of range,
    unknown op) is accepted at once, does nothing and sets the sticky ``error``.
    RD / RD_MAC results appear on ``o_out`` ``tCL`` / ``tCL_MAC`` cycles after issue and are held
    until taken. Lanes and MAC registers follow ``cfg.dtype`` / ``cfg.acc`` (integer lanes
    into a wrapping register, or bfloat16 lanes into float32, see
    :class:`~hwgen.pe.pim_bank.PimBank`); the timing does not depend on them.

    Golden model: ``hwgen.emulation.pim_model.PimModel`` (values and the issue cycle of
    every command, with a never-idle source and a never-stalling sink).

    Parameters
    ----------
    cfg : PimConfig

    Members
    -------
    i_cmd : In(stream.Signature(cmd_layout(cfg)))
    o_out : Out(stream.Signature(out_layout(cfg)))
    error : Out(1)
        Sticky: an illegal command was dropped.

    Latency
    -------
    One command per cycle at most; RD / RD_MAC data after ``tCL`` / ``tCL_MAC`` cycles; a MAC is in
    its bank's accumulator two cycles after issue.
    """

    def __init__(self, cfg: PimConfig):
        self.cfg = cfg
        super().__init__(
            {
                "i_cmd": In(stream.Signature(cmd_layout(cfg))),
                "o_out": Out(stream.Signature(out_layout(cfg))),
                "error": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg, cmd = self.cfg, self.i_cmd.payload
        c = SimpleNamespace(ops={o: Signal(name=f"is_{o.name.lower()}") for o in PimOp})
        # Case statements, not `==` against constants: Yosys would narrow the constants and
        # Verilator's width lint would flag every comparison.
        with m.Switch(cmd.op):
            for o, sig in c.ops.items():
                with m.Case(o):
                    m.d.comb += sig.eq(1)
            with m.Default():
                m.d.comb += [sig.eq(0) for sig in c.ops.values()]
        c.open = Signal(cfg.banks)
        c.open_row = [Signal(field_bits(cfg.rows), name=f"open_row_{b}") for b in range(cfg.banks)]
        c.sel = Signal(cfg.banks)  # one-hot of cmd.bank; 0 when out of range
        c.err, c.ok, c.issue, c.rd_busy = Signal(), Signal(), Signal(), Signal()
        c.act, c.mode_flip = Signal(), Signal()
        with m.Switch(cmd.bank):
            for b in range(cfg.banks):
                with m.Case(b):
                    m.d.comb += c.sel[b].eq(1)
            with m.Default():
                m.d.comb += c.sel.eq(0)
        m.d.comb += [
            c.act.eq(c.ops[PimOp.ACT] | c.ops[PimOp.ACT_ABK]),
            self.i_cmd.ready.eq(c.ok & ~c.mode_flip | c.err),
            c.issue.eq(self.i_cmd.valid & c.ok & ~c.err & ~c.mode_flip),
        ]
        with m.If(self.i_cmd.valid & c.err):
            m.d.sync += self.error.eq(1)
        self._legality(m, c)
        self._mode(m, c)
        self._timers(m, c)
        self._readiness(m, c)
        self._row_state(m, c)
        self._datapath(m, c)
        return m

    def _legality(self, m: Module, c) -> None:
        """``c.err``: the head command is malformed or illegal in the current bank state."""
        cfg, cmd, ops = self.cfg, self.i_cmd.payload, c.ops
        bad = []
        if cfg.banks < 1 << field_bits(cfg.banks):
            bad.append(_any_op(ops, BANK_OPS) & (cmd.bank >= cfg.banks))
        if cfg.rows < 1 << field_bits(cfg.rows):
            bad.append(c.act & (cmd.row >= cfg.rows))
        if cfg.cols < 1 << field_bits(cfg.cols):
            bad.append(_any_op(ops, COL_OPS) & (cmd.col >= cfg.cols))
        bank_open = (c.open & c.sel).any()
        bad += [
            cmd.op > int(max(PimOp)),
            ops[PimOp.ACT] & bank_open,
            ops[PimOp.ACT_ABK] & c.open.any(),
            _any_op(ops, (PimOp.RD, PimOp.WR, PimOp.MAC_SBK)) & ~bank_open,
            ops[PimOp.MAC_ABK] & ~c.open.all(),
        ]
        m.d.comb += c.err.eq(Cat(*bad).any())

    def _mode(self, m: Module, c) -> None:
        """Register / bank mode: ``c.mode_flip`` spends the head command's issue slot on a mode change."""
        tm = self.cfg.timing
        if not tm.tMOD:
            c.mod_z = Const(1)
            return
        reg_mode = Signal()  # reset: bank mode
        # The head command needs the other mode and could issue now: flip instead of issuing it.
        m.d.comb += c.mode_flip.eq(self.i_cmd.valid & c.ok & ~c.err & (_any_op(c.ops, REG_OPS) ^ reg_mode))
        with m.If(c.mode_flip):
            m.d.sync += reg_mode.eq(~reg_mode)
        c.mod_z = _countdown(m, "mod", c.mode_flip, tm.tMOD)

    def _timers(self, m: Module, c) -> None:
        """Countdown counters: a counter is 0 in the first cycle its constraint allows."""
        cfg, tm, ops = self.cfg, self.cfg.timing, c.ops
        c.act_mask, c.pre_mask = Signal(cfg.banks), Signal(cfg.banks)
        pre = ops[PimOp.PRE] | ops[PimOp.PRE_ABK]
        m.d.comb += [
            c.act_mask.eq(Mux(ops[PimOp.ACT_ABK], (1 << cfg.banks) - 1, c.sel)),
            c.pre_mask.eq(Mux(ops[PimOp.PRE_ABK], c.open, c.sel & c.open)),
        ]
        act_issue = c.issue & c.act
        c.ccd_z = _countdown(m, "ccd", c.issue & _any_op(ops, COLUMN_OPS), tm.tCCD)
        c.rtp_z = _countdown(m, "rtp", c.issue & _any_op(ops, BANK_READ_OPS), tm.tRTP)
        c.wr_z = _countdown(m, "wr", c.issue & ops[PimOp.WR], tm.tWR)
        c.rrd_z = _countdown(m, "rrd", act_issue, tm.tRRD)
        # tFAW: four slots in a ring; the slot the next ACT takes holds the 4th-last ACT.
        faw_sel = Signal(4, init=1)
        with m.If(act_issue):
            m.d.sync += faw_sel.eq(faw_sel.rotate_left(1))
        faw = Cat(*(_countdown(m, f"faw_{i}", act_issue & faw_sel[i], tm.tFAW) for i in range(4)))
        c.faw_ok = Signal()
        m.d.comb += c.faw_ok.eq((faw & faw_sel).any())
        trcd = Mux(ops[PimOp.ACT_ABK], tm.tRCD_MAC - 1, tm.tRCD - 1)
        c.rp_z, c.ras_z, c.rcd_z = Signal(cfg.banks), Signal(cfg.banks), Signal(cfg.banks)
        for b in range(cfg.banks):
            m.d.comb += [
                c.rp_z[b].eq(_countdown(m, f"rp_{b}", c.issue & pre & c.pre_mask[b], tm.tRP)),
                c.ras_z[b].eq(_countdown(m, f"ras_{b}", act_issue & c.act_mask[b], tm.tRAS)),
                c.rcd_z[b].eq(_countdown(m, f"rcd_{b}", act_issue & c.act_mask[b], max(tm.tRCD, tm.tRCD_MAC), trcd)),
            ]
        self._refresh(m, c)

    def _refresh(self, m: Module, c) -> None:
        """All-bank refresh: due every tREFI, started at the head ACT once every bank is closed."""
        tm = self.cfg.timing
        c.ref_block, c.ref_start = Signal(), Signal()
        if not tm.refresh:
            c.rfc_z = Const(1)
            return
        timer = Signal(range(tm.tREFI + 1), init=tm.tREFI)
        with m.If(c.ref_start):
            m.d.sync += timer.eq(tm.tREFI - 1)
        with m.Elif(timer.any()):
            m.d.sync += timer.eq(timer - 1)
        c.rfc_z = _countdown(m, "rfc", c.ref_start, tm.tRFC)
        m.d.comb += [
            c.ref_block.eq(~timer.any() & ~c.open.any()),
            c.ref_start.eq(self.i_cmd.valid & c.act & ~c.err & c.ref_block & c.rp_z.all() & c.rfc_z & c.mod_z),
        ]

    def _readiness(self, m: Module, c) -> None:
        """``c.ok``: every timing constraint of the head command holds this cycle."""
        ops, colz = c.ops, c.ccd_z
        bank_rcd = (c.rcd_z & c.sel).any()
        act_ok = ~c.ref_block & c.rrd_z & c.faw_ok & c.rfc_z
        pre_ok = c.rtp_z & c.wr_z
        some_open = c.open.any()
        # rtw_z lives in _datapath (it is loaded with the read's latency); declared here.
        c.rtw_z = Signal()
        wr_colz = colz & c.rtw_z
        m.d.comb += c.ok.eq(
            c.mod_z
            & (
                (ops[PimOp.WR_GB] | ops[PimOp.WR_BIAS]) & wr_colz
                | ops[PimOp.MAC_ABK] & colz & c.rcd_z.all()
                | ops[PimOp.MAC_SBK] & colz & bank_rcd
                | ops[PimOp.WR] & wr_colz & bank_rcd
                | ops[PimOp.RD] & colz & bank_rcd & ~c.rd_busy
                | ops[PimOp.RD_MAC] & colz & ~c.rd_busy
                | ops[PimOp.ACT] & act_ok & (c.rp_z & c.sel).any()
                | ops[PimOp.ACT_ABK] & act_ok & c.rp_z.all()
                | ops[PimOp.PRE] & (~(c.open & c.sel).any() | (c.ras_z & c.sel).any() & pre_ok)
                | ops[PimOp.PRE_ABK] & (c.ras_z | ~c.open).all() & (pre_ok | ~some_open)
            )
        )

    def _row_state(self, m: Module, c) -> None:
        """Which banks are open, and on which row."""
        ops = c.ops
        with m.If(c.issue & c.act):
            m.d.sync += c.open.eq(c.open | c.act_mask)
            for b, row in enumerate(c.open_row):
                with m.If(c.act_mask[b]):
                    m.d.sync += row.eq(self.i_cmd.payload.row)
        with m.If(c.issue & (ops[PimOp.PRE] | ops[PimOp.PRE_ABK])):
            m.d.sync += c.open.eq(c.open & ~c.pre_mask)

    def _datapath(self, m: Module, c) -> None:
        """Banks, global buffer and the read-return register."""
        cfg, cmd, ops = self.cfg, self.i_cmd.payload, c.ops
        m.submodules.gb = gb = Memory(shape=burst_layout(cfg), depth=cfg.cols, init=[])
        gb_rd, gb_wr = gb.read_port(), gb.write_port()
        m.d.comb += [
            gb_rd.addr.eq(cmd.col),
            gb_wr.addr.eq(cmd.col),
            gb_wr.en.eq(c.issue & ops[PimOp.WR_GB]),
            gb_wr.data.eq(cmd.data),
        ]
        out = Signal(out_layout(cfg))
        rd_capture, rd_sel = Signal(), Signal(cfg.banks)
        m.d.sync += [rd_capture.eq(c.issue & ops[PimOp.RD]), rd_sel.eq(c.sel)]
        for b in range(cfg.banks):
            bank = m.submodules[f"bank_{b}"] = PimBank(cfg)
            m.d.comb += [
                bank.row.eq(c.open_row[b]),
                bank.col.eq(cmd.col),
                bank.we.eq(c.issue & ops[PimOp.WR] & c.sel[b]),
                bank.wdata.eq(cmd.data),
                bank.mac.eq(c.issue & (ops[PimOp.MAC_ABK] | ops[PimOp.MAC_SBK] & c.sel[b])),
                bank.gb.eq(gb_rd.data),
                bank.bias_we.eq(c.issue & ops[PimOp.WR_BIAS]),
                bank.bias.eq(cmd.bias[b]),
            ]
            with m.If(c.issue & ops[PimOp.RD_MAC]):
                m.d.sync += out.mac[b].eq(bank.acc)
            with m.If(rd_capture & rd_sel[b]):
                m.d.sync += out.data.eq(bank.rdata)
        tm = cfg.timing
        read = c.issue & (ops[PimOp.RD] | ops[PimOp.RD_MAC])
        is_mac = ops[PimOp.RD_MAC]
        latency_z = _countdown(m, "tcl", read, max(tm.tCL, tm.tCL_MAC), Mux(is_mac, tm.tCL_MAC - 1, tm.tCL - 1))
        # Read-to-write turnaround, counted from the read's data beat (latency + tRTW >= 1).
        rtw_load = Mux(is_mac, tm.tCL_MAC + tm.tRTW - 1, tm.tCL + tm.tRTW - 1)
        m.d.comb += c.rtw_z.eq(_countdown(m, "rtw", read, max(tm.tCL, tm.tCL_MAC) + tm.tRTW, rtw_load))
        with m.If(read):
            m.d.sync += [c.rd_busy.eq(1), out.op.eq(cmd.op)]
        with m.Elif(self.o_out.valid & self.o_out.ready):
            m.d.sync += c.rd_busy.eq(0)
        m.d.comb += [self.o_out.valid.eq(c.rd_busy & latency_z), self.o_out.payload.eq(out)]


def _countdown(m: Module, name: str, load, t: int, load_value=None):
    """A counter loaded with ``t - 1``; returns its "is zero" flag, high from ``t`` cycles after ``load``."""
    cnt = Signal(range(max(t, 2)), name=f"{name}_cnt")
    with m.If(load):
        m.d.sync += cnt.eq(t - 1 if load_value is None else load_value)
    with m.Elif(cnt.any()):
        m.d.sync += cnt.eq(cnt - 1)
    # .any() rather than == 0: Yosys writes `!cnt`, which Verilator's width lint flags.
    return ~cnt.any()
