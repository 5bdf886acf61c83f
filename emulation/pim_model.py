"""Event-driven, cycle-accurate golden model of a DRAM processing-in-memory channel (AiM style)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .float_format import FloatFormat
from .formats import get_format
from .int_format import IntFormat
from .pim_commands import BANK_OPS, BANK_READ_OPS, COL_OPS, COLUMN_OPS, REG_OPS, WRITE_OPS, PimCommand, PimOp
from .pim_lanes import float_mac, lane_tree

__all__ = [
    "PimCommand",
    "PimCommandError",
    "PimConfig",
    "PimModel",
    "PimOp",
    "PimOutput",
    "PimRun",
    "PimTiming",
    "QUICK_TIMING",
    "REG_OPS",
    "float_mac",
    "lane_tree",
    "run_program",
]

_INT_ACCS = ("int16", "int32")
#: Lane format of weights and global-buffer values -> allowed MAC-register accumulators
#: (integers wrap; float32 rounds to nearest even).
DTYPE_ACCS = {"int4": _INT_ACCS, "int8": _INT_ACCS, "int16": _INT_ACCS, "bfloat16": ("float32",)}
DTYPES = tuple(DTYPE_ACCS)
ACCS = (*_INT_ACCS, "float32")
#: Largest banks / rows / cols / lanes a config may describe.
LIMITS = {"banks": 64, "rows": 1 << 17, "cols": 1024, "lanes": 64}


def _check_int(field: str, value, lo: int, hi: int | None = None) -> None:
    bad = isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi)
    if bad:
        raise ConfigError(field, value, f"an integer from {lo}" + (f" to {hi}" if hi is not None else " up"))


#: Smallest allowed value of the timing fields that may not be 1 (the rest: >= 1).
_TIMING_MIN = {"tCCD": 2, "tCL": 2, "tRTP": 2, "tRTW": 0, "tMOD": 0}


@dataclass(frozen=True)
class PimTiming:
    """DRAM timing of one channel in controller clock cycles (defaults: GDDR6-AiM at tCK 0.5 ns).

    Every constraint is "cycle of command B >= cycle of command A + t". The controller
    issues at most one command per cycle, in order. The defaults are the
    ``GDDR6_AiM_timing`` preset of SK hynix's AiM simulator (Ramulator 2.0 based;
    ``src/dram/impl/GDDR6.cpp`` of github.com/arkhadem/aim_simulator and its fork
    cornell-m3/aim_simulator), with AiM's ``nRCDRDMAC`` as ``tRCD_MAC`` and ``nRRDL`` as ``tRRD``.

    Parameters
    ----------
    tRCD : int
        ACT (one bank) to a column command on that bank.
    tRCD_MAC : int
        ACT_ABK (all banks) to a column command on any bank.
    tRP : int
        PRE to ACT on the same bank (and to a refresh).
    tRAS : int
        ACT to PRE on the same bank.
    tCCD : int
        Column command to column command, and last column command to PRE (>= 2: the
        MAC pipeline is two cycles deep).
    tRRD : int
        ACT / ACT_ABK to the next ACT / ACT_ABK.
    tFAW : int
        At most four ACT / ACT_ABK in any ``tFAW`` window.
    tCL : int
        RD issue to its data on ``o_out`` (>= 2).
    tCL_MAC : int
        RD_MAC issue to its data on ``o_out`` (AiM: register read ``nCLREG + nBL`` = 0 + 2).
    tRTP : int
        MAC_ABK / MAC_SBK / RD to PRE / PRE_ABK (AiM ``nRTP``; >= 2: the MAC pipeline is two cycles deep).
    tWR : int
        WR to PRE / PRE_ABK, write recovery (AiM ``nCWL + nBL + nWR`` = 6 + 2 + 33).
    tRTW : int
        Read-to-write bus turnaround: a WR / WR_GB / WR_BIAS issues at the earliest ``tRTW``
        cycles after the previous RD / RD_MAC data beat (AiM RDMAC16 to WRMAC16 is
        ``nCLREG + nBL + 3 - nCWLREG + nWPRE`` = 5 after issue, i.e. 3 after the data).
    tMOD : int
        Mode change (AiM ``TMOD``, ``nMODCH``). WR_GB, WR_BIAS and RD_MAC run in register
        mode, every other command in bank mode (the mode after reset). A command whose
        mode differs from the current one first spends its would-be issue cycle on a
        mode change, then waits ``tMOD`` cycles more. 0: no modes, no mode changes.
    refresh : bool
        Perform all-bank refreshes.
    tREFI : int
        Refresh interval: a refresh is due ``tREFI`` cycles after reset and after each refresh start.
    tRFC : int
        Refresh to the next ACT.
    """

    tRCD: int = 36  # noqa: N815
    tRCD_MAC: int = 56  # noqa: N815
    tRP: int = 32  # noqa: N815
    tRAS: int = 54  # noqa: N815
    tCCD: int = 2  # noqa: N815
    tRRD: int = 11  # noqa: N815
    tFAW: int = 42  # noqa: N815
    tCL: int = 50  # noqa: N815
    tCL_MAC: int = 2  # noqa: N815
    tRTP: int = 12  # noqa: N815
    tWR: int = 41  # noqa: N815
    tRTW: int = 3  # noqa: N815
    tMOD: int = 32  # noqa: N815
    refresh: bool = True
    tREFI: int = 3333  # noqa: N815
    tRFC: int = 210  # noqa: N815

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name != "refresh":
                lo = _TIMING_MIN.get(f.name, 1)
                _check_int(f.name, getattr(self, f.name), lo, 1 << 16)
        if not isinstance(self.refresh, bool):
            raise ConfigError("refresh", self.refresh, "True or False")
        if self.tREFI <= self.tRFC + self.tRP:
            raise ConfigError("tREFI", self.tREFI, f"an integer above tRFC + tRP = {self.tRFC + self.tRP}")


#: Short timings that keep every rule of :class:`PimTiming` binding (mode changes and refresh
#: included), so a simulation of a few commands exercises them all in a few hundred cycles.
QUICK_TIMING = PimTiming(
    tRCD=5,
    tRCD_MAC=7,
    tRP=4,
    tRAS=9,
    tCCD=2,
    tRRD=3,
    tFAW=16,
    tCL=4,
    tCL_MAC=2,
    tRTP=3,
    tWR=5,
    tRTW=2,
    tMOD=3,
    refresh=True,
    tREFI=90,
    tRFC=9,
)


@dataclass(frozen=True)
class PimConfig:
    """One PIM channel: banks of ``rows x cols`` bursts of ``lanes`` values, a global buffer, MAC lanes.

    Parameters
    ----------
    banks : int
        Banks per channel (1..64); each has ``lanes`` multipliers and one MAC register.
    rows : int
        DRAM rows per bank.
    cols : int
        Column bursts per DRAM row; the global buffer holds ``cols`` bursts too.
    lanes : int
        Values per burst (multipliers per bank).
    dtype : str
        Format of weights and global-buffer values: ``"int4"``, ``"int8"``, ``"int16"``
        or ``"bfloat16"``.
    acc : str
        Accumulator of the MAC register: ``"int16"`` or ``"int32"`` (wrapping) for integer
        lanes, ``"float32"`` (round to nearest even) for ``"bfloat16"`` lanes.
    timing : PimTiming

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    banks: int = 16
    rows: int = 32
    cols: int = 64
    lanes: int = 16
    dtype: str = "int8"
    acc: str = "int32"
    timing: PimTiming = PimTiming()

    def __post_init__(self):
        for name, hi in LIMITS.items():
            _check_int(name, getattr(self, name), 1, hi)
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", self.dtype, ", ".join(DTYPES))
        if self.acc not in DTYPE_ACCS[self.dtype]:
            raise ConfigError("acc", self.acc, ", ".join(DTYPE_ACCS[self.dtype]) + f" with dtype={self.dtype}")
        if not isinstance(self.timing, PimTiming):
            raise ConfigError("timing", self.timing, "a PimTiming")

    @property
    def dtype_format(self) -> IntFormat | FloatFormat:
        """Format of weights and global-buffer values."""
        return get_format(self.dtype)

    @property
    def acc_format(self) -> IntFormat | FloatFormat:
        """Format of the MAC registers."""
        return get_format(self.acc)

    @property
    def is_float(self) -> bool:
        """True for float lanes: command data, biases and outputs are then format codes."""
        return isinstance(self.dtype_format, FloatFormat)

    @property
    def top_name(self) -> str:
        """Verilog name of the generated channel."""
        return f"pim_{self.banks}b_{self.rows}r_{self.cols}c_{self.lanes}l_{self.dtype}_{self.acc}"

    def to_dict(self) -> dict:
        """Fields as a JSON-serialisable dict (``timing`` nested)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PimConfig:
        """Build a config from ``to_dict()`` output, rejecting unknown keys by name."""
        _check_mapping("config", data)
        data = dict(data)
        timing = data.pop("timing", {})
        _check_mapping("timing", timing)
        _check_keys(cls, data)
        _check_keys(PimTiming, timing)
        return cls(**data, timing=PimTiming(**timing))


def _check_mapping(field: str, data) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(field, data, "a mapping of field names to values")


def _check_keys(cls, data: dict) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(key, data[key], "one of the fields " + ", ".join(sorted(names)))


class PimCommandError(ValueError):
    """A command is not valid for the config or for the channel's state at that point.

    Attributes
    ----------
    index : int
        Position of the command in the program.
    command : PimCommand
    """

    def __init__(self, index: int, command: PimCommand, reason: str):
        self.index = index
        self.command = command
        super().__init__(f"command {index} ({command}): {reason}")


@dataclass(frozen=True)
class PimOutput:
    """One ``o_out`` beat: the result of a RD (``lanes`` values) or RD_MAC (``banks`` accumulators)."""

    cycle: int
    op: PimOp
    values: tuple[int, ...]


@dataclass(frozen=True)
class PimRun:
    """What a program did: the issue cycle of every command, the output beats, refreshes, mode changes."""

    issue_cycles: list[int]
    outputs: list[PimOutput]
    refreshes: list[int]
    mode_changes: list[int] = dataclasses.field(default_factory=list)

    @property
    def cycles(self) -> int:
        """Cycles from the first cycle to the last issue or output beat, inclusive."""
        last = max([*self.issue_cycles[-1:], *(o.cycle for o in self.outputs[-1:])], default=-1)
        return last + 1


class PimModel:
    """Golden model of ``hwgen.dataflow.pim_channel.PimChannel``: values and cycles.

    Commands issue in order, at most one per cycle, each at the first cycle at which
    every timing constraint of ``PimTiming`` holds (cycle 0 is the first cycle after
    reset; the command source and the output sink are assumed never to stall). Values:
    ``acc[b] = wrap_acc(acc[b] + sum_l w[l] * x[l])`` per MAC with integer lanes, products
    exact (integer arithmetic is associative, so the lane order does not matter); with
    bfloat16 lanes ``acc[b] = float_mac(acc[b], w, x)`` (see :func:`float_mac`: exact
    products, a fixed pairwise float32 tree, one RNE add into the register). Timing does
    not depend on the lane format.

    Rules beyond the plain "B >= A + t" constraints:

    * a RD / RD_MAC issues only when the previous read's data has left: at the earliest
      its latency (``tCL`` or ``tCL_MAC``) + 1 cycles after the previous read;
    * mode changes (``tMOD > 0``): a command whose mode (register mode for WR_GB, WR_BIAS,
      RD_MAC; bank mode otherwise, and after reset) differs from the channel's starts a
      mode change at the cycle it could otherwise issue (listed in ``PimRun.mode_changes``)
      and issues at the first cycle from ``tMOD`` later at which every constraint holds
      (a refresh due before an ACT that needs a mode change goes first: the ACT could not
      issue before it; no refresh starts during a mode change);
    * a refresh becomes due ``tREFI`` cycles after reset and after every refresh start.
      It is performed when the head command is ACT / ACT_ABK, every bank is closed and the
      refresh is due by the cycle the ACT could issue: it starts at the first cycle when
      it is due and every bank's tRP has passed, and the ACT waits ``tRFC`` after it.
      While any bank is open, a due refresh is postponed.

    Parameters
    ----------
    cfg : PimConfig
    values : bool
        Compute data values (False: timing only, much faster).
    """

    def __init__(self, cfg: PimConfig, values: bool = True):
        self.cfg = cfg
        self.values = values
        nb = cfg.banks
        self.open_row: list[int | None] = [None] * nb
        self.rp = [0] * nb  # first cycle an ACT may issue to the bank
        self.ras = [0] * nb  # first cycle a PRE may issue
        self.rcd = [0] * nb  # first cycle a column command may use the bank
        self.col_ready = 0
        self.rrd = 0
        self.faw = [0, 0, 0, 0]  # ring of the last four ACT cycles + tFAW
        self.faw_ptr = 0
        self.rd_free = 0
        self.rtp = 0  # first cycle a PRE may issue after the last bank read
        self.wr_rec = 0  # ... after the last WR
        self.rtw = 0  # first cycle a write may issue after the last read's data
        self.reg_mode = False
        self.mod_ready = 0  # first cycle any command may issue after a mode change
        self.ref_due = cfg.timing.tREFI
        self.ref_end = 0
        self.next_cycle = 0
        self.storage: dict[tuple[int, int], np.ndarray] = {}
        self.gb = np.zeros((cfg.cols, cfg.lanes), dtype=np.int64)
        self.acc = np.zeros(nb, dtype=np.int64)  # values (integer acc) or codes (float32; 0 is +0)

    def row_data(self, bank: int, row: int) -> np.ndarray:
        """The ``cols x lanes`` values of one DRAM row (a live view; zero until written)."""
        key = (bank, row)
        if key not in self.storage:
            self.storage[key] = np.zeros((self.cfg.cols, self.cfg.lanes), dtype=np.int64)
        return self.storage[key]

    def run(self, commands) -> PimRun:
        """Execute ``commands`` from the current state.

        Raises
        ------
        PimCommandError
            If a command is malformed, addresses outside the config, or needs a bank
            state it does not have (e.g. MAC on a bank with no open row).
        """
        issues, outputs, refreshes, modes = [], [], [], []
        tm = self.cfg.timing
        for index, cmd in enumerate(commands):
            if not isinstance(cmd, PimCommand):
                raise PimCommandError(index, cmd, "not a PimCommand")
            self._check(index, cmd)
            t = self._issue_cycle(cmd, refreshes)
            if tm.tMOD and (cmd.op in REG_OPS) != self.reg_mode:
                # The mode change takes the command's issue slot; constraints are re-checked after it.
                modes.append(t)
                self.reg_mode = not self.reg_mode
                self.mod_ready = t + tm.tMOD
                t = self._issue_cycle(cmd, refreshes)
            self._apply(cmd, t, outputs)
            issues.append(t)
            self.next_cycle = t + 1
        return PimRun(issues, outputs, refreshes, modes)

    def _check(self, index: int, cmd: PimCommand) -> None:
        cfg, op = self.cfg, cmd.op

        def fail(reason):
            raise PimCommandError(index, cmd, reason)

        if not isinstance(op, PimOp):
            fail(f"op {op!r} is not a PimOp")
        if op in BANK_OPS and not 0 <= cmd.bank < cfg.banks:
            fail(f"bank={cmd.bank} is out of range; allowed: 0..{cfg.banks - 1}")
        if op in (PimOp.ACT, PimOp.ACT_ABK) and not 0 <= cmd.row < cfg.rows:
            fail(f"row={cmd.row} is out of range; allowed: 0..{cfg.rows - 1}")
        if op in COL_OPS and not 0 <= cmd.col < cfg.cols:
            fail(f"col={cmd.col} is out of range; allowed: 0..{cfg.cols - 1}")
        if op in (PimOp.WR, PimOp.WR_GB):
            _check_values(fail, "data", cmd.data, cfg.lanes, cfg.dtype_format)
        if op == PimOp.WR_BIAS:
            _check_values(fail, "bias", cmd.bias, cfg.banks, cfg.acc_format)
        opened = [r is not None for r in self.open_row]
        if op == PimOp.ACT and opened[cmd.bank]:
            fail(f"bank {cmd.bank} already has row {self.open_row[cmd.bank]} open; precharge it first")
        if op == PimOp.ACT_ABK and any(opened):
            fail(f"bank {opened.index(True)} has a row open; ACT_ABK needs every bank closed")
        if op in (PimOp.RD, PimOp.WR, PimOp.MAC_SBK) and not opened[cmd.bank]:
            fail(f"bank {cmd.bank} has no open row; activate one first")
        if op == PimOp.MAC_ABK and not all(opened):
            fail(f"bank {opened.index(False)} has no open row; MAC_ABK needs every bank open")

    def _issue_cycle(self, cmd: PimCommand, refreshes: list[int]) -> int:
        op = cmd.op
        t = max(self.next_cycle, self.mod_ready)
        if op in COLUMN_OPS:
            t = max(t, self.col_ready)
        if op in (PimOp.RD, PimOp.RD_MAC):
            t = max(t, self.rd_free)
        if op in WRITE_OPS:
            t = max(t, self.rtw)
        if op in (PimOp.RD, PimOp.WR, PimOp.MAC_SBK):
            t = max(t, self.rcd[cmd.bank])
        if op == PimOp.MAC_ABK:
            t = max(t, *self.rcd)
        if op == PimOp.PRE and self.open_row[cmd.bank] is not None:
            t = max(t, self.ras[cmd.bank], self.rtp, self.wr_rec)
        if op == PimOp.PRE_ABK and any(r is not None for r in self.open_row):
            t = max(
                t, self.rtp, self.wr_rec, *(s for s, r in zip(self.ras, self.open_row, strict=True) if r is not None)
            )
        if op in (PimOp.ACT, PimOp.ACT_ABK):
            t = self._act_cycle(cmd, t, refreshes)
        return t

    def _act_cycle(self, cmd: PimCommand, head: int, refreshes: list[int]) -> int:
        tm = self.cfg.timing
        rp = self.rp[cmd.bank] if cmd.op == PimOp.ACT else max(self.rp)
        all_closed = all(r is None for r in self.open_row)
        while True:
            t = max(head, rp, self.rrd, self.faw[self.faw_ptr], self.ref_end)
            if not (tm.refresh and all_closed and self.ref_due <= t):
                return t
            start = max(head, self.ref_due, max(self.rp), self.ref_end)
            refreshes.append(start)
            self.ref_end = start + tm.tRFC
            self.ref_due = start + tm.tREFI

    def _apply(self, cmd: PimCommand, t: int, outputs: list[PimOutput]) -> None:
        op, tm, cfg = cmd.op, self.cfg.timing, self.cfg
        if op in COLUMN_OPS:
            self.col_ready = t + tm.tCCD
        if op in BANK_READ_OPS:
            self.rtp = t + tm.tRTP
        if op == PimOp.WR:
            self.wr_rec = t + tm.tWR
        if op in (PimOp.ACT, PimOp.ACT_ABK):
            banks = [cmd.bank] if op == PimOp.ACT else range(cfg.banks)
            trcd = tm.tRCD if op == PimOp.ACT else tm.tRCD_MAC
            for b in banks:
                self.open_row[b] = cmd.row
                self.rcd[b], self.ras[b] = t + trcd, t + tm.tRAS
            self.rrd = t + tm.tRRD
            self.faw[self.faw_ptr] = t + tm.tFAW
            self.faw_ptr = (self.faw_ptr + 1) % 4
        elif op in (PimOp.PRE, PimOp.PRE_ABK):
            for b in [cmd.bank] if op == PimOp.PRE else range(cfg.banks):
                if self.open_row[b] is not None:
                    self.open_row[b] = None
                    self.rp[b] = t + tm.tRP
        elif op in (PimOp.RD, PimOp.RD_MAC):
            latency = tm.tCL_MAC if op == PimOp.RD_MAC else tm.tCL
            self.rd_free = t + latency + 1
            self.rtw = t + latency + tm.tRTW
            outputs.append(PimOutput(t + latency, op, self._read(cmd)))
        elif self.values:
            self._compute(cmd)

    def _read(self, cmd: PimCommand) -> tuple[int, ...]:
        if not self.values:
            return ()
        if cmd.op == PimOp.RD_MAC:
            return tuple(int(v) for v in self.acc)
        return tuple(int(v) for v in self.row_data(cmd.bank, self.open_row[cmd.bank])[cmd.col])

    def _compute(self, cmd: PimCommand) -> None:
        op, acc = cmd.op, self.cfg.acc_format
        if op == PimOp.WR_GB:
            self.gb[cmd.col] = cmd.data
        elif op == PimOp.WR_BIAS:
            self.acc[:] = cmd.bias
        elif op == PimOp.WR:
            self.row_data(cmd.bank, self.open_row[cmd.bank])[cmd.col] = cmd.data
        else:
            banks = [cmd.bank] if op == PimOp.MAC_SBK else range(self.cfg.banks)
            x = self.gb[cmd.col]
            if self.cfg.is_float:
                banks = list(banks)
                w = np.stack([self.row_data(b, self.open_row[b])[cmd.col] for b in banks])
                self.acc[banks] = float_mac(self.acc[banks], w, x, self.cfg.dtype_format, acc)
                return
            for b in banks:
                w = self.row_data(b, self.open_row[b])[cmd.col]
                # |w * x| < 2**31 per lane and lanes <= 64: the int64 sum is exact before the wrap.
                self.acc[b] = acc.fit(self.acc[b] + int(np.dot(w, x)))[()]


def _check_values(fail, name: str, values, count: int, fmt: IntFormat | FloatFormat) -> None:
    if len(values) != count:
        fail(f"{name} has {len(values)} values; allowed: exactly {count}")
    lo, hi = (0, (1 << fmt.width) - 1) if isinstance(fmt, FloatFormat) else (fmt.min_value, fmt.max_value)
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        kind = f"a {fmt.name} code" if isinstance(fmt, FloatFormat) else f"{fmt.name}"
        fail(f"{name} value {bad[0]} does not fit {kind}; allowed: {lo}..{hi}")


def run_program(cfg: PimConfig, commands, values: bool = True) -> PimRun:
    """Run ``commands`` on a fresh channel (see :class:`PimModel`)."""
    return PimModel(cfg, values).run(commands)
