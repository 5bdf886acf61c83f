"""Per-operation energy table (Horowitz, ISSCC 2014, 45 nm) and the energy of MACs and data movement.

Source: M. Horowitz, "1.1 Computing's energy problem (and what we can do about it)",
IEEE International Solid-State Circuits Conference (ISSCC) 2014, pp. 10-14,
doi:10.1109/ISSCC.2014.6757323. Figures for 45 nm at 0.9 V, as printed in its energy table:

=====================  ========
operation              energy
=====================  ========
8-bit integer add      0.03 pJ
32-bit integer add     0.1 pJ
8-bit integer mult     0.2 pJ
32-bit integer mult    3.1 pJ
16-bit float add       0.4 pJ
32-bit float add       0.9 pJ
16-bit float mult      1.1 pJ
32-bit float mult      3.7 pJ
8 KB SRAM, 64-bit read 10 pJ
32 KB SRAM, 64-bit     20 pJ
1 MB SRAM, 64-bit      100 pJ
DRAM, 64-bit access    1.3-2.6 nJ
=====================  ========

How hwgen uses them: an operation on an operand no wider than 8 (16) bits takes the
8-bit (16-bit) figure, anything wider the 32-bit one; floats of 8 bits take the 16-bit
float figures (the table has no 8-bit float; an upper bound). An L-Mul replaces the
multiplier with an integer add of the operand's width (Luo & Sun, "Addition is All You
Need for Energy-efficient Language Models", 2024, which prices it the same way). A
scratchpad byte costs an 8 KB SRAM access per 8 bytes (1.25 pJ/B); a byte moved between
host and device costs a DRAM access per 8 bytes at the middle of the quoted range
(1.95 nJ / 8 = 243.75 pJ/B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.float_format import FloatFormat

__all__ = ["CITATION", "DRAM_PJ_PER_BYTE", "HOROWITZ_45NM_PJ", "SRAM_PJ_PER_BYTE", "EnergyBreakdown", "mac_energy"]

CITATION = (
    "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
    "doi:10.1109/ISSCC.2014.6757323 (45 nm, 0.9 V)"
)
#: The table above, in picojoules.
HOROWITZ_45NM_PJ = {
    "int8_add": 0.03,
    "int32_add": 0.1,
    "int8_mult": 0.2,
    "int32_mult": 3.1,
    "fp16_add": 0.4,
    "fp32_add": 0.9,
    "fp16_mult": 1.1,
    "fp32_mult": 3.7,
    "sram_8kb_64bit": 10.0,
    "sram_32kb_64bit": 20.0,
    "sram_1mb_64bit": 100.0,
    "dram_64bit_low": 1300.0,
    "dram_64bit_high": 2600.0,
}
SRAM_PJ_PER_BYTE = HOROWITZ_45NM_PJ["sram_8kb_64bit"] / 8
DRAM_PJ_PER_BYTE = (HOROWITZ_45NM_PJ["dram_64bit_low"] + HOROWITZ_45NM_PJ["dram_64bit_high"]) / 2 / 8


_MULS = ("exact", "lmul", "lmul-paper")


def _check_format(field: str, fmt, exact_ok: bool = False) -> None:
    if exact_ok and isinstance(fmt, str) and fmt == "exact":
        return
    width = getattr(getattr(fmt, "element", fmt), "width", None)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigError(field, fmt, "an IntFormat, FloatFormat or MXFormat" + (' or "exact"' if exact_ok else ""))


def _width(fmt) -> int:
    fmt = getattr(fmt, "element", fmt)  # MX formats multiply their elements
    return fmt.width


def _is_float(fmt) -> bool:
    return isinstance(getattr(fmt, "element", fmt), FloatFormat)


def _int_or_float(fmt, op: str) -> float:
    t = HOROWITZ_45NM_PJ
    if _is_float(fmt):
        return t[f"fp16_{op}"] if _width(fmt) <= 16 else t[f"fp32_{op}"]
    if op == "mult":
        return t["int8_mult"] if _width(fmt) <= 8 else t["int32_mult"]
    return t["int8_add"] if _width(fmt) <= 8 else t["int32_add"]


def mac_energy(w_format, a_format, acc_format, mul: str = "exact") -> float:
    """Picojoules of one multiply-accumulate.

    Parameters
    ----------
    w_format, a_format : IntFormat, FloatFormat or MXFormat
        Operand formats; the wider one prices the multiplier.
    acc_format : IntFormat, FloatFormat or "exact"
        The accumulator ("exact" is priced as a float32 add, the nearest entry).
    mul : str
        ``"exact"`` or an L-Mul (``"lmul"``, ``"lmul-paper"``): an integer add of the operand width.

    Raises
    ------
    ConfigError
        If a format is not a number format or ``mul`` is not one of the above.
    """
    _check_format("w_format", w_format)
    _check_format("a_format", a_format)
    _check_format("acc_format", acc_format, exact_ok=True)
    if not isinstance(mul, str) or mul not in _MULS:
        raise ConfigError("mul", mul, ", ".join(_MULS))
    wide = w_format if _width(w_format) >= _width(a_format) else a_format
    t = HOROWITZ_45NM_PJ
    if mul != "exact":
        product = t["int8_add"] if _width(wide) <= 8 else t["int32_add"]
    else:
        product = _int_or_float(wide, "mult")
    add = t["fp32_add"] if acc_format == "exact" else _int_or_float(acc_format, "add")
    return product + add


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy of one layer in picojoules, by where it is spent."""

    compute: float
    scratchpad: float
    host_link: float

    @property
    def total(self) -> float:
        """Picojoules of the layer."""
        return self.compute + self.scratchpad + self.host_link

    @classmethod
    def of(cls, macs: int, pj_per_mac: float, array_bytes: int, host_bytes: int) -> EnergyBreakdown:
        """MACs at ``pj_per_mac``, scratchpad bytes at SRAM cost, host bytes at DRAM cost.

        Raises
        ------
        ConfigError
            If a count or ``pj_per_mac`` is not a finite number >= 0.
        """
        for field, value in (("macs", macs), ("pj_per_mac", pj_per_mac), ("array_bytes", array_bytes),
                             ("host_bytes", host_bytes)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0 <= value < math.inf:
                raise ConfigError(field, value, "a finite number >= 0")
        return cls(macs * pj_per_mac, array_bytes * SRAM_PJ_PER_BYTE, host_bytes * DRAM_PJ_PER_BYTE)
