"""FloatFormat encode/decode against ml_dtypes (the oracle) and an exact Fraction reference."""

import functools
import warnings
from bisect import bisect_left
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hwgen.emulation import FloatFormat, float8_e4m3fn, float8_e5m2

FP8 = [(float8_e4m3fn, ml_dtypes.float8_e4m3fn), (float8_e5m2, ml_dtypes.float8_e5m2)]
FP8_IDS = [f.name for f, _ in FP8]

# Other ml_dtypes formats expressed as FloatFormat: checks the kernels are generic.
GENERIC = [
    (FloatFormat("float8_e4m3fnuz", 4, 3, 8, "fnuz"), ml_dtypes.float8_e4m3fnuz),
    (FloatFormat("float8_e5m2fnuz", 5, 2, 16, "fnuz"), ml_dtypes.float8_e5m2fnuz),
    (FloatFormat("float8_e4m3", 4, 3, 7, "ieee"), ml_dtypes.float8_e4m3),
    (FloatFormat("float8_e3m4", 3, 4, 3, "ieee"), ml_dtypes.float8_e3m4),
    (FloatFormat("float6_e2m3fn", 2, 3, 1, "none"), ml_dtypes.float6_e2m3fn),
    (FloatFormat("float6_e3m2fn", 3, 2, 3, "none"), ml_dtypes.float6_e3m2fn),
    (FloatFormat("float4_e2m1fn", 2, 1, 1, "none"), ml_dtypes.float4_e2m1fn),
    (FloatFormat("bfloat16", 8, 7, 127, "ieee"), ml_dtypes.bfloat16),
    (FloatFormat("float16", 5, 10, 15, "ieee"), np.float16),
]
GENERIC_IDS = [f.name for f, _ in GENERIC]


def _oracle_codes(x: np.ndarray, dtype) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        codes = x.astype(dtype)
    width = np.dtype(dtype).itemsize * 8
    return codes.view(np.uint16 if width == 16 else np.uint8)


def _random_f32(n: int, fmt: FloatFormat, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 1 << 32, n // 2, dtype=np.uint32).view(np.float32)
    # Log-uniform magnitudes from below min_subnormal to beyond max_finite.
    lo, hi = np.log2(fmt.min_subnormal) - 3, np.log2(fmt.max_finite) + 2
    mags = np.exp2(rng.uniform(lo, hi, n - n // 2)) * rng.choice([-1, 1], n - n // 2)
    # Magnitudes beyond float32 range become Inf, which is worth testing too.
    with np.errstate(over="ignore"):
        return np.concatenate([bits, mags.astype(np.float32)])


def _corner_cases(fmt: FloatFormat, dtype=np.float32) -> np.ndarray:
    """Every value, every midpoint between neighbours, their float neighbours, specials."""
    vals = fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)
    step = vals[-1] - vals[-2]
    ext = np.append(vals, vals[-1] + step)  # the virtual code beyond max_finite
    mids = (ext[:-1] + ext[1:]) / 2
    with np.errstate(over="ignore"):
        pts = np.concatenate([vals, mids, [vals[-1] + 2 * step, 1e30]]).astype(dtype)
    finfo = np.finfo(dtype)
    pts = np.concatenate([pts, np.nextafter(pts, dtype(np.inf)), np.nextafter(pts, dtype(-np.inf))])
    extras = np.array([finfo.smallest_subnormal, finfo.tiny, finfo.max, np.inf], dtype)
    pts = np.concatenate([pts, extras, [np.nan]]).astype(dtype)
    return np.concatenate([pts, -pts])


@pytest.mark.parametrize(("fmt", "ref"), FP8 + GENERIC[:-2], ids=FP8_IDS + GENERIC_IDS[:-2])
def test_decode_all_codes_matches_ml_dtypes(fmt, ref):
    codes = np.arange(1 << fmt.width, dtype=np.uint8)
    got = fmt.decode(codes)
    want = codes.view(ref).astype(np.float32) if fmt.width == 8 else codes.astype(ref).astype(np.float32)
    if fmt.width < 8:  # ml_dtypes packs sub-byte formats one per byte
        want = np.array(codes, np.uint8).view(ref).astype(np.float32)
    assert got.dtype == np.float32
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got.view(np.uint32)[~nan], want.view(np.uint32)[~nan])


@pytest.mark.parametrize(("fmt", "ref"), FP8, ids=FP8_IDS)
def test_decode_nan_bits_match_ml_dtypes(fmt, ref):
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(
        fmt.decode(codes).view(np.uint32),
        codes.view(ref).astype(np.float32).view(np.uint32),
    )


@pytest.mark.parametrize("fmt", [f for f, _ in FP8 + GENERIC], ids=FP8_IDS + GENERIC_IDS)
def test_encode_decode_roundtrip_every_code(fmt):
    codes = np.arange(1 << fmt.width, dtype=np.int64)
    vals = fmt.decode(codes)
    keep = ~np.isnan(vals)
    if fmt.specials == "fnuz":
        keep &= codes != 0  # the "-0" pattern is the NaN code
    np.testing.assert_array_equal(fmt.encode(vals[keep]), codes[keep])
    np.testing.assert_array_equal(fmt.encode(vals[keep].astype(np.float64)), codes[keep])


@pytest.mark.parametrize(("fmt", "ref"), FP8, ids=FP8_IDS)
def test_encode_random_float32_bit_exact(fmt, ref):
    x = _random_f32(1_000_000, fmt, seed=1234)
    np.testing.assert_array_equal(fmt.encode(x), _oracle_codes(x, ref))


@pytest.mark.parametrize(("fmt", "ref"), FP8 + GENERIC, ids=FP8_IDS + GENERIC_IDS)
def test_encode_corner_cases_bit_exact(fmt, ref):
    x = _corner_cases(fmt)
    if fmt.nan_code is None:
        x = x[~np.isnan(x)]
    np.testing.assert_array_equal(fmt.encode(x), _oracle_codes(x, ref))


@pytest.mark.parametrize(("fmt", "ref"), GENERIC, ids=GENERIC_IDS)
def test_encode_random_float32_generic_formats(fmt, ref):
    x = _random_f32(100_000, fmt, seed=7)
    nan = np.isnan(x)
    if fmt.nan_code is None:
        x, nan = x[~nan], nan[~nan]
    got, want = fmt.encode(x), _oracle_codes(x, ref)
    if ref is np.float16:
        # NumPy keeps NaN payloads where ml_dtypes (and hwgen) emit the quiet NaN: compare NaN-ness only.
        assert np.isnan(fmt.decode(got[nan])).all()
        got, want = got[~nan], want[~nan]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("fmt", "x", "code"),
    [
        (float8_e4m3fn, 448.0, 0x7E),
        # 464 ties between 448 and the NaN slot: the even code wins.
        (float8_e4m3fn, 464.0, 0x7E),
        (float8_e4m3fn, np.nextafter(np.float32(464), np.float32(500)), 0x7F),
        (float8_e4m3fn, -np.inf, 0xFF),
        (float8_e4m3fn, -0.0, 0x80),
        (float8_e4m3fn, 2.0**-10, 0x00),  # half min subnormal ties to zero
        (float8_e4m3fn, 3 * 2.0**-10, 0x02),
        (float8_e5m2, 57344.0, 0x7B),
        (float8_e5m2, np.nextafter(np.float32(61440), np.float32(0)), 0x7B),
        (float8_e5m2, 61440.0, 0x7C),
        (float8_e5m2, np.nan, 0x7E),
        (float8_e5m2, -np.nan, 0xFE),
    ],
)
def test_named_corner_codes(fmt, x, code):
    assert fmt.encode(np.float32(x)) == code


# --- float64 inputs: rounded once, against an exact rational reference ---------------


def _fraction_encode(fmt: FloatFormat, x: float) -> int:
    """Correctly rounded (RNE) code of x, computed exactly with Fractions."""
    vals = _fraction_values(fmt)
    sign = fmt.sign_mask if np.signbit(x) else 0
    mag = abs(Fraction(x))
    i = bisect_left(vals, mag)  # vals[i - 1] < mag <= vals[i]
    if i == len(vals) or i == 0 or vals[i] == mag:
        code = i
    else:
        d = (mag - vals[i - 1]) - (vals[i] - mag)
        code = i - 1 if d < 0 or (d == 0 and (i - 1) % 2 == 0) else i
    if code > fmt.max_code:
        code = fmt.nan_code if fmt.resolved_overflow == "nan" else fmt.inf_code
    return code | sign


@functools.cache
def _fraction_values(fmt: FloatFormat) -> list[Fraction]:
    vals = [Fraction(float(v)) for v in fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)]
    # Virtual code max_code + 1, where overflow starts.
    vals.append(2 * vals[-1] - vals[-2])
    return vals


def _random_doubles(fmt: FloatFormat, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.uniform(np.log2(fmt.min_subnormal) - 2, np.log2(fmt.max_finite) + 1, n)
    x = np.exp2(e) * rng.choice([-1.0, 1.0], n)
    # Doubles within a few float32 ulps of a tie: where rounding via float32 goes wrong.
    vals = fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)
    mids = ((vals[:-1] + vals[1:]) / 2)[rng.integers(0, len(vals) - 1, n)]
    near = mids * (1 + rng.integers(-4, 5, n) * 2.0**-30) * rng.choice([-1.0, 1.0], n)
    return np.concatenate([x, near])


@pytest.mark.parametrize(("fmt", "ref"), FP8, ids=FP8_IDS)
def test_float64_single_rounding_matches_fraction_reference(fmt, ref):
    x = _random_doubles(fmt, 1500, seed=99)
    want = np.array([_fraction_encode(fmt, v) for v in x], dtype=np.uint8)
    got = fmt.encode(x)
    np.testing.assert_array_equal(got, want)
    # The sample must exercise the double-rounding cases where ml_dtypes differs.
    assert (got != _oracle_codes(x, ref)).sum() > 100


@pytest.mark.parametrize(
    ("x", "ours", "ml"),
    [(-431.99999999999994, -416.0, -448.0), (34.00000178, 36.0, 32.0)],
)
def test_float64_avoids_ml_dtypes_double_rounding(x, ours, ml):
    # Documented difference: ml_dtypes rounds float64 via float32 (twice).
    assert float8_e4m3fn.quantise(np.float64(x)) == ours
    assert float(np.array([x]).astype(ml_dtypes.float8_e4m3fn)[0]) == ml
    assert float8_e4m3fn.encode(np.float64(x)) == _fraction_encode(float8_e4m3fn, x)


# --- policies, properties, shapes ------------------------------------------------------


def test_saturate_policy_clamps_overflow_and_inf_keeps_nan():
    fmt = FloatFormat("e4m3_sat", 4, 3, 7, "fn", overflow="saturate")
    got = fmt.encode(np.array([1e9, np.inf, -np.inf, -500.0, np.nan, 448.0], np.float32))
    np.testing.assert_array_equal(got, [0x7E, 0x7E, 0xFE, 0xFE, 0x7F, 0x7E])


def test_nan_policy_on_ieee_format_keeps_inf_inputs():
    fmt = FloatFormat("e5m2_nan", 5, 2, 15, "ieee", overflow="nan")
    got = fmt.encode(np.array([61440.0, 57344.0, np.inf, -np.inf, -1e9], np.float32))
    np.testing.assert_array_equal(got, [0x7E, 0x7B, 0x7C, 0xFC, 0xFE])


def test_flush_to_zero_without_subnormals():
    fmt = FloatFormat("e4m3_ftz", 4, 3, 7, "fn", subnormals=False)
    np.testing.assert_array_equal(fmt.encode([2.0**-7, -(2.0**-6), 2.0**-6 * 0.99]), [0x00, 0x88, 0x00])
    assert fmt.decode(np.uint8(0x01)) == 0.0
    assert fmt.min_subnormal == fmt.min_normal == 2.0**-6


@pytest.mark.parametrize(
    ("fmt", "props"),
    [
        (
            float8_e4m3fn,
            {
                "width": 8,
                "max_finite": 448.0,
                "min_normal": 2.0**-6,
                "min_subnormal": 2.0**-9,
                "nan_code": 0x7F,
                "inf_code": None,
            },
        ),
        (
            float8_e5m2,
            {
                "width": 8,
                "max_finite": 57344.0,
                "min_normal": 2.0**-14,
                "min_subnormal": 2.0**-16,
                "nan_code": 0x7E,
                "inf_code": 0x7C,
            },
        ),
    ],
)
def test_properties(fmt, props):
    for key, value in props.items():
        assert getattr(fmt, key) == value, key
    assert fmt.code_dtype == np.uint8


def test_shapes_scalars_lists_and_decode_dtype():
    assert float8_e4m3fn.encode(1.0).shape == ()
    assert float8_e4m3fn.encode([[1.0, 2.0]]).shape == (1, 2)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # non-contiguous
    np.testing.assert_array_equal(float8_e4m3fn.quantise(x), x)
    assert float8_e4m3fn.quantise(x).dtype == np.float32
    assert float8_e4m3fn.decode([0x38], dtype=np.float64).dtype == np.float64
    assert float8_e4m3fn.encode(np.array([], np.float32)).shape == (0,)
