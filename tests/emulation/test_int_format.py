"""IntFormat: roundtrips, wrap/saturate edges, float rounding, validation."""

import numpy as np
import pytest

from hwgen.emulation import FormatError, IntFormat, int8, int32


def test_int8_roundtrip_every_code():
    codes = np.arange(256)
    values = int8.decode(codes)
    np.testing.assert_array_equal(values, np.r_[0:128, -128:0])
    assert values.dtype == np.int64
    np.testing.assert_array_equal(int8.encode(values), codes)
    assert int8.encode(values).dtype == np.uint8


def test_int32_roundtrip_edges():
    v = np.array([-(2**31), -1, 0, 1, 2**31 - 1])
    codes = int32.encode(v)
    assert codes.dtype == np.uint32
    np.testing.assert_array_equal(codes, [0x80000000, 0xFFFFFFFF, 0, 1, 0x7FFFFFFF])
    np.testing.assert_array_equal(int32.decode(codes), v)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8, np.uint64])
def test_wrap_is_modulo_two_to_the_bits(dtype):
    v = np.array([0, 100, 127], dtype=dtype)
    np.testing.assert_array_equal(int8.fit(v), [0, 100, 127])
    big = np.array([128, 255, 256, 300], dtype=np.int64).astype(dtype) if np.iinfo(dtype).max > 255 else None
    if big is not None:
        np.testing.assert_array_equal(int8.fit(big), [-128, -1, 0, 44])


def test_wrap_and_saturate_at_the_edges():
    v = np.array([-129, -128, 127, 128, 2**40, -(2**63)])
    np.testing.assert_array_equal(int8.fit(v), [127, -128, 127, -128, 0, 0])
    sat = IntFormat("int8_sat", 8, overflow="saturate")
    np.testing.assert_array_equal(sat.fit(v), [-128, -128, 127, 127, 127, -128])
    np.testing.assert_array_equal(sat.encode(v), [0x80, 0x80, 0x7F, 0x7F, 0x7F, 0x80])
    np.testing.assert_array_equal(sat.fit(np.array([2**64 - 1], np.uint64)), [127])
    u4 = IntFormat("uint4", 4, signed=False, overflow="saturate")
    np.testing.assert_array_equal(u4.quantise([-3, 7, 16, 2.5, 1e30]), [0, 7, 15, 2, 15])
    np.testing.assert_array_equal(IntFormat("uint4w", 4, signed=False).fit([-1, 16, 17.0]), [15, 0, 1])


def test_float_ties_round_to_even_then_wrap():
    np.testing.assert_array_equal(int8.encode([2.5, -2.5, 3.5, 0.5, -0.5, 1.5]), [2, 0xFE, 4, 0, 0, 2])
    np.testing.assert_array_equal(int8.quantise(np.float32([127.5, 128.0, -128.5])), [-128, -128, -128])
    np.testing.assert_array_equal(
        IntFormat("s", 8, overflow="saturate").quantise([127.5, -128.5, 1e300]),
        [127, -128, 127],
    )
    # Huge floats wrap exactly: 2**70 + 2**31 == 2**31 (mod 2**64), which int32 reads as -2**31.
    assert int32.fit(2.0**70 + 2.0**31) == -(2**31)


def test_int64_and_64bit_formats():
    i64 = IntFormat("int64", 64)
    assert i64.code_dtype == np.uint64
    assert i64.fit(2.0**63) == -(2**63)
    np.testing.assert_array_equal(i64.decode(np.array([2**64 - 1], np.uint64)), [-1])
    s64 = IntFormat("int64s", 64, overflow="saturate")
    np.testing.assert_array_equal(s64.fit([2.0**63, -(2.0**64)]), [2**63 - 1, -(2**63)])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise(bad):
    with pytest.raises(FormatError, match="NaN or Inf"):
        int8.encode([1.0, bad])


@pytest.mark.parametrize("codes", [[256], [-1], np.array([300], np.uint16)])
def test_out_of_range_code_raises(codes):
    with pytest.raises(FormatError, match="out of range"):
        int8.decode(codes)


def test_float_codes_raise():
    with pytest.raises(FormatError, match="integer dtype"):
        int8.decode([1.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bits": 0}, "bits"),
        ({"bits": 65}, "bits"),
        ({"bits": 64, "signed": False}, "bits"),
        ({"bits": 8.0}, "bits"),
        ({"bits": True}, "bits"),
        ({"bits": 8, "overflow": "clamp"}, "overflow"),
        ({"bits": 8, "signed": 1}, "signed"),
        ({"bits": 8, "name": ""}, "name"),
    ],
)
def test_bad_construction_names_the_field(kwargs, field):
    kwargs.setdefault("name", "x")
    with pytest.raises(FormatError, match=f"^{field} "):
        IntFormat(**kwargs)


def test_properties():
    assert (int8.width, int8.min_value, int8.max_value, int8.code_dtype) == (
        8,
        -128,
        127,
        np.uint8,
    )
    u12 = IntFormat("uint12", 12, signed=False)
    assert (u12.min_value, u12.max_value, u12.code_dtype) == (0, 4095, np.uint16)
    with pytest.raises(AttributeError):
        int8.bits = 9
