"""Config, GEMM tiling and exact cycle formula of the adder-tree array (no hardware imports)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hwgen.emulation import IntFormat, get_format
from hwgen.emulation.addertree import addertree_dot, tree_depth
from hwgen.emulation.errors import ConfigError

__all__ = ["AdderTreeConfig", "TreePlan", "array_latency", "plan_tree_gemm"]

_DTYPES = ("int4", "int8")
_ACCS = ("int16", "int32")
#: Largest rows/lanes: a beat carries rows * lanes weights.
MAX_DIM = 32


@dataclass(frozen=True)
class AdderTreeConfig:
    """Configuration of an adder-tree array (HPCA'25 2D matrix engine style), validated at construction.

    Parameters
    ----------
    rows : int
        Dot units (1..32): outputs (N) per tile; they share the activation vector.
    lanes : int
        Multipliers per dot unit (1..32): K elements per beat.
    dtype : {"int4", "int8"}
        Operand format.
    acc : {"int16", "int32"}
        Wrapping accumulator format.

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    rows: int = 4
    lanes: int = 4
    dtype: str = "int8"
    acc: str = "int32"

    def __post_init__(self):
        for name in ("rows", "lanes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise ConfigError(name, value, f"an integer from 1 to {MAX_DIM}")
        if self.dtype not in _DTYPES:
            raise ConfigError("dtype", self.dtype, ", ".join(_DTYPES))
        if self.acc not in _ACCS:
            raise ConfigError("acc", self.acc, ", ".join(_ACCS))

    @property
    def dtype_format(self) -> IntFormat:
        return get_format(self.dtype)

    @property
    def acc_format(self) -> IntFormat:
        return get_format(self.acc)

    @property
    def top_name(self) -> str:
        """Verilog module name, unique per configuration."""
        return f"addertree_{self.rows}x{self.lanes}_{self.dtype}_{self.acc}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AdderTreeConfig:
        """Build a config from a dict, rejecting unknown keys by name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in fields:
                raise ConfigError(key, data[key], "one of the fields " + ", ".join(sorted(fields)))
        return cls(**data)


def array_latency(cfg: AdderTreeConfig) -> int:
    """Pipeline depth D = ``ceil(log2 lanes) + 2``: products (1), tree levels, accumulator/output (1)."""
    return tree_depth(cfg.lanes) + 2


@dataclass(frozen=True)
class TreePlan:
    """An ``M x K x N`` GEMM on the adder-tree array.

    Tiles are one activation row ``m`` by ``rows`` output columns, visited M outer,
    N-tile inner; each streams ``beats = ceil(K / lanes)`` beats (zero-padded edges).
    """

    cfg: AdderTreeConfig
    m: int
    k: int
    n: int

    @property
    def beats(self) -> int:
        return -(-self.k // self.cfg.lanes)

    @property
    def tiles(self) -> list[tuple[int, int]]:
        return [(i, n0) for i in range(self.m) for n0 in range(0, self.n, self.cfg.rows)]

    @property
    def tile_count(self) -> int:
        """Tiles, ``m * ceil(n / rows)``, counted without listing them."""
        return self.m * -(-self.n // self.cfg.rows)

    @property
    def cycles(self) -> int:
        """Full-rate cycles, first beat to last result inclusive: ``tiles * beats + D``.

        Fill is D (``array_latency``), steady state one beat per cycle over all tiles
        (K folded into ``beats`` per tile), and the drain is the last result leaving.
        """
        return self.tile_count * self.beats + array_latency(self.cfg)

    def padded(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``a`` (m x K') and ``b`` (K' x N') zero-padded to whole beats and tiles."""
        kk, nn = self.beats * self.cfg.lanes, -(-self.n // self.cfg.rows) * self.cfg.rows
        pa, pb = np.zeros((self.m, kk), dtype=np.int64), np.zeros((kk, nn), dtype=np.int64)
        pa[:, : self.k], pb[: self.k, : self.n] = a, b
        return pa, pb

    def tile_outputs(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Golden ``rows`` accumulators of every tile (``addertree_dot`` per output)."""
        pa, pb = self.padded(a, b)
        r, cfg = self.cfg.rows, self.cfg
        return [
            addertree_dot(
                np.repeat(pa[i : i + 1], r, axis=0), pb[:, n0 : n0 + r].T, cfg.lanes, cfg.dtype_format, cfg.acc_format
            )
            for i, n0 in self.tiles
        ]


def plan_tree_gemm(cfg: AdderTreeConfig, m: int, k: int, n: int) -> TreePlan:
    """Plan an ``m x k x n`` GEMM.

    Raises
    ------
    ConfigError
        If a dimension is not a positive integer.
    """
    for name, value in (("m", m), ("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(name, value, "an integer >= 1")
    return TreePlan(cfg, m, k, n)
