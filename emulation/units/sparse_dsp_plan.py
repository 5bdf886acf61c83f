"""Cycle formula and throughput of the sparse DSP chain (no hardware imports)."""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.emulation.sparse_chain import SparseChainConfig

__all__ = ["GemvCost", "gemv_beats", "gemv_cost", "gemv_cycles", "latency", "stream_cycles"]


def latency(cfg: SparseChainConfig) -> int:
    """Pipeline depth ``D = n_groups + 3``: cycles from an accepted beat to its result on ``o_out``.

    One cycle each for the slice input registers (after the sparse multiplexer), the
    product registers and the group-sum registers, then one per reduction node along
    the registered cascade; earlier nodes are delayed to line up with the last.
    """
    return cfg.n_groups + 3


def stream_cycles(cfg: SparseChainConfig, beats: int) -> int:
    """Cycles from the first accepted beat to the last result at full rate: ``beats + D``.

    One beat enters per cycle; the final beat's result leaves ``D`` cycles after it.
    """
    if beats < 1:
        raise ValueError(f"beats={beats} is not allowed; allowed: an integer >= 1")
    return beats + latency(cfg)


def gemv_beats(cfg: SparseChainConfig, rows: int, cols: int, mode: int) -> int:
    """Beats of ``y = W x`` for a ``rows x cols`` matrix: ``ceil(rows / s) * ceil(cols / span)``.

    A beat covers ``span = (length / s) * m / n`` columns of ``s`` rows (one row per
    segment; ``s = m / n`` and ``span = length`` in the default layout), so N:M needs
    ``n / m`` of the dense beats for the same matrix whatever ``s`` is.
    """
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"GEMV {name}={value!r} is not allowed; allowed: an integer >= 1")
    return -(-rows // cfg.segments(mode)) * -(-cols // cfg.span(mode))


def gemv_cycles(cfg: SparseChainConfig, rows: int, cols: int, mode: int) -> int:
    """Cycles of one GEMV at full rate: ``gemv_beats + D``."""
    return stream_cycles(cfg, gemv_beats(cfg, rows, cols, mode))


@dataclass(frozen=True)
class GemvCost:
    """Cost of one ``rows x cols`` GEMV in one mode.

    Attributes
    ----------
    mode : tuple of int
        ``(n, m)`` or ``(n, m, s)`` as configured; ``(1, 1)`` is dense.
    beats, cycles : int
        Stream beats and full-rate cycles (``cycles = beats + D``).
    dense_macs : int
        Dense-equivalent multiply-accumulates, ``tokens * rows * cols``: the useful work.
    multipliers : int
        Multipliers in the chain (``length``; a packed one serves two tokens).
    results_per_beat : int
        Row results per beat per token: the mode's segments ``s``.
    acts_per_beat : int
        Activation positions a beat uses per token: the mode's span (the bus is ``window`` wide).
    """

    mode: tuple[int, ...]
    beats: int
    cycles: int
    dense_macs: int
    multipliers: int
    results_per_beat: int
    acts_per_beat: int

    @property
    def macs_per_multiplier_cycle(self) -> float:
        """Effective (dense-equivalent) MACs per multiplier per cycle, pipeline fill included."""
        return self.dense_macs / (self.multipliers * self.cycles)


def gemv_cost(cfg: SparseChainConfig, rows: int, cols: int, mode: int) -> GemvCost:
    """Beats, cycles and effective MAC rate of a GEMV in ``mode`` (code)."""
    beats = gemv_beats(cfg, rows, cols, mode)  # validates the mode code
    return GemvCost(
        cfg.modes[mode],
        beats,
        stream_cycles(cfg, beats),
        cfg.tokens * rows * cols,
        cfg.length,
        cfg.segments(mode),
        cfg.span(mode),
    )
