"""Host side of the PIM channel: command packing, output unpacking, calibration streams.

The GEMV layout over channels and banks, its command streams and cycles are the ``pim``
unit's pure plan (``hwgen.emulation.units.pim_plan``), re-exported here.
"""

from __future__ import annotations

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.float_format import FloatFormat
from hwgen.emulation.pim_model import PimCommand, PimConfig, PimOp, PimOutput
from hwgen.emulation.units.pim_plan import MAX_CHANNELS, GemvLayout, gemv_cycles, plan_gemv

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
