"""Symmetric, ternary and bipolar integers; sub-byte packing and its documented bit order."""

import numpy as np
import pytest

from hwgen import emulation as emu
from hwgen.emulation import BipolarFormat, FormatError, IntFormat, pack, packed_size, unpack


def test_ternary():
    t = emu.ternary
    assert (t.min_value, t.max_value, t.width) == (-1, 1, 2)
    np.testing.assert_array_equal(t.encode([-5, -0.6, -0.4, 0.5, 0.51, 9]), [3, 3, 0, 0, 1, 1])
    np.testing.assert_array_equal(t.decode([0, 1, 3]), [0, 1, -1])
    with pytest.raises(FormatError, match="code 2 is unused"):
        t.decode([2])


def test_symmetric_int8_and_validation():
    s8 = IntFormat("s8", 8, symmetric=True, overflow="saturate")
    assert s8.min_value == -127
    np.testing.assert_array_equal(s8.quantise([-200, -127.6, 127.4]), [-127, -127, 127])
    for bad in ({"overflow": "wrap"}, {"signed": False, "overflow": "saturate"}):
        with pytest.raises(FormatError, match="symmetric"):
            IntFormat("x", 8, symmetric=True, **bad)
    with pytest.raises(FormatError, match="rounding"):
        IntFormat("x", 8, rounding="nearest")


@pytest.mark.parametrize("bits", [1, 2, 3, 8])
def test_bipolar_every_code(bits):
    f = BipolarFormat(f"bp{bits}", bits)
    codes = np.arange(1 << bits)
    vals = f.decode(codes)
    np.testing.assert_array_equal(vals, 2 * codes - (2**bits - 1))
    assert (np.diff(vals) == 2).all() and vals[0] == -vals[-1]
    np.testing.assert_array_equal(f.encode(vals), codes)
    np.testing.assert_array_equal(f.encode([1e9, -1e9]), [codes[-1], 0])


def test_bipolar1_ties_and_errors():
    np.testing.assert_array_equal(emu.bipolar1.decode(emu.bipolar1.encode([-0.3, 0.0, 0.2, 5])), [-1, -1, 1, 1])
    away = BipolarFormat("b", 1, rounding="nearest_away")
    assert away.quantise([0.0])[0] == 1
    with pytest.raises(FormatError, match="bits"):
        BipolarFormat("b", 0)
    with pytest.raises(FormatError, match="NaN"):
        emu.bipolar1.encode([np.nan])


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("count", [0, 1, 7, 8, 33, 1000])
def test_pack_roundtrip(bits, count):
    codes = np.random.default_rng(bits * 100 + count).integers(0, 1 << bits, count)
    data = pack(codes, bits)
    assert data.dtype == np.uint8 and data.size == packed_size(count, bits) == -(-count * bits // 8)
    np.testing.assert_array_equal(unpack(data, bits, count), codes)


def test_pack_bit_order_is_lsb_first():
    assert pack([0x1, 0xF], 4).tolist() == [0xF1]  # element 0 in the low nibble
    assert pack([1, 2, 3, 0], 2).tolist() == [0b00111001]
    # 6-bit: four codes in three bytes, a little-endian bit stream.
    assert pack([1, 2, 3, 4], 6).tolist() == [0x81, 0x30, 0x10]
    assert pack([0b111111], 6).tolist() == [0x3F]
    assert pack([1, 0, 0, 0, 0, 0, 0, 1], 1).tolist() == [0x81]
    # fp4 memory image of a vector of MXFP4 elements.
    c = emu.float4_e2m1fn.encode([0.5, -6.0, 1.0])
    assert pack(c, emu.float4_e2m1fn.width).tolist() == [0xF1, 0x02]


def test_pack_errors():
    with pytest.raises(FormatError, match="code 16 out of range"):
        pack([16], 4)
    with pytest.raises(FormatError, match="bits"):
        pack([1], 9)
    with pytest.raises(FormatError, match="uint8"):
        unpack(np.zeros(2, np.int16), 4, 3)
    with pytest.raises(FormatError, match="3 bytes; 4 needed"):
        unpack(np.zeros(3, np.uint8), 4, 7)
    with pytest.raises(FormatError, match="integer dtype"):
        pack(np.array([1.0]), 4)
