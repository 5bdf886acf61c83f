"""Tiling plan and cycle formula of the weight-stationary systolic array (no hardware imports)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.dataflow.config import ArrayConfig
from hwgen.emulation import ops

__all__ = ["GemmPlan", "Tile", "gemm_cycles", "latency", "plan_gemm", "tile_cycles", "utilisation"]


@dataclass(frozen=True)
class Tile:
    """One weight tile: rows ``k0:k0+rows`` of K and columns ``n0:n0+cols`` of N."""

    k0: int
    n0: int


@dataclass(frozen=True)
class GemmPlan:
    """How an ``M x K x N`` GEMM is cut into weight tiles of one array.

    Tiles are visited N-tile outer, K-tile inner; edge tiles are zero-padded to the
    full array, so every tile costs the same cycles.
    """

    cfg: ArrayConfig
    m: int
    k: int
    n: int

    @property
    def tiles(self) -> list[Tile]:
        r, c = self.cfg.rows, self.cfg.cols
        return [Tile(k0, n0) for n0 in range(0, self.n, c) for k0 in range(0, self.k, r)]

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates (padding excluded)."""
        return self.m * self.k * self.n

    def weight_rows(self, b: np.ndarray, tile: Tile) -> np.ndarray:
        """Weight tile as ``rows x cols`` integers, zero-padded at the edges."""
        out = np.zeros((self.cfg.rows, self.cfg.cols), dtype=np.int64)
        block = b[tile.k0 : tile.k0 + self.cfg.rows, tile.n0 : tile.n0 + self.cfg.cols]
        out[: block.shape[0], : block.shape[1]] = block
        return out

    def act_rows(self, a: np.ndarray, tile: Tile) -> np.ndarray:
        """Activation slice as ``m x rows`` integers, zero-padded at the K edge."""
        out = np.zeros((self.m, self.cfg.rows), dtype=np.int64)
        block = a[:, tile.k0 : tile.k0 + self.cfg.rows]
        out[:, : block.shape[1]] = block
        return out

    def tile_outputs(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Golden ``m x cols`` output of every tile, in tile order (accumulator arithmetic)."""
        acc = self.cfg.acc_format
        return [ops.matmul_int(self.act_rows(a, t), self.weight_rows(b, t), acc) for t in self.tiles]

    def assemble(self, tile_outputs: list[np.ndarray]) -> np.ndarray:
        """Sum K-tile partial results into the ``m x n`` output with accumulator wrap-around."""
        out = np.zeros((self.m, self.n), dtype=np.int64)
        for tile, part in zip(self.tiles, tile_outputs, strict=True):
            width = min(self.cfg.cols, self.n - tile.n0)
            out[:, tile.n0 : tile.n0 + width] += np.asarray(part, dtype=np.int64)[:, :width]
        return self.cfg.acc_format.fit(out)


def plan_gemm(cfg: ArrayConfig, m: int, k: int, n: int) -> GemmPlan:
    """Plan an ``m x k x n`` GEMM on the array described by ``cfg``.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer.
    """
    for name, value in (("m", m), ("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"GEMM dimension {name}={value!r} is not allowed; allowed: an integer >= 1")
    return GemmPlan(cfg, m, k, n)


def latency(cfg: ArrayConfig) -> int:
    """Pipeline depth D = rows + cols - 1: cycles from an accepted activation row to its output."""
    return cfg.rows + cfg.cols - 1


def tile_cycles(cfg: ArrayConfig, m: int) -> int:
    """Cycles of one tile at full throughput: load ``rows`` weight rows, stream ``m`` rows, drain.

    ``rows + m + D``: weights load one row per cycle into an empty pipeline, one
    activation row enters per cycle, and the next tile's weights wait until the last
    output has left (D cycles after the last activation).
    """
    return cfg.rows + m + latency(cfg)


def gemm_cycles(plan: GemmPlan) -> int:
    """Cycles of a whole GEMM at full throughput: tiles run back to back."""
    return len(plan.tiles) * tile_cycles(plan.cfg, plan.m)


def utilisation(plan: GemmPlan, cycles: int) -> float:
    """Fraction of PE-cycles doing useful MACs."""
    return plan.macs / (plan.cfg.rows * plan.cfg.cols * cycles)
