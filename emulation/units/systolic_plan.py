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

from hwgen.emulation import accumulate, ops
from hwgen.emulation.fp_mac_model import canonical_codes, fp_add, fp_dot
from hwgen.emulation.units.systolic_config import ArrayConfig

__all__ = [
    "Beat",
    "StationaryPlan",
    "Tile",
    "fp_matmul",
    "gemm_cycles",
    "int_matmul",
    "latency",
    "plan_gemm",
    "stationary_cycles",
    "utilisation",
]

#: One stream beat: lanes (integers; float64 values for float dtypes) and ``last`` (None on ports without one).
Beat = tuple[np.ndarray, bool | None]


@dataclass(frozen=True)
class Tile:
    """One stationary tile: rows ``k0:k0+rows`` of K and columns ``n0:n0+cols`` of the streamed GEMM's N."""

    k0: int
    n0: int


def _padded(block: np.ndarray, shape: tuple[int, int], fill: float = 0) -> np.ndarray:
    out = np.full(shape, fill, dtype=block.dtype)
    out[: block.shape[0], : block.shape[1]] = block
    return out


@dataclass(frozen=True)
class StationaryPlan:
    """Weight- or input-stationary plan of an ``m x k x n`` GEMM ``a @ b``.

    Weight-stationary keeps ``rows x cols`` tiles of ``b`` in the PEs and streams the
    ``m`` rows of ``a``; input-stationary runs the same datapath on the transposed
    problem ``(b.T @ a.T).T``: tiles of ``a.T`` stay, the ``n`` columns of ``b``
    stream, and each output beat is a column of the result. Tiles go N-tile outer,
    K-tile inner; edge tiles are zero-padded; K-tile partial sums add on the host in
    the accumulator (``assemble``).

    Saturating integer accumulator (``acc="int32_sat"``): every addition clamps, so the
    order is part of the result. Within a tile each output is the sequential
    saturating sum down the column, row 0 (K index ``k0``) first, starting from 0
    (``hwgen.emulation.accumulate(products, acc)``); ``assemble`` then adds the K-tile
    partials of an output in K-tile order, again saturating at every addition. A
    GEMM with ``k <= rows`` is therefore exactly ``accumulate`` over K in order; a
    longer one may differ from it where a partial saturated. Zero padding adds 0,
    which never changes a saturating sum.

    Float dtypes: operands and results are real values (float64 arrays holding
    values of ``dtype``/``acc``; NaN results stand for the canonical NaN code).
    K-tiles run down the columns one after another, and each tile's output is
    ``fp_dot`` of its K slice: sequential K from +0, one RNE rounding per row, as the
    PEs compute it. ``assemble`` then adds the K-tile partials ``p_0, p_1, ...`` of
    an output in K-tile order, ``((p_0 + p_1) + p_2) + ...``, each addition rounded
    once to nearest even in the accumulator (``fp_add``: the IEEE adder of the
    accumulator format, ``x + (-x) = +0``, ``(-0) + (-0) = -0``, ``Inf - Inf`` and any
    NaN give the canonical NaN, overflow gives ±Inf). With ``k <= rows`` there is one
    K-tile and the result is exactly the one-pass ``fp_dot`` over K. A deeper GEMM is
    a chunked order, not the one-pass sequential ``fp_dot``: each chunk restarts from
    +0 and its rounded sum is added as one term, so the result can differ from the
    one-pass sum in the last bits (small products that round away one at a time may
    add up within a chunk) and in the sign of a zero (a ``-0`` partial plus a ``+0``
    partial is ``+0``). Padded K rows hold ``+0`` in the streamed and ``-0`` in the
    held operand: their product ``-0`` is the exact additive identity of RNE
    (``x + (-0) = x`` also for ``x = ±0``), so padding never changes a result.
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
        dtype = np.float64 if self.cfg.is_float else np.int64
        a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
        return (b.T, a.T) if self._transposed else (a, b)

    def _stationary(self, held: np.ndarray, tile: Tile) -> np.ndarray:
        r, c = self.cfg.rows, self.cfg.cols
        fill = -0.0 if self.cfg.is_float else 0  # see the class docstring
        return _padded(held[tile.k0 : tile.k0 + r, tile.n0 : tile.n0 + c], (r, c), fill)

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
        if self.cfg.is_float:
            return [fp_matmul(self.cfg, self._moving(moving, t), self._stationary(held, t)) for t in self.tiles]
        return [int_matmul(self.cfg, self._moving(moving, t), self._stationary(held, t)) for t in self.tiles]

    def output_beats(self, a, b) -> list[Beat]:
        """The beats ``o_out`` must produce, in order."""
        return [(row, i == self.streamed - 1) for part in self.tile_outputs(a, b) for i, row in enumerate(part)]

    def assemble(self, tile_outputs: list[np.ndarray]) -> np.ndarray:
        """Sum K-tile partial results into the ``m x n`` result in the accumulator.

        A wrapping accumulator wraps the total; a saturating one clamps after adding
        each K-tile's partial, in K-tile order. A float accumulator takes the first
        K-tile's partial as it is and adds each later one with one RNE rounding
        (``fp_add``), in K-tile order (see the class docstring).
        """
        dtype = np.float64 if self.cfg.is_float else np.int64
        out = np.zeros((self.streamed, self._width), dtype=dtype)
        for tile, part in zip(self.tiles, tile_outputs, strict=True):
            cols = slice(tile.n0, tile.n0 + min(self.cfg.cols, self._width - tile.n0))
            part = np.asarray(part, dtype=dtype)[:, : cols.stop - cols.start]
            if self.cfg.is_float:  # the first partial is assigned: +0 + -0 would lose the sign of a zero
                out[:, cols] = part if tile.k0 == 0 else _float_add(self.cfg.acc_format, out[:, cols], part)
            else:
                block = out[:, cols] + part
                out[:, cols] = self.cfg.acc_format.fit(block) if self.cfg.saturates else block
        out = out if self.cfg.is_float else self.cfg.acc_format.fit(out)
        return out.T if self._transposed else out

    @property
    def tile_count(self) -> int:
        """Stationary tiles, ``ceil(k / rows) * ceil(width / cols)``, counted without listing them."""
        return -(-self.k // self.cfg.rows) * -(-self._width // self.cfg.cols)

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
        hides the load whenever ``S >= R + D - 1``. :func:`stationary_cycles` evaluates
        the recurrence in time independent of the tile count.
        """
        return stationary_cycles(self.cfg.rows, self.streamed, self.tile_count, latency(self.cfg))


def stationary_cycles(rows: int, streamed: int, tiles: int, depth: int) -> int:
    """Exact cycles of the double-buffered stationary recurrence (``StationaryPlan.cycles``), fast.

    From tile 2 on the recurrence is shift-invariant: its next state depends only on
    ``(E_{k-1} - W_k, E_{k-2} - W_k)``. Once that state recurs, the tiles repeat with a
    fixed period and step, so whole periods are skipped at once; the result equals the
    tile-by-tile recurrence exactly, in a few steps even for 10**12 tiles.

    Parameters
    ----------
    rows : int
        R: rows of a stationary tile (cycles to load one).
    streamed : int
        S: streamed rows per tile.
    tiles : int
        T >= 1: stationary tiles of the GEMM.
    depth : int
        D: the array's pipeline depth (:func:`latency`).

    Returns
    -------
    int
        ``E_{T-1} + D + 1``.
    """
    load, end, prev_end = 0, streamed - 1 + rows, None  # tile 0
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    t = 1
    while t < tiles:
        if t >= 2:
            state = (end - load, prev_end - load)
            if state in seen:
                t0, load0 = seen.pop(state)
                periods = (tiles - t) // (t - t0)
                shift = periods * (load - load0)
                t, load, end, prev_end = t + periods * (t - t0), load + shift, end + shift, prev_end + shift
                seen.clear()
                if t >= tiles:
                    break
            seen[state] = (t, load)
        load = t * rows if t < 2 else max(load + rows, prev_end + depth)
        start = max(end + 1, load + rows)
        prev_end, end = end, start + streamed - 1
        t += 1
    return end + depth + 1


def _float_add(acc, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x + y`` of accumulator values (NaN: the canonical NaN) through the accumulator's IEEE adder."""
    x_codes, y_codes = (canonical_codes(acc, np.asarray(v, np.float64).reshape(-1)) for v in (x, y))
    return acc.decode(fp_add(x_codes, y_codes, acc), np.float64).reshape(np.shape(x))


def fp_matmul(cfg: ArrayConfig, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float ``a @ b`` as the PEs compute it: ``fp_dot`` of each row of ``a`` with each column of ``b``.

    Parameters
    ----------
    cfg : ArrayConfig
        A float config: its dtype, accumulator and multiplier.
    a, b : numpy.ndarray of float64
        ``(m, k)`` and ``(k, n)`` values of the dtype.

    Returns
    -------
    numpy.ndarray of float64, shape (m, n)
        Accumulator values (NaN for the canonical NaN).
    """
    fmt, acc = cfg.dtype_format, cfg.acc_format
    rows = fmt.encode(a.reshape(-1)).reshape(a.shape)[:, None, :]  # (m, 1, k)
    columns = fmt.encode(b.T.reshape(-1)).reshape(b.T.shape)[None]  # (1, n, k)
    a_codes, b_codes = (np.ascontiguousarray(x) for x in np.broadcast_arrays(rows, columns))
    codes = fp_dot(a_codes, b_codes, fmt, acc, cfg.multiplier)
    return acc.decode(codes.reshape(-1), np.float64).reshape(codes.shape)


def int_matmul(cfg: ArrayConfig, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer ``a @ b`` in the array's accumulator, summing K in order (index 0 first).

    A wrapping accumulator is order-free (``ops.matmul_int``); a saturating one clamps
    every addition (``hwgen.emulation.accumulate`` in sequential order from 0), which
    is what a column of PEs or an output-stationary PE does.

    Parameters
    ----------
    cfg : ArrayConfig
        An integer config.
    a, b : numpy.ndarray of int64
        ``(m, k)`` and ``(k, n)`` operand values.

    Returns
    -------
    numpy.ndarray of int64, shape (m, n)
    """
    acc = cfg.acc_format
    if not cfg.saturates:
        return ops.matmul_int(a, b, acc)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    return accumulate(a[:, :, None] * b[None, :, :], acc, "sequential", axis=1)


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
        from hwgen.emulation.units.os_plan import OutputStationaryPlan

        return OutputStationaryPlan(cfg, m, k, n)
    return StationaryPlan(cfg, m, k, n)


def latency(cfg: ArrayConfig) -> int:
    """Pipeline depth D: cycles from a streamed row entering to its result leaving the grid.

    ``rows + cols - 1`` for the skew and the sweep across the grid, plus the PEs'
    extra pipeline stages: two in ``MacPE`` and ``SystolicFloatPE`` (operand and product
    registers), one in ``OsMacPE`` and ``SystolicFloatOsPE`` (product register). The float
    PEs keep the integer PEs' stages (the float add is one combinational stage), so
    the depth and every cycle formula do not depend on the dtype.
    """
    return cfg.rows + cfg.cols + (0 if cfg.dataflow == "os" else 1)


def gemm_cycles(plan) -> int:
    """Exact cycles of a planned GEMM at full rate (see each plan's ``cycles``)."""
    return plan.cycles()


def utilisation(plan, cycles: int) -> float:
    """Fraction of PE-cycles doing useful MACs."""
    return plan.macs / (plan.cfg.rows * plan.cfg.cols * cycles)
