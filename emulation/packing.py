"""Dense sub-byte packing of format codes into byte arrays (memory images for hardware and driver).

Bit order (the same for every width): codes form a little-endian bit stream.
Code ``i`` occupies stream bits ``[i*bits, (i+1)*bits)`` with its least significant
bit first, and stream bit ``j`` is bit ``j % 8`` (LSB = 0) of byte ``j // 8``.
So for 4-bit codes element 0 is the low nibble of byte 0 (as in the OCP MX spec
and PyTorch's ``float4_e2m1fn_x2``); for 6-bit codes four elements fill three
bytes, element 1 starting at bit 6 of byte 0. A partial last byte is zero-padded.
"""

import numpy as np

from ._arrays import as_codes
from .errors import FormatError

__all__ = ["pack", "packed_size", "unpack"]


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise FormatError(f"bits must be an int in 1..8; got {bits!r}")
    return int(bits)


def packed_size(count: int, bits: int) -> int:
    """Number of bytes holding ``count`` codes of ``bits`` bits."""
    return (count * _check_bits(bits) + 7) // 8


def pack(codes, bits: int) -> np.ndarray:
    """Pack codes of ``bits`` bits into a dense uint8 array (bit order: module docstring).

    Parameters
    ----------
    codes : array_like of int
        Codes in ``[0, 2**bits)``; flattened in C order.
    bits : int
        Code width, 1..8 (e.g. ``fmt.width``: 4 for fp4/int4, 6 for fp6, 2 for int2).

    Returns
    -------
    numpy.ndarray of uint8, shape (packed_size(codes.size, bits),)

    Raises
    ------
    FormatError
        If ``bits`` is not in 1..8, or a code is not an integer in range.
    """
    bits = _check_bits(bits)
    c = as_codes(codes, bits).reshape(-1).astype(np.uint8)
    if bits == 8:
        return c.copy()
    if 8 % bits == 0:
        per = 8 // bits
        padded = np.zeros(-(-c.size // per) * per, np.uint8)
        padded[: c.size] = c
        lanes = padded.reshape(-1, per)
        out = lanes[:, 0].copy()
        for i in range(1, per):
            out |= lanes[:, i] << np.uint8(i * bits)
        return out
    stream = np.unpackbits(c[:, None], axis=1, count=bits, bitorder="little")
    return np.packbits(stream.reshape(-1), bitorder="little")


def unpack(data, bits: int, count: int) -> np.ndarray:
    """Unpack ``count`` codes of ``bits`` bits from a byte array written by :func:`pack`.

    Parameters
    ----------
    data : array_like of uint8
        Packed bytes; at least ``packed_size(count, bits)`` of them.
    bits : int
        Code width, 1..8.
    count : int
        Number of codes to read.

    Returns
    -------
    numpy.ndarray of uint8, shape (count,)

    Raises
    ------
    FormatError
        If ``data`` is not uint8 or too short, or ``bits``/``count`` is invalid.
    """
    bits = _check_bits(bits)
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        raise FormatError(f"data must have dtype uint8; got dtype {arr.dtype}")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise FormatError(f"count must be a non-negative int; got {count!r}")
    need = packed_size(int(count), bits)
    arr = arr.reshape(-1)
    if arr.size < need:
        raise FormatError(f"data holds {arr.size} bytes; {need} needed for {count} codes of {bits} bits")
    if bits == 8:
        return arr[:count].copy()
    if 8 % bits == 0:
        per = 8 // bits
        shifts = np.arange(per, dtype=np.uint8) * np.uint8(bits)
        lanes = (arr[:need, None] >> shifts) & np.uint8((1 << bits) - 1)
        return lanes.reshape(-1)[:count]
    stream = np.unpackbits(arr[:need], bitorder="little")[: count * bits]
    return np.packbits(stream.reshape(count, bits), axis=1, bitorder="little").reshape(-1)
