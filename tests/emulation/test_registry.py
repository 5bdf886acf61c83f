"""Named formats, get_format, FloatFormat validation and bad inputs."""

import numpy as np
import pytest

import hwgen.emulation as emu
from hwgen.emulation import (
    FORMATS,
    FloatFormat,
    FormatError,
    float8_e4m3fn,
    get_format,
    int8,
)


def test_registry_names():
    # The issue-3 set: every ml_dtypes name, plus the integer formats.
    assert set(FORMATS) >= {
        "float8_e4m3fn",
        "float8_e5m2",
        "float8_e4m3",
        "float8_e4m3fnuz",
        "float8_e5m2fnuz",
        "float8_e4m3b11fnuz",
        "float8_e3m4",
        "float6_e2m3fn",
        "float6_e3m2fn",
        "float4_e2m1fn",
        "float8_e8m0fnu",
        "bfloat16",
        "float16",
        "float32",
        "int8",
        "int32",
        "ternary",
    }
    for name, fmt in FORMATS.items():
        assert get_format(name) is fmt
        assert fmt.name == name
    assert issubclass(FormatError, ValueError)
    assert set(emu.__all__) >= {
        "IntFormat",
        "FloatFormat",
        "FormatError",
        "get_format",
        "FORMATS",
    }


@pytest.mark.parametrize("name", ["int7x", "", None, 8])
def test_unknown_format(name):
    with pytest.raises(
        FormatError,
        match=r"unknown format .*; allowed: bfloat16, .*float8_e4m3fn, .*int8, .*uint8$",
    ):
        get_format(name)


BASE = {"name": "f", "exp_bits": 4, "man_bits": 3, "bias": 7, "specials": "fn"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"exp_bits": 0}, "exp_bits"),
        ({"exp_bits": 9}, "exp_bits"),
        ({"exp_bits": 4.0}, "exp_bits"),
        ({"man_bits": -1}, "man_bits"),
        ({"man_bits": 24}, "man_bits"),
        ({"bias": "7"}, "bias"),
        ({"bias": 200}, "bias"),
        ({"exp_bits": 8, "bias": -5}, "bias"),
        ({"specials": "IEEE"}, "specials"),
        ({"overflow": "clamp"}, "overflow"),
        ({"overflow": "inf"}, "overflow"),
        ({"specials": "none", "overflow": "nan"}, "overflow"),
        ({"rounding": "stochastic_even"}, "rounding"),
        ({"specials": "fnu", "man_bits": 3}, "man_bits"),
        ({"subnormals": 1}, "subnormals"),
        ({"name": ""}, "name"),
        ({"specials": "ieee", "man_bits": 0}, "specials"),
    ],
)
def test_bad_float_format_names_the_field(changes, field):
    with pytest.raises(FormatError, match=field):
        FloatFormat(**{**BASE, **changes})


def test_error_message_names_value_and_allowed():
    with pytest.raises(FormatError, match=r"specials must be one of ieee, fn, fnuz, none, fnu; got 'IEEE'"):
        FloatFormat(**{**BASE, "specials": "IEEE"})


@pytest.mark.parametrize("fmt", [float8_e4m3fn, int8])
@pytest.mark.parametrize("bad", [["a", "b"], np.array(["1.0"]), [1 + 2j], [[1.0], [1.0, 2.0]], {"a": 1}])
def test_non_numeric_values_raise(fmt, bad):
    with pytest.raises(FormatError, match="values"):
        fmt.encode(bad)


def test_bad_codes_and_dtype_raise():
    with pytest.raises(FormatError, match="code 256 out of range"):
        float8_e4m3fn.decode([0, 256])
    with pytest.raises(FormatError, match="integer dtype"):
        float8_e4m3fn.decode(np.float32([1.0]))
    with pytest.raises(FormatError, match="dtype must be float32 or float64"):
        float8_e4m3fn.decode([0], dtype=np.float16)
    with pytest.raises(FormatError, match="NaN cannot be encoded"):
        FloatFormat("f4", 2, 1, 1, "none").encode([np.nan])
    with pytest.raises(FormatError, match="not supported"):
        float8_e4m3fn.encode(np.array([1.0], np.longdouble))


def test_formats_are_frozen_and_hashable():
    with pytest.raises(AttributeError):
        float8_e4m3fn.bias = 8
    assert len({float8_e4m3fn, FloatFormat("float8_e4m3fn", 4, 3, 7, "fn")}) == 1
