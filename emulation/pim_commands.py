"""The PIM channel's command set: opcodes, which rules each obeys, and the command record."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BANK_OPS",
    "BANK_READ_OPS",
    "COLUMN_OPS",
    "COL_OPS",
    "REG_OPS",
    "WRITE_OPS",
    "PimCommand",
    "PimOp",
]


class PimOp(enum.IntEnum):
    """Command opcodes (the ``op`` field of the RTL command payload)."""

    WR_GB = 0
    WR_BIAS = 1
    MAC_ABK = 2
    MAC_SBK = 3
    RD_MAC = 4
    RD = 5
    WR = 6
    ACT = 7
    ACT_ABK = 8
    PRE = 9
    PRE_ABK = 10


#: Commands that use the channel's column path (spaced by tCCD).
COLUMN_OPS = frozenset({PimOp.WR_GB, PimOp.WR_BIAS, PimOp.MAC_ABK, PimOp.MAC_SBK, PimOp.RD_MAC, PimOp.RD, PimOp.WR})
#: Commands addressed to one bank.
BANK_OPS = frozenset({PimOp.MAC_SBK, PimOp.RD, PimOp.WR, PimOp.ACT, PimOp.PRE})
#: Commands with a column address.
COL_OPS = frozenset({PimOp.WR_GB, PimOp.MAC_ABK, PimOp.MAC_SBK, PimOp.RD, PimOp.WR})
#: Commands that run in register mode (AiM's ``require_reg_RW_mod`` ISRs); the rest run in bank mode.
REG_OPS = frozenset({PimOp.WR_GB, PimOp.WR_BIAS, PimOp.RD_MAC})
#: Commands that read a bank's row (tRTP to a PRE).
BANK_READ_OPS = frozenset({PimOp.MAC_ABK, PimOp.MAC_SBK, PimOp.RD})
#: Commands that drive write data onto the channel (tRTW after a read's data).
WRITE_OPS = frozenset({PimOp.WR, PimOp.WR_GB, PimOp.WR_BIAS})


@dataclass(frozen=True)
class PimCommand:
    """One channel command. Build with the class methods (``PimCommand.act(bank, row)``, ...).

    ``data`` holds ``lanes`` values (WR, WR_GB); ``bias`` holds one accumulator value per
    bank (WR_BIAS). Unused fields are 0 / empty. With float lanes (``PimConfig.is_float``)
    values are codes: bfloat16 codes in ``data``, float32 codes in ``bias``.
    """

    op: PimOp
    bank: int = 0
    row: int = 0
    col: int = 0
    data: tuple[int, ...] = ()
    bias: tuple[int, ...] = ()

    @classmethod
    def wr_gb(cls, col: int, data) -> PimCommand:
        """Write ``data`` (lanes values) into global-buffer column ``col``."""
        return cls(PimOp.WR_GB, col=col, data=_ints(data))

    @classmethod
    def wr_bias(cls, bias) -> PimCommand:
        """Set every bank's MAC register: bank ``b`` to ``bias[b]``."""
        return cls(PimOp.WR_BIAS, bias=_ints(bias))

    @classmethod
    def mac_abk(cls, col: int) -> PimCommand:
        """All banks: ``acc[b] += dot(bank b open row column col, global buffer column col)``."""
        return cls(PimOp.MAC_ABK, col=col)

    @classmethod
    def mac_sbk(cls, bank: int, col: int) -> PimCommand:
        """One bank: ``acc[bank] += dot(open row column col, global buffer column col)``."""
        return cls(PimOp.MAC_SBK, bank=bank, col=col)

    @classmethod
    def rd_mac(cls) -> PimCommand:
        """Read every bank's MAC register (one output beat of ``banks`` accumulators)."""
        return cls(PimOp.RD_MAC)

    @classmethod
    def rd(cls, bank: int, col: int) -> PimCommand:
        """Read column ``col`` of the open row of ``bank`` (one output beat of ``lanes`` values)."""
        return cls(PimOp.RD, bank=bank, col=col)

    @classmethod
    def wr(cls, bank: int, col: int, data) -> PimCommand:
        """Write ``data`` into column ``col`` of the open row of ``bank``."""
        return cls(PimOp.WR, bank=bank, col=col, data=_ints(data))

    @classmethod
    def act(cls, bank: int, row: int) -> PimCommand:
        """Open ``row`` of ``bank``."""
        return cls(PimOp.ACT, bank=bank, row=row)

    @classmethod
    def act_abk(cls, row: int) -> PimCommand:
        """Open ``row`` in every bank."""
        return cls(PimOp.ACT_ABK, row=row)

    @classmethod
    def pre(cls, bank: int) -> PimCommand:
        """Close the open row of ``bank`` (no-op on a closed bank)."""
        return cls(PimOp.PRE, bank=bank)

    @classmethod
    def pre_abk(cls) -> PimCommand:
        """Close every open row."""
        return cls(PimOp.PRE_ABK)

    def __str__(self) -> str:
        if not isinstance(self.op, PimOp):
            return f"op={self.op!r}"
        parts = [self.op.name]
        if self.op in BANK_OPS:
            parts.append(f"bank={self.bank}")
        if self.op in (PimOp.ACT, PimOp.ACT_ABK):
            parts.append(f"row={self.row}")
        if self.op in COL_OPS:
            parts.append(f"col={self.col}")
        return " ".join(parts)


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(values).ravel())
