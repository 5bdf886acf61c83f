"""The FP MAC / L-Mul PE golden model against the emulator's own dot product and IEEE rules."""

import numpy as np
import pytest

from hwgen.emulation import LMul, bfloat16, dot, float8_e4m3fn, float8_e5m2, float32
from hwgen.emulation.errors import FormatError
from hwgen.emulation.fp_mac_model import exact_products, fp_add, fp_dot

FP8 = [float8_e4m3fn, float8_e5m2]


def _finite_codes(fmt, rng, shape):
    codes = rng.integers(0, 1 << fmt.width, shape)
    bad = ~np.isfinite(fmt.decode(codes))
    codes[bad] = 0
    return codes


@pytest.mark.parametrize("fmt", FP8, ids=lambda f: f.name)
@pytest.mark.parametrize("lmul", [False, True])
def test_fp_dot_equals_emulation_dot_for_fp8(fmt, lmul):
    rng = np.random.default_rng(5)
    mul = LMul(fmt) if lmul else "exact"
    a, b = _finite_codes(fmt, rng, (40, 33)), _finite_codes(fmt, rng, (40, 33))
    got = fp_dot(a, b, fmt, float32, mul)
    for i in range(a.shape[0]):
        want = dot(fmt.decode(a[i], np.float64), fmt.decode(b[i], np.float64), mul=mul, acc=float32)
        # L-Mul overflow in e4m3fn is NaN (its format policy): compare NaN as the canonical code.
        assert got[i] == (float32.nan_code if np.isnan(want) else float32.encode(np.array([want], np.float32))[0])


@pytest.mark.parametrize("fmt", FP8, ids=lambda f: f.name)
def test_exhaustive_length1_is_the_product_rounded(fmt):
    codes = np.arange(256)
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    p = exact_products(a, b, fmt).astype(np.float32)  # exact: FP8 products fit float32
    p = np.where(p == 0, np.float32(0), p)  # +0 + (-0) = +0: the accumulator starts at +0
    want = float32.encode(np.where(np.isnan(p), 0, p))
    want[np.isnan(p)] = float32.nan_code
    np.testing.assert_array_equal(fp_dot(a[:, None], b[:, None], fmt, float32), want)


def test_nan_is_canonical_and_positive():
    nan = float8_e4m3fn.nan_code | 0x80
    got = fp_dot(np.array([[nan, 0x38]]), np.array([[0x38, 0x38]]), float8_e4m3fn, float32)
    assert got.tolist() == [float32.nan_code]
    inf = float32.inf_code
    assert fp_add([inf], [inf | 0x80000000], float32).tolist() == [float32.nan_code]


def test_signed_zero_rules():
    neg0 = 0x80000000
    assert fp_add([neg0, neg0, 0x3F800000], [neg0, 0, 0xBF800000], float32).tolist() == [neg0, 0, 0]
    # A dot product of -0 products is +0: the accumulator starts at +0.
    assert fp_dot(np.array([[0x80]]), np.array([[0x38]]), float8_e4m3fn, float32).tolist() == [0]


def test_bf16_product_rounded_once_with_the_sum():
    # 2**-100 * 2**-40 is below float32's subnormals: fused, acc + p rounds once.
    tiny = bfloat16.encode([2.0**-100, 2.0**-40])
    one = bfloat16.encode([1.0])[0]
    a = np.array([[tiny[0], one]])
    b = np.array([[tiny[1], one]])
    assert fp_dot(a, b, bfloat16, float32).tolist() == [0x3F800000]
    half_min = bfloat16.encode([2.0**-75])[0]  # product 2**-150: exactly half the smallest subnormal
    assert fp_dot(np.array([[half_min]]), np.array([[half_min]]), bfloat16, float32).tolist() == [0]


def test_rejects_bad_arguments():
    with pytest.raises(FormatError, match="acc_fmt"):
        fp_dot([[0]], [[0]], float8_e4m3fn, float8_e4m3fn)
    with pytest.raises(FormatError, match="mul"):
        fp_dot([[0]], [[0]], float8_e4m3fn, float32, mul="approx")
    with pytest.raises(FormatError, match="same shape"):
        fp_dot([[0, 1]], [[0]], float8_e4m3fn, float32)
