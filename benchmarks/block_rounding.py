"""MX quantisation and stochastic rounding rates (the baseline is ml_dtypes' plain RNE cast)."""

from dataclasses import replace

import ml_dtypes
import numpy as np

from hwgen.emulation import float8_e4m3fn, mxfp4, mxfp8_e4m3

from .registry import Case, register


def _inputs(size: int) -> np.ndarray:
    size -= size % 32
    rng = np.random.default_rng(0)
    return (rng.standard_normal(size) * np.exp2(rng.integers(-10, 10, size // 32).repeat(32))).astype(np.float32)


def _mx(fmt, ref):
    def setup(size: int) -> Case:
        x = _inputs(size)
        return Case(
            hwgen=lambda: fmt.encode(x),
            baseline=lambda: x.astype(ref).view(np.uint8),
            compare=False,
            elements=x.size,
        )

    return setup


register("MX quantise mxfp8_e4m3 (block 32)", baseline="ml_dtypes cast, no scale")(
    _mx(mxfp8_e4m3, ml_dtypes.float8_e4m3fn)
)
register("MX quantise mxfp4 (block 32)", baseline="ml_dtypes cast, no scale")(_mx(mxfp4, ml_dtypes.float4_e2m1fn))

_SR = replace(float8_e4m3fn, rounding="stochastic")


@register("float32->e4m3fn stochastic", baseline="ml_dtypes RNE astype")
def _stochastic(size: int) -> Case:
    x = (np.random.default_rng(0).standard_normal(size) * 64).astype(np.float32)
    return Case(
        hwgen=lambda: _SR.encode(x, rng=1),
        baseline=lambda: x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8),
        compare=False,
    )
