"""Pack lane codes into the flat integers of Verilog stream payloads, and back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pack_lanes", "unpack_lanes"]


def pack_lanes(codes: Sequence[int], width: int) -> int:
    """Pack unsigned lane codes, lane 0 in the least significant bits (Amaranth ArrayLayout order)."""
    value = 0
    for lane in reversed(range(len(codes))):
        value = (value << width) | int(codes[lane])
    return value


def unpack_lanes(value: int, width: int, lanes: int) -> np.ndarray:
    """Split a flat payload integer into ``lanes`` unsigned codes of ``width`` bits."""
    mask = (1 << width) - 1
    return np.array([(value >> (lane * width)) & mask for lane in range(lanes)], dtype=np.uint64)
