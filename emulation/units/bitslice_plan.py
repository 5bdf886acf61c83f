"""Config, GEMM tiling and exact cycle formulas of the bit-slice PE and the Bit Fusion-like array."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hwgen.emulation import IntFormat, get_format
from hwgen.emulation.bitslice import SliceCoding, check_operands, fused_bits, fused_lanes, fusion_dot
from hwgen.emulation.errors import ConfigError

__all__ = [
    "ARRAY_LATENCY",
    "UNITS",
    "BitSliceConfig",
    "FusionPlan",
    "pe_cycles",
    "plan_fusion_gemm",
]

#: What ``build_bitslice`` generates: one ``BitSlicePE`` or the ``BitSliceArray``.
UNITS = ("array", "pe")
#: Largest rows/cols of the array: every cell is a whole fusion unit.
MAX_DIM = 16
#: Pipeline depth of the array: brick products and fusion tree (1), accumulator/output register (1).
ARRAY_LATENCY = 2
_ACCS = ("int16", "int32")


@dataclass(frozen=True)
class BitSliceConfig:
    """Configuration of a bit-slice design, validated at construction.

    Parameters
    ----------
    rows, cols : int
        Fusion units of the array (1..16): ``rows`` output rows (M) by ``cols`` output
        columns (N) per tile. Ignored for ``unit="pe"``.
    encoding : {"unsigned", "radix4"}
        Digits of the serial/activation operand (``hwgen.emulation.bitslice.ENCODINGS``).
    slice_bits : {1, 2}
        Bits per slice (brick width in the array); ``"radix4"`` needs 2.
    max_bits : int
        Widest run-time precision, ``slice_bits * 2**k`` in 2..16 (default 8).
    acc : {"int16", "int32"}
        Wrapping accumulator format.
    unit : {"array", "pe"}
        What a build generates.

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    rows: int = 2
    cols: int = 2
    encoding: str = "radix4"
    slice_bits: int = 2
    max_bits: int = 8
    acc: str = "int32"
    unit: str = "array"

    def __post_init__(self):
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise ConfigError(name, value, f"an integer from 1 to {MAX_DIM}")
        for name, allowed in (("slice_bits", "1 or 2"), ("max_bits", "an integer in 2..16 equal to slice_bits * 2**k")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):  # 2.0 == 2 would pass SliceCoding's checks
                raise ConfigError(name, value, allowed)
        self.coding  # noqa: B018  (validates encoding, slice_bits, max_bits)
        if self.acc not in _ACCS:
            raise ConfigError("acc", self.acc, ", ".join(_ACCS))
        if self.unit not in UNITS:
            raise ConfigError("unit", self.unit, ", ".join(UNITS))

    @property
    def coding(self) -> SliceCoding:
        """The digit coding of the operands."""
        return SliceCoding(self.encoding, self.slice_bits, self.max_bits)

    @property
    def acc_format(self) -> IntFormat:
        """The accumulator format object."""
        return get_format(self.acc)

    @property
    def word_bits(self) -> int:
        """Bits of one packed operand word of a fusion unit: all bricks' slices at the narrowest precision."""
        return (self.max_bits // self.slice_bits) ** 2 * self.slice_bits

    @property
    def top_name(self) -> str:
        """Verilog module name, unique per configuration."""
        shape = "pe" if self.unit == "pe" else f"{self.rows}x{self.cols}"
        return f"bitslice_{shape}_{self.encoding}{self.slice_bits}_max{self.max_bits}_{self.acc}"

    def to_dict(self) -> dict:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BitSliceConfig:
        """Build a config from a dict, rejecting unknown keys by name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in fields:
                raise ConfigError(key, data[key], "one of the fields " + ", ".join(sorted(fields)))
        return cls(**data)


def pe_cycles(coding: SliceCoding, a, a_bits: int) -> int:
    """Busy cycles of a bit-slice PE over the serial operands ``a``: ``sum max(1, nonzero digits)``."""
    return int(np.maximum(1, coding.nonzero(np.asarray(a), a_bits)).sum())


@dataclass(frozen=True)
class FusionPlan:
    """An ``M x K x N`` GEMM on the Bit Fusion-like array at precisions ``a_bits x w_bits``.

    Tiles are ``rows x cols`` outputs, visited M-tile outer, N-tile inner; each tile
    streams ``beats = ceil(K / lanes)`` beats, beat ``b`` carrying K elements
    ``b*lanes .. b*lanes+lanes-1`` of every row/column packed at the fused precisions
    (zero-padded at the edges).
    """

    cfg: BitSliceConfig
    m: int
    k: int
    n: int
    a_bits: int
    w_bits: int

    @property
    def lanes(self) -> int:
        """MACs per fusion unit per beat."""
        return fused_lanes(self.a_bits, self.w_bits, self.cfg.coding)

    @property
    def beats(self) -> int:
        return -(-self.k // self.lanes)

    @property
    def tiles(self) -> list[tuple[int, int]]:
        r, c = self.cfg.rows, self.cfg.cols
        return [(m0, n0) for m0 in range(0, self.m, r) for n0 in range(0, self.n, c)]

    @property
    def tile_count(self) -> int:
        """Output tiles, ``ceil(m / rows) * ceil(n / cols)``, counted without listing them."""
        return -(-self.m // self.cfg.rows) * -(-self.n // self.cfg.cols)

    @property
    def cycles(self) -> int:
        """Full-rate cycles, first accepted beat to last output inclusive: ``tiles * beats + ARRAY_LATENCY``.

        Fill is ``ARRAY_LATENCY`` cycles, then one beat per cycle (tiles follow back to
        back, K folded into ``beats``), and the last tile drains with its output.
        """
        return self.tile_count * self.beats + ARRAY_LATENCY

    def padded(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``a`` and ``b`` zero-padded to whole tiles and beats (after a range check)."""
        a = check_operands(a, self.a_bits, "a", self.cfg.max_bits)
        b = check_operands(b, self.w_bits, "w", self.cfg.max_bits)
        r, c, kk = self.cfg.rows, self.cfg.cols, self.beats * self.lanes
        pa = np.zeros((-(-self.m // r) * r, kk), dtype=np.int64)
        pb = np.zeros((kk, -(-self.n // c) * c), dtype=np.int64)
        pa[: self.m, : self.k], pb[: self.k, : self.n] = a, b
        return pa, pb

    def tile_outputs(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Golden ``rows x cols`` accumulators of every tile (``fusion_dot`` per output)."""
        pa, pb = self.padded(a, b)
        r, c, coding, acc = self.cfg.rows, self.cfg.cols, self.cfg.coding, self.cfg.acc_format
        out = []
        for m0, n0 in self.tiles:
            rows = np.repeat(pa[m0 : m0 + r], c, axis=0)
            cols = np.tile(pb[:, n0 : n0 + c].T, (r, 1))
            out.append(fusion_dot(rows, cols, self.a_bits, self.w_bits, coding, acc).reshape(r, c))
        return out

    def word(self, values, bits: int) -> int:
        """Pack ``lanes`` values at the fused precision of ``bits`` into one operand word (lane 0 lowest)."""
        fb = fused_bits(bits, self.cfg.slice_bits)
        return sum((int(v) & ((1 << fb) - 1)) << (i * fb) for i, v in enumerate(values))


def plan_fusion_gemm(cfg: BitSliceConfig, m: int, k: int, n: int, a_bits: int, w_bits: int) -> FusionPlan:
    """Plan an ``m x k x n`` GEMM at run-time precisions ``a_bits``, ``w_bits``.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or a precision is outside 2..max_bits.
    """
    for name, value in (("m", m), ("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(name, value, "an integer >= 1")
    for name, value in (("a_bits", a_bits), ("w_bits", w_bits)):
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= cfg.max_bits:
            raise ConfigError(name, value, f"an integer in 2..{cfg.max_bits}")
    return FusionPlan(cfg, m, k, n, a_bits, w_bits)
