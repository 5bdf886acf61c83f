"""Cycle count of the accelerator top's ``RUN`` command: the contract the RTL's cycle counter meets exactly."""

from __future__ import annotations

from .isa import DeviceInfo

__all__ = ["run_cycles"]


def run_cycles(info: DeviceInfo, m: int) -> int:
    """Cycles the top's counter reports for one ``RUN`` of ``m`` streamed rows.

    From the first scratchpad read to the last output write: ``rows`` cycles load
    the stationary words, the ``m`` streamed rows follow one per cycle, and the last
    row leaves the array ``D = rows + cols + 1`` cycles after it entered; one cycle
    of scratchpad read latency precedes the stream and one write follows it.

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
    return info.rows + m + depth + 2
