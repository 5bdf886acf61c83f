"""Hostile inputs at the public API of hwgen.emulation get a kit error naming the value, not a NumPy traceback."""

import numpy as np
import pytest

from hwgen.emulation import (
    BFPFormat,
    BipolarFormat,
    FormatError,
    LMul,
    MXFormat,
    PositFormat,
    Quire,
    accumulate,
    bfloat16,
    bipolar1,
    float8_e4m3fn,
    float32,
    isa,
    mxfp8_e4m3,
    mxint8,
    posit8,
    posit16,
)
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import SparseChainConfig

BFP8 = BFPFormat("bfp8", 8, 7)
BIPOLAR3 = BipolarFormat("bipolar3", 3)
NONE_VALUES = [None, np.array([None, 1.0], dtype=object), [1.0, None]]


@pytest.mark.parametrize("values", NONE_VALUES, ids=["None", "object_array", "list"])
@pytest.mark.parametrize("fmt", [float8_e4m3fn, float32, posit8, mxfp8_e4m3, BFP8], ids=lambda f: f.name)
def test_none_is_not_a_value(fmt, values):
    with pytest.raises(FormatError, match="None"):
        fmt.encode(values)


@pytest.mark.parametrize("fmt", [bipolar1, BIPOLAR3], ids=lambda f: f.name)
@pytest.mark.parametrize("values", [[10**400, 0.5], [-(10**400), 0.0]])
def test_bipolar_mixed_huge_ints_and_floats(fmt, values):
    """An object array of huge ints and floats: the ints saturate, the floats round as on their own."""
    got = fmt.quantise(values)
    assert got[0] == (fmt.max_value if values[0] > 0 else fmt.min_value)
    assert got[1] == fmt.quantise([values[1]])[0]


@pytest.mark.parametrize("name", [None, 5, ""])
@pytest.mark.parametrize(
    "make",
    [
        lambda n: MXFormat(n, float8_e4m3fn),
        lambda n: BFPFormat(n, 8, 7),
        lambda n: PositFormat(n, 8, 1),
    ],
    ids=["MXFormat", "BFPFormat", "PositFormat"],
)
def test_format_name_must_be_a_str(make, name):
    with pytest.raises(FormatError, match="name"):
        make(name)


@pytest.mark.parametrize("axis", [True, 1.5, None, "0", 2**64, -(2**64), 10**400])
@pytest.mark.parametrize("fmt", [mxfp8_e4m3, mxint8, BFP8], ids=lambda f: f.name)
def test_block_axis(fmt, axis):
    x = np.ones((2, 8))
    with pytest.raises(FormatError, match="axis"):
        fmt.encode(x, axis=axis)
    with pytest.raises(FormatError, match="axis"):
        fmt.decode(*fmt.encode(x), axis=axis)


@pytest.mark.parametrize("fmt", [mxfp8_e4m3, BFP8], ids=lambda f: f.name)
def test_block_decode_scales_of_other_rank(fmt):
    scales, elements = fmt.encode(np.ones((2, 8)))
    with pytest.raises(FormatError, match="dimensions"):
        fmt.decode(scales[0, 0], elements)


@pytest.mark.parametrize("dtype", ["x", 5, np.int8, np.float16, object])
@pytest.mark.parametrize(
    "decode",
    [
        lambda dt: mxfp8_e4m3.decode(*mxfp8_e4m3.encode(np.ones(8)), dtype=dt),
        lambda dt: mxfp8_e4m3.quantise(np.ones(8), dtype=dt),
        lambda dt: posit16.decode([1, 2], dtype=dt),
        lambda dt: LMul(float8_e4m3fn)([1], [2], dtype=dt),
        lambda dt: LMul(bfloat16)([1], [2], dtype=dt),
    ],
    ids=["mx_decode", "mx_quantise", "posit_decode", "lmul_lut", "lmul_bf16"],
)
def test_decode_dtype_is_float32_or_float64(decode, dtype):
    with pytest.raises(FormatError, match="dtype"):
        decode(dtype)


@pytest.mark.parametrize("shape", [-1, (-1,), 1.5, None, "ab", ((1,),), (True,), (2**64,), (10**12,)])
def test_quire_shape(shape):
    with pytest.raises(FormatError, match="shape"):
        Quire(posit8, shape)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "axis"),
    [((3, 4), (3, 4), -1), ((2, 4), (3, 4), -1), ((), (), -1), ((2, 4), (2, 4), 5), ((2, 4), (2, 4), 1.5)],
)
def test_quire_add_products_shapes(a_shape, b_shape, axis):
    q = Quire(posit8, (2,))
    with pytest.raises(FormatError):
        q.add_products(np.full(a_shape, 64, np.uint8), np.full(b_shape, 64, np.uint8), axis=axis)


@pytest.mark.parametrize(("products", "axis"), [(1.0, -1), (None, -1), (np.ones((2, 3)), 5), (np.ones((2, 3)), -3)])
def test_accumulate_axis(products, axis):
    with pytest.raises(FormatError):
        accumulate(products, float32, axis=axis)


@pytest.mark.parametrize("axis", [1.5, None, "0", 2**64])
def test_accumulate_axis_type(axis):
    with pytest.raises(FormatError, match="axis"):
        accumulate(np.ones((2, 3)), float32, axis=axis)


def test_lmul_codes_that_do_not_broadcast():
    for fmt in (float8_e4m3fn, bfloat16):
        with pytest.raises(FormatError, match="broadcast"):
            LMul(fmt)(np.ones((2, 3), np.uint8), np.ones(4, np.uint8))


# --- isa: every field must fit the wire format; bad values never reach struct.pack.

ISA_BAD_FIELDS = [-1, 2**16, 1.5, True, None, "0"]


@pytest.mark.parametrize("value", ISA_BAD_FIELDS)
@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("addr", lambda v: isa.read(isa.Space.W, v, 1)),
        ("count", lambda v: isa.read(isa.Space.W, 0, v)),
        ("addr", lambda v: isa.write(isa.Space.W, v, np.zeros((1, 4), np.uint8))),
        ("w_addr", lambda v: isa.run(v, 0, 0, 1)),
        ("o_addr", lambda v: isa.run(0, 0, v, 1)),
        ("m", lambda v: isa.run(0, 0, 0, v)),
    ],
)
def test_isa_u16_fields(field, call, value):
    with pytest.raises(ConfigError, match=field):
        call(value)


@pytest.mark.parametrize("space", [7, 3, -1, "W", None, 1.5, True])
def test_isa_space(space):
    with pytest.raises(ConfigError, match="space"):
        isa.read(space, 0, 1)


@pytest.mark.parametrize(
    "words", [np.full((1, 2), 300.7), [[1.5]], [["a"]], np.zeros(3, np.uint8), [[-1]], [[256]], [[True]]]
)
def test_isa_write_words(words):
    with pytest.raises(ConfigError, match="words"):
        isa.write(isa.Space.W, 0, words)


def test_isa_write_too_many_words():
    with pytest.raises(ConfigError, match="count"):
        isa.write(isa.Space.W, 0, np.zeros((1 << 16, 1), np.uint8))


@pytest.mark.parametrize("accumulate_flag", ["no", 1, None])
def test_isa_run_accumulate_flag(accumulate_flag):
    with pytest.raises(ConfigError, match="accumulate"):
        isa.run(0, 0, 0, 1, accumulate=accumulate_flag)


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("payload", lambda: isa.encode_command(0, "abc")),
        ("payload", lambda: isa.encode_command(0, 5)),
        ("payload", lambda: isa.encode_command(0, None)),
        ("payload", lambda: isa.encode_command(0, [1, 2, 300])),
        ("payload", lambda: isa.encode_command(0, np.zeros(3))),
        ("payload", lambda: isa.encode_command(0, bytes(1 << 16))),
        ("seq", lambda: isa.encode_command(-1, b"\x01")),
        ("seq", lambda: isa.encode_command(1.5, b"\x01")),
        ("seq", lambda: isa.encode_command(None, b"\x01")),
        ("seq", lambda: isa.encode_command("0", b"\x01")),
        ("status", lambda: isa.encode_response(0, 256)),
        ("payload", lambda: isa.encode_response(0, 0, "abc")),
    ],
)
def test_isa_frames(field, call):
    with pytest.raises(ConfigError, match=field):
        call()


@pytest.mark.parametrize("index", range(8))
@pytest.mark.parametrize("value", [-1, 1.5, None, 1 << 16])
def test_device_info_number_fields(index, value):
    args = [4, 4, 1, 4, 16, 16, 16, 64]
    args[index] = value
    with pytest.raises(ConfigError):
        isa.DeviceInfo(*args)


@pytest.mark.parametrize("index", range(4))
def test_device_info_byte_fields(index):
    args = [4, 4, 1, 4, 16, 16, 16, 64]
    args[index] = 256
    with pytest.raises(ConfigError):
        isa.DeviceInfo(*args)


@pytest.mark.parametrize("data", [None, 5, "rows", [1, 2]])
@pytest.mark.parametrize("cls", [PimConfig, SparseChainConfig])
def test_from_dict_needs_a_mapping(cls, data):
    with pytest.raises(ConfigError, match="config"):
        cls.from_dict(data)


@pytest.mark.parametrize("timing", [5, None, "tCL"])
def test_pim_from_dict_timing_needs_a_mapping(timing):
    data = PimConfig().to_dict()
    data["timing"] = timing
    with pytest.raises(ConfigError, match="timing"):
        PimConfig.from_dict(data)


def test_valid_inputs_unchanged():
    """The checks keep every valid form: NumPy ints, 0-count frames, unsigned dtypes, int shapes."""
    assert isa.read(np.int64(1), np.uint16(2), 0) == isa.read(isa.Space.A, 2, 0)
    assert isa.encode_command(256 + 3, bytearray(b"\x01")) == isa.encode_command(3, b"\x01")
    assert isa.write(isa.Space.W, 0, np.zeros((0, 4), np.uint8)) == isa.write(0, 0, np.zeros((0, 4), np.int64))
    assert Quire(posit8, 3).shape == (3,)
    assert mxfp8_e4m3.encode(np.ones((2, 8)), axis=np.int64(0))[0].shape == (1, 8)
    assert posit8.decode([64], dtype=np.float32).dtype == np.float32
    assert BIPOLAR3.quantise(np.array([2**70, 1], dtype=object)).tolist() == [7, 1]
