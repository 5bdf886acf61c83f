"""Every named ml_dtypes format against ml_dtypes (the oracle), and the documented differences."""

import warnings

import ml_dtypes
import numpy as np
import pytest

from hwgen import emulation as emu
from hwgen.emulation import FloatFormat, FormatError

NAMED = [
    (emu.float8_e4m3fn, ml_dtypes.float8_e4m3fn),
    (emu.float8_e5m2, ml_dtypes.float8_e5m2),
    (emu.float8_e4m3, ml_dtypes.float8_e4m3),
    (emu.float8_e4m3fnuz, ml_dtypes.float8_e4m3fnuz),
    (emu.float8_e5m2fnuz, ml_dtypes.float8_e5m2fnuz),
    (emu.float8_e4m3b11fnuz, ml_dtypes.float8_e4m3b11fnuz),
    (emu.float8_e3m4, ml_dtypes.float8_e3m4),
    (emu.float6_e2m3fn, ml_dtypes.float6_e2m3fn),
    (emu.float6_e3m2fn, ml_dtypes.float6_e3m2fn),
    (emu.float4_e2m1fn, ml_dtypes.float4_e2m1fn),
    (emu.bfloat16, ml_dtypes.bfloat16),
    (emu.float16, np.float16),
]
IDS = [f.name for f, _ in NAMED]
# ml_dtypes rounds E8M0 ties up (half away from zero on a positive value).
E8M0_ML = FloatFormat("e8m0_ml", 8, 0, 127, "fnu", rounding="nearest_away")


def oracle(x: np.ndarray, dtype) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = x.astype(dtype)
    return c.view(np.uint16 if np.dtype(dtype).itemsize == 2 else np.uint8)


def random_f32(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 1 << 32, n // 2, dtype=np.uint32).view(np.float32)
    with np.errstate(over="ignore"):
        mags = np.exp2(rng.uniform(-150, 130, n - n // 2)).astype(np.float32)
    return np.concatenate([bits, mags * rng.choice(np.float32([-1, 1]), mags.size)])


def points(fmt) -> np.ndarray:
    """Every value, every midpoint, their float32 neighbours and specials (both signs)."""
    vals = fmt.decode(np.arange(fmt.max_code + 1), dtype=np.float64)
    ext = np.append(vals, 2 * vals[-1] - vals[-2])
    mids = (ext[:-1] + ext[1:]) / 2
    with np.errstate(over="ignore"):
        p = np.concatenate([vals, mids, [ext[-1], 1e30, np.inf]]).astype(np.float32)
    p = np.concatenate([p, np.nextafter(p, np.float32(np.inf)), np.nextafter(p, np.float32(0))])
    return np.concatenate([p, -p])


@pytest.mark.parametrize(("fmt", "ref"), NAMED, ids=IDS)
def test_decode_every_code(fmt, ref):
    codes = np.arange(1 << fmt.width)
    want = codes.astype(np.uint16 if fmt.width > 8 else np.uint8).view(ref).astype(np.float32)
    got = fmt.decode(codes)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


@pytest.mark.parametrize(("fmt", "ref"), NAMED, ids=IDS)
def test_encode_every_midpoint_and_boundary(fmt, ref):
    x = points(fmt)
    np.testing.assert_array_equal(fmt.encode(x), oracle(x, ref))


@pytest.mark.parametrize(("fmt", "ref"), NAMED, ids=IDS)
def test_encode_random_float32(fmt, ref):
    n = 10**7 if fmt in (emu.float8_e4m3fn, emu.float8_e5m2) else 10**6
    x = random_f32(n, seed=fmt.width * 1000 + fmt.exp_bits)
    nan = np.isnan(x)
    if fmt.nan_code is None:
        x = x[~nan]
    got, want = fmt.encode(x), oracle(x, ref)
    if ref is np.float16:  # NumPy keeps NaN payloads; compare NaN-ness there
        keep = ~np.isnan(x)
        assert np.isnan(fmt.decode(got[~keep])).all()
        got, want = got[keep], want[keep]
    np.testing.assert_array_equal(got, want)


def test_float32_format_is_identity_on_float32():
    x = random_f32(10**5, seed=3)
    x = x[~np.isnan(x)]
    np.testing.assert_array_equal(emu.float32.quantise(x).view(np.uint32), x.view(np.uint32))
    np.testing.assert_array_equal(emu.float32.encode(x), x.view(np.uint32))


def ml_e8m0_bug(x: np.ndarray) -> np.ndarray:
    """Inputs where ml_dtypes 0.6 rounds E8M0 wrongly: (2**-127, 2**-126) all go to 2**-126."""
    return (x > 2.0**-127) & (x < 2.0**-126)


def test_e8m0_matches_ml_dtypes_with_ties_away():
    x = np.concatenate([points(E8M0_ML), random_f32(10**6, 5), np.float32([0, -0.0, np.nan, -1])])
    x = x[~ml_e8m0_bug(x)]
    np.testing.assert_array_equal(E8M0_ML.encode(x), oracle(x, ml_dtypes.float8_e8m0fnu))
    codes = np.arange(256, dtype=np.uint8)
    want = codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    np.testing.assert_array_equal(emu.float8_e8m0fnu.decode(codes).view(np.uint32), want.view(np.uint32))


def test_e8m0_ties_to_even_differ_from_ml_dtypes_only_at_ties():
    # Documented difference: ml_dtypes rounds E8M0 ties up (3 -> 4); hwgen's default ties
    # to the even code (3 -> 2, 6 -> 8), as other libraries do.
    e8 = emu.float8_e8m0fnu
    assert e8.quantise(np.float32(3.0)) == 2.0 and e8.quantise(np.float32(6.0)) == 8.0
    assert oracle(np.float32([3.0]), ml_dtypes.float8_e8m0fnu)[0] == 129
    x = random_f32(10**6, 6)
    x = x[~ml_e8m0_bug(x)]
    diff = e8.encode(x) != oracle(x, ml_dtypes.float8_e8m0fnu)
    m, _ = np.frexp(x[diff])
    assert (m == 0.75).all()  # every difference is a tie 1.5 * 2**k


def test_e8m0_subnormal_inputs_round_correctly_unlike_ml_dtypes():
    # Documented difference: ml_dtypes 0.6 sends every float32 in (2**-127, 2**-126) to
    # 2**-126; 1.1 * 2**-127 is nearer 2**-127.
    x = np.float32(2.0**-127) * np.float32([1.1, 1.45, 1.5, 1.6])
    assert (oracle(x, ml_dtypes.float8_e8m0fnu) == 1).all()
    np.testing.assert_array_equal(E8M0_ML.encode(x), [0, 0, 1, 1])
    np.testing.assert_array_equal(emu.float8_e8m0fnu.encode(x), [0, 0, 0, 1])


def test_e8m0_properties_and_policies():
    e8 = emu.float8_e8m0fnu
    assert (e8.width, e8.signed, e8.subnormals, e8.nan_code, e8.max_code) == (8, False, False, 0xFF, 0xFE)
    assert e8.max_finite == 2.0**127 and e8.min_normal == 2.0**-127
    np.testing.assert_array_equal(e8.encode([0.0, -2.0, np.inf, 2.0**-140, 1.0]), [255, 255, 255, 0, 127])
    sat = FloatFormat("e8m0_sat", 8, 0, 127, "fnu", overflow="saturate")
    np.testing.assert_array_equal(sat.encode([np.inf, 1e300, 0.0]), [254, 254, 255])


def test_nan_into_fp4_raises_where_ml_dtypes_gives_garbage():
    # Documented difference: ml_dtypes turns NaN into -0 (code 8) in float4_e2m1fn.
    assert oracle(np.float32([np.nan]), ml_dtypes.float4_e2m1fn)[0] == 8
    for fmt in (emu.float4_e2m1fn, emu.float6_e2m3fn, emu.float6_e3m2fn):
        with pytest.raises(FormatError, match="NaN cannot be encoded"):
            fmt.encode(np.float32([1.0, np.nan]))


def test_numpy_reduction_pitfall_needs_a_modelled_accumulator():
    x = np.array([256.0] + [1.0] * 20, np.float32)
    low = x.astype(ml_dtypes.float8_e4m3fn)
    assert float(np.sum(low)) == 256.0  # NumPy accumulates in the 8-bit type
    assert emu.accumulate(emu.float8_e4m3fn.quantise(x), emu.float32) == 276.0
