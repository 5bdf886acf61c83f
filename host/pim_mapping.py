"""Host side of the PIM channel: y = W x layout over channels and banks, command streams, packing, cycles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.float_format import FloatFormat
from hwgen.emulation.fp_mac_model import fp_add
from hwgen.emulation.pim_model import PimCommand, PimConfig, PimOp, PimOutput, float_mac, run_program

__all__ = [
    "MAX_CHANNELS",
    "GemvLayout",
    "calibration_commands",
    "gemv_cycles",
    "output_codes",
    "pack_command",
    "plan_gemv",
    "unpack_output",
]

#: Most channels a GEMV may spread over.
MAX_CHANNELS = 256
#: Most commands :func:`calibration_commands` builds.
MAX_COMMANDS = 1 << 22


def _check_cfg(cfg) -> None:
    if not isinstance(cfg, PimConfig):
        raise ConfigError("cfg", cfg, "a PimConfig")


def _bits(count: int) -> int:
    return max(1, (count - 1).bit_length())


def _pack(codes, width: int) -> int:
    value = 0
    for code in reversed([int(c) for c in codes]):
        value = (value << width) | code
    return value


def _unpack(value: int, width: int, count: int) -> list[int]:
    return [(value >> (i * width)) & ((1 << width) - 1) for i in range(count)]


def _codes(fmt, values) -> np.ndarray:
    """Codes of command / output values: integer values are encoded, float values already are codes."""
    values = np.asarray(values, dtype=np.int64)
    return values if isinstance(fmt, FloatFormat) else fmt.encode(values).astype(np.int64)


def pack_command(cfg: PimConfig, cmd: PimCommand) -> int:
    """The ``i_cmd`` payload of ``cmd`` (``hwgen.dataflow.pim_channel.cmd_layout``), low field first.

    Integer values go through the formats' ``encode`` (two's complement codes); float
    lanes carry codes already. Missing data / bias fields are zero (+0 for floats).
    Fields are masked to their width, so an out-of-range address reaches the hardware
    only if it fits the field.
    """
    dtype, acc = cfg.dtype_format, cfg.acc_format
    data = _codes(dtype, cmd.data or [0] * cfg.lanes)
    bias = _codes(acc, cmd.bias or [0] * cfg.banks)
    fields = [
        (int(cmd.op), 4),
        (cmd.bank, _bits(cfg.banks)),
        (cmd.row, _bits(cfg.rows)),
        (cmd.col, _bits(cfg.cols)),
        (_pack(data, dtype.width), cfg.lanes * dtype.width),
        (_pack(bias, acc.width), cfg.banks * acc.width),
    ]
    value, shift = 0, 0
    for field, width in fields:
        value |= (int(field) & ((1 << width) - 1)) << shift
        shift += width
    return value


def unpack_output(cfg: PimConfig, payload: int) -> tuple[PimOp, tuple[int, ...], tuple[int, ...]]:
    """Split an ``o_out`` payload into (op, RD data codes, RD_MAC accumulator codes).

    Raises
    ------
    ConfigError
        If ``payload`` is not a non-negative integer of the output width or its op is unknown.
    """
    _check_cfg(cfg)
    dtype, acc = cfg.dtype_format, cfg.acc_format
    width = 4 + cfg.lanes * dtype.width + cfg.banks * acc.width
    if isinstance(payload, bool) or not isinstance(payload, int | np.integer) or not 0 <= payload < 1 << width:
        raise ConfigError("payload", payload, f"an integer from 0 to 2**{width} - 1")
    payload = int(payload)
    if payload & 0xF not in {int(op) for op in PimOp}:
        raise ConfigError("payload op", payload & 0xF, ", ".join(f"{int(op)} ({op.name})" for op in PimOp))
    op = PimOp(payload & 0xF)
    data = _unpack(payload >> 4, dtype.width, cfg.lanes)
    mac = _unpack(payload >> (4 + cfg.lanes * dtype.width), acc.width, cfg.banks)
    return op, tuple(data), tuple(mac)


def output_codes(cfg: PimConfig, out: PimOutput) -> tuple[int, ...]:
    """The codes an output beat of the model carries in its meaningful field."""
    fmt = cfg.acc_format if out.op == PimOp.RD_MAC else cfg.dtype_format
    return tuple(int(c) for c in _codes(fmt, out.values))


@dataclass(frozen=True)
class GemvLayout:
    """How ``y = W x`` (``W`` is ``n x k``) is laid out over ``channels`` PIM channels.

    Output row ``o`` of ``W`` lives in one bank: ``o = (group * channels + channel) * banks + bank``.
    Its ``k`` weights are cut into chunks of ``lanes * cols`` (one DRAM row each);
    chunk ``j`` of group ``g`` is DRAM row ``g * chunks + j``. The global buffer holds one
    chunk of ``x`` at a time, so the command stream is chunk-major: write the chunk into
    the global buffer, then per group WR_BIAS(0), ACT_ABK, one MAC_ABK per used column,
    PRE_ABK, RD_MAC. The host adds the chunks' partial sums in the accumulator format:
    wrapping integer addition (so the result equals one in-bank accumulation), or for
    float32 ``y = RNE(...RNE(s_0 + s_1) + ... + s_last)`` in chunk order, each ``s_j``
    being one in-bank accumulation from +0 (:func:`hwgen.emulation.pim_model.float_mac`
    per column; padded lanes hold +0 and take part in the lane tree).

    With float lanes, ``W`` and ``x`` are real numbers, encoded to the lane format with
    its rounding (RNE for bfloat16); :meth:`assemble` and :meth:`reference` return float32.
    """

    cfg: PimConfig
    n: int
    k: int
    channels: int

    @property
    def chunk(self) -> int:
        """Elements of ``x`` per DRAM row."""
        return self.cfg.lanes * self.cfg.cols

    @property
    def chunks(self) -> int:
        return math.ceil(self.k / self.chunk)

    @property
    def groups(self) -> int:
        """Output rows per bank."""
        return math.ceil(self.n / (self.channels * self.cfg.banks))

    @property
    def rows_used(self) -> int:
        """DRAM rows used in every bank."""
        return self.groups * self.chunks

    def output_index(self, channel: int, group: int, bank: int) -> int:
        return (group * self.channels + channel) * self.cfg.banks + bank

    def chunk_cols(self, j: int) -> int:
        """Column bursts chunk ``j`` occupies."""
        return math.ceil(min(self.chunk, self.k - j * self.chunk) / self.cfg.lanes)

    def row_image(self, w: np.ndarray, channel: int, bank: int, group: int, j: int) -> np.ndarray:
        """The ``cols x lanes`` values DRAM row ``(group, j)`` of ``bank`` holds (zero padded).

        ``w`` holds command values: integers, or lane-format codes with float lanes.
        """
        out = np.zeros(self.chunk, dtype=np.int64)
        o = self.output_index(channel, group, bank)
        if o < self.n:
            part = w[o, j * self.chunk : (j + 1) * self.chunk]
            out[: part.size] = part
        return out.reshape(self.cfg.cols, self.cfg.lanes)

    def weight_commands(self, w: np.ndarray, channel: int) -> list[PimCommand]:
        """ACT / WR / PRE commands writing ``channel``'s share of ``W`` into its banks."""
        if isinstance(channel, bool) or not isinstance(channel, int | np.integer) or not 0 <= channel < self.channels:
            raise ConfigError("channel", channel, f"an integer from 0 to {self.channels - 1}")
        w = self._lane_codes(self._check_matrix(w))
        cmds = []
        for g in range(self.groups):
            for j in range(self.chunks):
                row = g * self.chunks + j
                cmds += [PimCommand.act(b, row) for b in range(self.cfg.banks)]
                for b in range(self.cfg.banks):
                    image = self.row_image(w, channel, b, g, j)
                    cmds += [PimCommand.wr(b, c, image[c]) for c in range(self.chunk_cols(j))]
                cmds += [PimCommand.pre(b) for b in range(self.cfg.banks)]
        return cmds

    def gemv_commands(self, x: np.ndarray) -> list[PimCommand]:
        """The command stream of one channel (every channel runs the same stream)."""
        x = self._lane_codes(self._check_vector(x))
        lanes, zeros = self.cfg.lanes, [0] * self.cfg.banks
        cmds = []
        for j in range(self.chunks):
            ncols = self.chunk_cols(j)
            part = np.zeros(ncols * lanes, dtype=np.int64)
            seg = x[j * self.chunk : j * self.chunk + ncols * lanes]
            part[: seg.size] = seg
            cmds += [PimCommand.wr_gb(c, part[c * lanes : (c + 1) * lanes]) for c in range(ncols)]
            for g in range(self.groups):
                cmds += [PimCommand.wr_bias(zeros), PimCommand.act_abk(g * self.chunks + j)]
                cmds += [PimCommand.mac_abk(c) for c in range(ncols)]
                cmds += [PimCommand.pre_abk(), PimCommand.rd_mac()]
        return cmds

    def assemble(self, outputs: list[list[PimOutput]]) -> np.ndarray:
        """``y`` from every channel's RD_MAC beats (in stream order), summed in the accumulator format.

        Returns int64 values (integer accumulator) or float32 values (float32 accumulator).
        """
        total = self.groups * self.channels * self.cfg.banks
        partials = np.zeros((self.chunks, total), dtype=np.int64)
        for ch, beats in enumerate(outputs):
            macs = [o for o in beats if o.op == PimOp.RD_MAC]
            if len(macs) != self.chunks * self.groups:
                raise ValueError(f"channel {ch} has {len(macs)} RD_MAC beats; want {self.chunks * self.groups}")
            for i, beat in enumerate(macs):
                j, g = divmod(i, self.groups)
                for b, value in enumerate(beat.values):
                    partials[j, self.output_index(ch, g, b)] = value
        return self._combine(partials[:, : self.n])

    def reference(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Golden ``y`` computed without the command stream.

        Integer lanes: exact dot products wrapped once into the accumulator. Float lanes:
        per chunk and output, :func:`~hwgen.emulation.pim_model.float_mac` over the chunk's
        columns from +0 (zero padded), chunks combined as :meth:`assemble` does.
        """
        w, x = self._check_matrix(w), self._check_vector(x)
        if not self.cfg.is_float:
            return self.cfg.acc_format.fit(w @ x)
        wc, xc = self._lane_codes(w), self._lane_codes(x)
        padded = self.chunks * self.chunk
        wp = np.zeros((self.n, padded), dtype=np.int64)
        xp = np.zeros(padded, dtype=np.int64)
        wp[:, : self.k], xp[: self.k] = wc, xc
        lanes, cfg = self.cfg.lanes, self.cfg
        partials = np.zeros((self.chunks, self.n), dtype=np.int64)
        for j in range(self.chunks):
            for c in range(self.chunk_cols(j)):
                cols = slice(j * self.chunk + c * lanes, j * self.chunk + (c + 1) * lanes)
                partials[j] = float_mac(partials[j], wp[:, cols], xp[cols], cfg.dtype_format, cfg.acc_format)
        return self._combine(partials)

    def _combine(self, partials: np.ndarray) -> np.ndarray:
        """Add the chunks' partial sums (``chunks x outputs`` values / codes) in the accumulator format."""
        acc = self.cfg.acc_format
        if not self.cfg.is_float:
            return acc.fit(partials.sum(axis=0))
        y = partials[0]
        for part in partials[1:]:
            y = fp_add(y, part, acc).astype(np.int64)
        return acc.decode(y, np.float32)

    def _lane_codes(self, a: np.ndarray) -> np.ndarray:
        """Lane values as command values: integers as they are, floats encoded to the lane format's codes."""
        if not self.cfg.is_float:
            return a
        return self.cfg.dtype_format.encode(a).astype(np.int64)

    def _check_matrix(self, w) -> np.ndarray:
        w = self._lane_values("W", w)
        if w.shape != (self.n, self.k):
            raise ValueError(f"W has shape {w.shape}; allowed: ({self.n}, {self.k})")
        return w

    def _check_vector(self, x) -> np.ndarray:
        x = self._lane_values("x", x)
        if x.shape != (self.k,):
            raise ValueError(f"x has shape {x.shape}; allowed: ({self.k},)")
        return x

    def _lane_values(self, field: str, a) -> np.ndarray:
        """``a`` as float64 (float lanes) or int64 values of the lane format (no truncation, no wrap)."""
        a = np.asarray(a)
        fmt = self.cfg.dtype_format
        if self.cfg.is_float:
            if a.dtype.kind not in "iuf":
                raise ConfigError(field, f"array of dtype {a.dtype}", "real numbers (integer or float dtype)")
            return a.astype(np.float64)
        if a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and not np.array_equal(a, np.rint(a))):
            raise ConfigError(field, f"array of dtype {a.dtype}", f"integers of {fmt.name}")
        if a.size and (a.min() < fmt.min_value or a.max() > fmt.max_value):
            raise ConfigError(field, "out of range", f"{fmt.name} values {fmt.min_value}..{fmt.max_value}")
        return a.astype(np.int64)


def plan_gemv(cfg: PimConfig, n: int, k: int, channels: int = 1) -> GemvLayout:
    """Lay out an ``n x k`` GEMV over ``channels`` channels of ``cfg``.

    Raises
    ------
    ConfigError
        If a dimension or ``channels`` is not a positive integer, or ``W`` does not fit
        the banks' rows (the message gives the rows needed).
    """
    _check_cfg(cfg)
    for name, value, hi in (("n", n, None), ("k", k, None), ("channels", channels, MAX_CHANNELS)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (hi and value > hi):
            raise ConfigError(name, value, "an integer >= 1" + (f" and <= {hi}" if hi else ""))
    layout = GemvLayout(cfg, n, k, channels)
    if layout.rows_used > cfg.rows:
        raise ConfigError(
            "n",
            n,
            f"a W that fits: {n} x {k} needs {layout.rows_used} rows per bank but rows={cfg.rows}; "
            "use more channels or a config with more rows",
        )
    return layout


def gemv_cycles(layout: GemvLayout) -> int:
    """Cycles of the GEMV on the channels (all run the same stream in parallel), from the timing model."""
    return run_program(layout.cfg, layout.gemv_commands(np.zeros(layout.k, dtype=np.int64)), values=False).cycles


def calibration_commands(cfg: PimConfig, rounds: int = 10, columns: int = 64) -> list[PimCommand]:
    """``rounds`` x (WR_BIAS, MAC_ABK over ``columns`` columns of row ``r``, RD_MAC) on one channel.

    The AiM simulator's calibration case, unrolled as its DRAM controller unrolls it:
    round ``r`` is WR_BIAS, then the MAC_ABK ISR's prerequisites (PRE_ABK closing the
    previous round's row, which stays open until then; ACT_ABK of row ``r``), ``columns``
    MAC_ABK, then RD_MAC. The mode changes between them are the channel's own
    (``PimTiming.tMOD``). Rows wrap at ``cfg.rows``.
    """
    _check_cfg(cfg)
    if isinstance(columns, bool) or not isinstance(columns, int) or not 1 <= columns <= cfg.cols:
        raise ConfigError("columns", columns, f"an integer from 1 to cols={cfg.cols}")
    top = MAX_COMMANDS // (columns + 4)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= top:
        raise ConfigError("rounds", rounds, f"an integer from 1 to {top} (at most {MAX_COMMANDS} commands)")
    cmds = []
    for r in range(rounds):
        cmds.append(PimCommand.wr_bias([0] * cfg.banks))
        if r:
            cmds.append(PimCommand.pre_abk())
        cmds.append(PimCommand.act_abk(r % cfg.rows))
        cmds += [PimCommand.mac_abk(c) for c in range(columns)]
        cmds.append(PimCommand.rd_mac())
    return cmds
