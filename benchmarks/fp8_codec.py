"""float8_e4m3fn encode/decode throughput against ml_dtypes casts."""

import ml_dtypes
import numpy as np

from hwgen.emulation import float8_e4m3fn

from .registry import Case, register


def _inputs(size: int) -> np.ndarray:
    # Values spread over the whole e4m3fn range, including subnormals and overflow.
    rng = np.random.default_rng(0)
    return (rng.standard_normal(size) * 64).astype(np.float32)


@register("float32->e4m3fn codes", baseline="ml_dtypes astype")
def _encode(size: int) -> Case:
    x = _inputs(size)
    return Case(
        hwgen=lambda: float8_e4m3fn.encode(x),
        baseline=lambda: x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8),
    )


@register("e4m3fn codes->float32", baseline="ml_dtypes astype")
def _decode(size: int) -> Case:
    codes = _inputs(size).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    return Case(
        hwgen=lambda: float8_e4m3fn.decode(codes),
        baseline=lambda: codes.view(ml_dtypes.float8_e4m3fn).astype(np.float32),
    )
