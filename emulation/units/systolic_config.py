"""Typed, validated configuration of a compute array (no hardware imports)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hwgen.emulation import IntFormat, LMul, get_format
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import MAX_DIM

__all__ = ["ACCS", "ARCHS", "DATAFLOWS", "MAX_DIM", "MULS", "SATURATING_ACCS", "ArrayConfig"]

#: Architectures ``hwgen build --arch`` knows.
ARCHS = ("systolic",)
#: Dataflows of the systolic array.
DATAFLOWS = ("ws", "is", "os")
#: Activation/weight formats, each with the accumulators allowed for it.
ACCS = {
    "int8": ("int32", "int32_sat"),
    "float8_e4m3fn": ("float32",),
    "float8_e5m2": ("float32",),
    "bfloat16": ("float32",),
}
#: Multipliers: ``"exact"`` for every dtype, the integer-add L-Mul for float dtypes.
MULS = ("exact", "lmul")
_INT_DTYPES = ("int8",)
#: Integer accumulators that clamp at every addition instead of wrapping (``IntFormat(overflow="saturate")``).
SATURATING_ACCS = {"int32_sat": IntFormat("int32_sat", 32, overflow="saturate")}


@dataclass(frozen=True)
class ArrayConfig:
    """Configuration of a systolic array, validated at construction.

    Parameters
    ----------
    rows : int
        PE rows (1..64): the reduction (K) dimension of one tile.
    cols : int
        PE columns (1..64): the output (N) dimension of one tile.
    dataflow : str
        ``"ws"`` (weight-stationary), ``"is"`` (input-stationary: the same datapath
        with activations held in the PEs) or ``"os"`` (output-stationary).
    dtype : str
        Format name of activations and weights: ``"int8"``, ``"float8_e4m3fn"``,
        ``"float8_e5m2"`` or ``"bfloat16"``.
    acc : str
        Format name of the accumulator: ``"int32"`` (wrapping on overflow) or
        ``"int32_sat"`` (saturating to [-2**31, 2**31 - 1] at every addition, in the
        array's order) for ``int8``; ``"float32"`` (round to nearest even at every PE)
        for the float dtypes.
    mul : str
        Multiplier: ``"exact"``, or ``"lmul"`` (float dtypes only: the integer-add
        L-Mul with the default :class:`~hwgen.emulation.LMul` policies).
    arch : str
        Architecture name (``"systolic"``).

    Raises
    ------
    ConfigError
        If a field holds a value that is not allowed; the message names field, value
        and what is allowed.
    """

    rows: int = 8
    cols: int = 8
    dataflow: str = "ws"
    dtype: str = "int8"
    acc: str = "int32"
    arch: str = "systolic"
    mul: str = "exact"

    def __post_init__(self):
        _check_choice("arch", self.arch, ARCHS)
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise ConfigError(name, value, f"an integer from 1 to {MAX_DIM}")
        _check_choice("dataflow", self.dataflow, DATAFLOWS)
        _check_choice("dtype", self.dtype, tuple(ACCS))
        if self.acc not in ACCS[self.dtype]:
            raise ConfigError("acc", self.acc, f"{', '.join(ACCS[self.dtype])} (dtype {self.dtype!r})")
        muls = MULS if self.is_float else ("exact",)
        if self.mul not in muls:
            raise ConfigError("mul", self.mul, f"{', '.join(muls)} (dtype {self.dtype!r})")

    @property
    def is_float(self) -> bool:
        """True for a floating-point dtype (float32 accumulator, one RNE rounding per PE)."""
        return self.dtype not in _INT_DTYPES

    @property
    def multiplier(self):
        """``"exact"`` or the :class:`~hwgen.emulation.LMul` of the dtype: the ``mul`` argument of ``fp_dot``."""
        return LMul(self.dtype_format) if self.mul == "lmul" else "exact"

    @property
    def dtype_format(self):
        """The activation/weight number format object."""
        return get_format(self.dtype)

    @property
    def acc_format(self):
        """The accumulator number format object (an ``IntFormat`` with ``overflow="saturate"`` for ``int32_sat``)."""
        return SATURATING_ACCS[self.acc] if self.acc in SATURATING_ACCS else get_format(self.acc)

    @property
    def saturates(self) -> bool:
        """True for a saturating integer accumulator: results depend on the order of the additions."""
        return self.acc in SATURATING_ACCS

    @property
    def top_name(self) -> str:
        """Verilog module name of the generated top, unique per configuration."""
        mul = "" if self.mul == "exact" else f"_{self.mul}"
        return f"systolic_{self.dataflow}_{self.rows}x{self.cols}_{self.dtype}_{self.acc}{mul}"

    def to_dict(self) -> dict:
        """Return the fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ArrayConfig:
        """Build a config from a dict, rejecting unknown keys by name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in fields:
                raise ConfigError(key, data[key], "one of the fields " + ", ".join(sorted(fields)))
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> ArrayConfig:
        """Load a config from a ``.toml`` or ``.json`` file."""
        from hwgen.emulation.units.config_files import load_config_file

        return cls.from_dict(load_config_file(path))


def _check_choice(field: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(field, value, ", ".join(allowed))
