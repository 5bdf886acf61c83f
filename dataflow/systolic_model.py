"""Tiling plans and exact cycle formulas of the systolic array's dataflows (no hardware imports).

A plan says which rows each stream port carries for an ``M x K x N`` GEMM, what the
array must return, and how many cycles that takes at full rate. Weight- and
input-stationary share one datapath (a stationary operand in the PEs, the other
streamed through, partial sums flowing down); output-stationary keeps the sums in the
PEs (``os_model``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.dataflow.config import ArrayConfig
from hwgen.emulation import ops

__all__ = ["Beat", "StationaryPlan", "Tile", "gemm_cycles", "latency", "plan_gemm", "utilisation"]

#: One stream beat: integer lanes and the ``last`` flag (None on ports without one).
Beat = tuple[np.ndarray, bool | None]


@dataclass(frozen=True)
class Tile:
    """One stationary tile: rows ``k0:k0+rows`` of K and columns ``n0:n0+cols`` of the streamed GEMM's N."""

    k0: int
    n0: int


def _padded(block: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    out[: block.shape[0], : block.shape[1]] = block
    return out


@dataclass(frozen=True)
class StationaryPlan:
    """Weight- or input-stationary plan of an ``m x k x n`` GEMM ``a @ b``.

    Weight-stationary keeps ``rows x cols`` tiles of ``b`` in the PEs and streams the
    ``m`` rows of ``a``; input-stationary runs the same datapath on the transposed
    problem ``(b.T @ a.T).T``: tiles of ``a.T`` stay, the ``n`` columns of ``b``
    stream, and each output beat is a column of the result. Tiles go N-tile outer,
    K-tile inner; edge tiles are zero-padded; K-tile partial sums add (wrapping) on
    the host.
    """

    cfg: ArrayConfig
    m: int
    k: int
    n: int

    @property
    def _transposed(self) -> bool:
        return self.cfg.dataflow == "is"

    @property
    def streamed(self) -> int:
        """Rows streamed per tile (``m`` for WS, ``n`` for IS)."""
        return self.n if self._transposed else self.m

    @property
    def _width(self) -> int:
        return self.m if self._transposed else self.n

    @property
    def tiles(self) -> list[Tile]:
        r, c = self.cfg.rows, self.cfg.cols
        return [Tile(k0, n0) for n0 in range(0, self._width, c) for k0 in range(0, self.k, r)]

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates (padding excluded)."""
        return self.m * self.k * self.n

    @property
    def ports(self) -> tuple[str, str]:
        """(stationary port, streamed port) of the array."""
        return ("i_act", "i_weight") if self._transposed else ("i_weight", "i_act")

    def _operands(self, a, b):
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return (b.T, a.T) if self._transposed else (a, b)

    def _stationary(self, held: np.ndarray, tile: Tile) -> np.ndarray:
        r, c = self.cfg.rows, self.cfg.cols
        return _padded(held[tile.k0 : tile.k0 + r, tile.n0 : tile.n0 + c], (r, c))

    def _moving(self, moving: np.ndarray, tile: Tile) -> np.ndarray:
        r = self.cfg.rows
        return _padded(moving[:, tile.k0 : tile.k0 + r], (self.streamed, r))

    def input_beats(self, a, b) -> dict[str, list[Beat]]:
        """Beats for each input port, in order, for the whole GEMM."""
        moving, held = self._operands(a, b)
        stationary, streamed = self.ports
        return {
            stationary: [(row, None) for t in self.tiles for row in self._stationary(held, t)],
            streamed: [
                (row, i == self.streamed - 1) for t in self.tiles for i, row in enumerate(self._moving(moving, t))
            ],
        }

    def tile_outputs(self, a, b) -> list[np.ndarray]:
        """Golden ``streamed x cols`` output of every tile, in tile order (accumulator arithmetic)."""
        moving, held = self._operands(a, b)
        acc = self.cfg.acc_format
        return [ops.matmul_int(self._moving(moving, t), self._stationary(held, t), acc) for t in self.tiles]

    def output_beats(self, a, b) -> list[Beat]:
        """The beats ``o_out`` must produce, in order."""
        return [(row, i == self.streamed - 1) for part in self.tile_outputs(a, b) for i, row in enumerate(part)]

    def assemble(self, tile_outputs: list[np.ndarray]) -> np.ndarray:
        """Sum K-tile partial results into the ``m x n`` result with accumulator wrap-around."""
        out = np.zeros((self.streamed, self._width), dtype=np.int64)
        for tile, part in zip(self.tiles, tile_outputs, strict=True):
            width = min(self.cfg.cols, self._width - tile.n0)
            out[:, tile.n0 : tile.n0 + width] += np.asarray(part, dtype=np.int64)[:, :width]
        out = self.cfg.acc_format.fit(out)
        return out.T if self._transposed else out

    def cycles(self) -> int:
        """Cycles at full rate, from the first input beat to the last output, inclusive.

        The stationary operand is double-buffered, so the schedule is a short
        recurrence over tiles k (R = rows, S = streamed rows per tile, D = latency):

        - stationary rows of tile k load in R cycles from ``W_k``, with ``W_0 = 0``,
          ``W_1 = R`` and ``W_k = max(W_{k-1} + R, E_{k-2} + D)``: a bank is refilled
          once the tile that used it two tiles ago has left the PE grid;
        - streamed rows of tile k enter from ``A_k = max(E_{k-1} + 1, W_k + R)`` to
          ``E_k = A_k + S - 1``, one per cycle;
        - the last output leaves at ``E_{T-1} + D``, so the count is ``E_{T-1} + D + 1``.

        In steady state a tile costs ``max(S, R, (S + R + D - 1) / 2)`` cycles: compute
        hides the load whenever ``S >= R + D - 1``.
        """
        rows, s, depth = self.cfg.rows, self.streamed, latency(self.cfg)
        loads, ends = [], []
        for k in range(len(self.tiles)):
            load = k * rows if k < 2 else max(loads[k - 1] + rows, ends[k - 2] + depth)
            start = max(ends[k - 1] + 1 if k else 0, load + rows)
            loads.append(load)
            ends.append(start + s - 1)
        return ends[-1] + depth + 1


def plan_gemm(cfg: ArrayConfig, m: int, k: int, n: int):
    """Plan an ``m x k x n`` GEMM on the array ``cfg`` describes, for its dataflow.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer.
    """
    for name, value in (("m", m), ("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"GEMM dimension {name}={value!r} is not allowed; allowed: an integer >= 1")
    if cfg.dataflow == "os":
        from hwgen.dataflow.os_model import OutputStationaryPlan

        return OutputStationaryPlan(cfg, m, k, n)
    return StationaryPlan(cfg, m, k, n)


def latency(cfg: ArrayConfig) -> int:
    """Pipeline depth D = rows + cols - 1: cycles from a streamed row entering to its last product."""
    return cfg.rows + cfg.cols - 1


def gemm_cycles(plan) -> int:
    """Exact cycles of a planned GEMM at full rate (see each plan's ``cycles``)."""
    return plan.cycles()


def utilisation(plan, cycles: int) -> float:
    """Fraction of PE-cycles doing useful MACs."""
    return plan.macs / (plan.cfg.rows * plan.cfg.cols * cycles)
