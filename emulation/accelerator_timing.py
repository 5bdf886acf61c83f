"""Cycle count of the accelerator top's ``RUN`` command: the contract the RTL's cycle counter meets exactly."""

from __future__ import annotations

from .isa import DeviceInfo

__all__ = ["run_cycles"]


def run_cycles(info: DeviceInfo, m: int) -> int:
    """Cycles the top's counter reports for one ``RUN`` of ``m`` streamed rows.

    The counter runs from the run's first scratchpad read to its last output write,
    both included. The command processor's schedule (cycle 0 = first read):

    - cycles ``0 .. rows-1`` read ``W[w:w+rows]``; word ``r`` enters the array's
      stationary port in cycle ``r + 1`` (the A words are read alongside and wait);
    - streamed word ``i`` is taken in cycle ``rows + 1 + i`` (the tile is loaded by then);
    - its output row leaves the array ``D = rows + cols + 1`` cycles later
      (``hwgen.emulation.units.systolic_plan.latency``), in cycle ``rows + 1 + i + D``, and
      is written to ``O[o+i]`` in that cycle (the old word, for ACCUMULATE, was read
      ahead).

    The last write is in cycle ``rows + m + D``, so the count is
    ``rows + m + D + 1 = 2 * rows + cols + m + 2``, for ACCUMULATE or not.

    Parameters
    ----------
    info : DeviceInfo
        The device (only ``rows`` and ``cols`` matter).
    m : int
        Streamed rows, ``>= 1``.
    """
    if m < 1:
        raise ValueError(f"RUN m={m} is not allowed; allowed: >= 1")
    depth = info.rows + info.cols + 1
    return info.rows + m + depth + 1
