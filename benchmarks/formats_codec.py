"""Encode/decode throughput of e5m2, fp6 and fp4 against ml_dtypes casts."""

import ml_dtypes
import numpy as np

from hwgen.emulation import float4_e2m1fn, float6_e2m3fn, float6_e3m2fn, float8_e5m2

from .registry import Case, register

_FORMATS = [
    ("e5m2", float8_e5m2, ml_dtypes.float8_e5m2, 4096.0),
    ("fp6 e2m3", float6_e2m3fn, ml_dtypes.float6_e2m3fn, 2.0),
    ("fp6 e3m2", float6_e3m2fn, ml_dtypes.float6_e3m2fn, 8.0),
    ("fp4 e2m1", float4_e2m1fn, ml_dtypes.float4_e2m1fn, 2.0),
]


def _inputs(size: int, spread: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal(size) * spread).astype(np.float32)


def _register(label, fmt, ref, spread):
    @register(f"float32->{label} codes", baseline="ml_dtypes astype")
    def _encode(size: int) -> Case:
        x = _inputs(size, spread)
        return Case(hwgen=lambda: fmt.encode(x), baseline=lambda: x.astype(ref).view(np.uint8))

    @register(f"{label} codes->float32", baseline="ml_dtypes astype")
    def _decode(size: int) -> Case:
        codes = _inputs(size, spread).astype(ref).view(np.uint8)
        return Case(hwgen=lambda: fmt.decode(codes), baseline=lambda: codes.view(ref).astype(np.float32))


for _entry in _FORMATS:
    _register(*_entry)
