"""Arithmetic models: FP8 matmul with a modelled float32 accumulator, and L-Mul."""

import ml_dtypes
import numpy as np

from hwgen.emulation import LMul, float8_e4m3fn, matmul

from .registry import Case, register


@register("FP8 matmul n^3, fp32 acc, sequential K", baseline="numpy.matmul float32")
def _matmul(size: int) -> Case:
    n = max(8, min(512, int(size**0.5)))
    rng = np.random.default_rng(0)
    a = float8_e4m3fn.quantise(rng.standard_normal((n, n)).astype(np.float32))
    b = float8_e4m3fn.quantise(rng.standard_normal((n, n)).astype(np.float32))
    return Case(hwgen=lambda: matmul(a, b), baseline=lambda: a @ b, compare=False, elements=n**3)


_LMUL = LMul(float8_e4m3fn)


@register("L-Mul e4m3fn pairs", baseline="numpy float32 multiply")
def _lmul(size: int) -> Case:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, size)) * 8).astype(np.float32)
    ca, cb = float8_e4m3fn.encode(x[0]), float8_e4m3fn.encode(x[1])
    va = ca.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    vb = cb.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    return Case(hwgen=lambda: _LMUL(ca, cb), baseline=lambda: va * vb, compare=False)
