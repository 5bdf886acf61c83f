"""Typed, validated configuration of a compute array (no hardware imports)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hwgen.emulation import get_format
from hwgen.emulation.errors import ConfigError

__all__ = ["ARCHS", "DATAFLOWS", "MAX_DIM", "ArrayConfig"]

#: Architectures ``hwgen build --arch`` knows.
ARCHS = ("systolic",)
#: Dataflows of the systolic array.
DATAFLOWS = ("ws", "is", "os")
#: Largest rows/cols: beyond it Verilator builds and wide stream payloads stop being practical.
MAX_DIM = 64
_DTYPES = ("int8",)
_ACCS = ("int32",)


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
        Format name of activations and weights (``"int8"``).
    acc : str
        Format name of the accumulator (``"int32"``, wrapping on overflow).
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

    def __post_init__(self):
        _check_choice("arch", self.arch, ARCHS)
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise ConfigError(name, value, f"an integer from 1 to {MAX_DIM}")
        _check_choice("dataflow", self.dataflow, DATAFLOWS)
        _check_choice("dtype", self.dtype, _DTYPES)
        _check_choice("acc", self.acc, _ACCS)

    @property
    def dtype_format(self):
        """The activation/weight number format object."""
        return get_format(self.dtype)

    @property
    def acc_format(self):
        """The accumulator number format object."""
        return get_format(self.acc)

    @property
    def top_name(self) -> str:
        """Verilog module name of the generated top, unique per configuration."""
        return f"systolic_{self.dataflow}_{self.rows}x{self.cols}_{self.dtype}_{self.acc}"

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
        path = Path(path)
        if path.suffix not in (".toml", ".json"):
            raise ConfigError("config", str(path), "a .toml or .json file")
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError("config", str(path), f"a readable file ({exc.strerror})") from None
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError("config", str(path), f"valid {path.suffix[1:]} ({exc})") from None
        return cls.from_dict(data)


def _check_choice(field: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(field, value, ", ".join(allowed))
