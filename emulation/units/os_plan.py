"""Tiling plan and exact cycle formula of the output-stationary systolic array."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import fp_matmul, int_matmul, latency

__all__ = ["OutputStationaryPlan", "OsTile"]


@dataclass(frozen=True)
class OsTile:
    """One output tile: rows ``m0:m0+rows`` and columns ``n0:n0+cols`` of the result."""

    m0: int
    n0: int


@dataclass(frozen=True)
class OutputStationaryPlan:
    """Output-stationary plan of an ``m x k x n`` GEMM ``a @ b``.

    Each ``rows x cols`` tile of the result accumulates in the PEs while all K steps
    stream through: per step, ``i_act`` carries a column of ``a`` (``rows`` lanes, with
    ``last`` on step K-1) and ``i_weight`` the matching row of ``b`` (``cols`` lanes).
    No partial sums leave the array; edge tiles are zero-padded. Integer outputs are
    summed over k in order (``systolic_model.int_matmul``), so a saturating
    accumulator (``acc="int32_sat"``) equals ``hwgen.emulation.accumulate`` over K.

    Float dtypes: operands and results are values (float64; NaN stands for the
    canonical NaN code) and every output is ``fp_dot`` of its row and column
    (sequential K from +0, one rounding per step). K never splits, so any ``k`` works;
    only M and N are padded, and padded outputs are dropped.
    """

    cfg: ArrayConfig
    m: int
    k: int
    n: int

    @property
    def tiles(self) -> list[OsTile]:
        r, c = self.cfg.rows, self.cfg.cols
        return [OsTile(m0, n0) for m0 in range(0, self.m, r) for n0 in range(0, self.n, c)]

    @property
    def tile_count(self) -> int:
        """Output tiles, ``ceil(m / rows) * ceil(n / cols)``, counted without listing them."""
        return -(-self.m // self.cfg.rows) * -(-self.n // self.cfg.cols)

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n

    @property
    def _dtype(self):
        return np.float64 if self.cfg.is_float else np.int64

    def _a_block(self, a: np.ndarray, tile: OsTile) -> np.ndarray:
        out = np.zeros((self.cfg.rows, self.k), dtype=self._dtype)
        block = np.asarray(a, dtype=self._dtype)[tile.m0 : tile.m0 + self.cfg.rows]
        out[: block.shape[0]] = block
        return out

    def _b_block(self, b: np.ndarray, tile: OsTile) -> np.ndarray:
        out = np.zeros((self.k, self.cfg.cols), dtype=self._dtype)
        block = np.asarray(b, dtype=self._dtype)[:, tile.n0 : tile.n0 + self.cfg.cols]
        out[:, : block.shape[1]] = block
        return out

    def input_beats(self, a, b) -> dict[str, list]:
        """Beats for ``i_act`` (columns of ``a``) and ``i_weight`` (rows of ``b``), consumed in pairs."""
        acts, weights = [], []
        for t in self.tiles:
            cols_of_a, rows_of_b = self._a_block(a, t).T, self._b_block(b, t)
            acts += [(col, k == self.k - 1) for k, col in enumerate(cols_of_a)]
            weights += [(row, None) for row in rows_of_b]
        return {"i_act": acts, "i_weight": weights}

    def tile_outputs(self, a, b) -> list[np.ndarray]:
        """Golden ``rows x cols`` result of every tile, in tile order (accumulator arithmetic)."""
        if self.cfg.is_float:
            return [fp_matmul(self.cfg, self._a_block(a, t), self._b_block(b, t)) for t in self.tiles]
        return [int_matmul(self.cfg, self._a_block(a, t), self._b_block(b, t)) for t in self.tiles]

    def output_beats(self, a, b) -> list:
        """Each tile's ``rows`` result rows, ``last`` on the final one."""
        rows = self.cfg.rows
        return [(row, i == rows - 1) for part in self.tile_outputs(a, b) for i, row in enumerate(part)]

    def assemble(self, tile_outputs: list[np.ndarray]) -> np.ndarray:
        """Place the tiles into the ``m x n`` result (no sums: K never splits)."""
        out = np.zeros((self.m, self.n), dtype=self._dtype)
        for t, part in zip(self.tiles, tile_outputs, strict=True):
            h, w = min(self.cfg.rows, self.m - t.m0), min(self.cfg.cols, self.n - t.n0)
            out[t.m0 : t.m0 + h, t.n0 : t.n0 + w] = part[:h, :w]
        return out

    def cycles(self) -> int:
        """Cycles at full rate, from the first input beat to the last output, inclusive.

        Steps enter one per cycle. A tile's results are captured as its last step
        sweeps the grid (D = ``systolic_model.latency`` cycles), then drain one row per cycle
        (``rows`` cycles) while the next tile already accumulates; only the next
        tile's last step waits until the drain is over. With ``e_t`` the cycle the
        last step of tile t enters: ``e_0 = K - 1``, ``e_t = e_{t-1} + max(K, D + rows + 1)``,
        and the count is ``e_{T-1} + D + rows + 1``.
        """
        rows, k = self.cfg.rows, self.k
        depth = latency(self.cfg)
        last = k - 1 + (self.tile_count - 1) * max(k, depth + rows + 1)
        return last + depth + rows + 1
