"""Bit-slice arithmetic: slice and radix-4 (Booth) digit recoding, the bit-slice MAC and Bit Fusion models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .int_format import IntFormat

__all__ = [
    "ENCODINGS",
    "BitSliceResult",
    "SliceCoding",
    "bitslice_dot",
    "carry_save_add",
    "check_operands",
    "fused_bits",
    "fused_lanes",
    "fusion_dot",
]

#: ``"unsigned"``: plain two's complement slices of ``slice_bits`` bits, every slice
#: unsigned except the top one, which carries the sign weight (Bit Fusion's bricks).
#: ``"radix4"``: radix-4 signed digits in {-2..2} (modified Booth recoding).
ENCODINGS = ("unsigned", "radix4")


@dataclass(frozen=True)
class SliceCoding:
    """How the serial operand of a bit-slice PE is cut into digits.

    A ``p``-bit two's complement value ``v`` becomes digits ``d_i`` (least significant
    first) with ``v == sum_i d_i * 2**(slice_bits * i)``.

    Parameters
    ----------
    encoding : {"unsigned", "radix4"}
        See :data:`ENCODINGS`.
    slice_bits : {1, 2}
        Bits per digit position; ``"radix4"`` needs 2.
    max_bits : int
        Widest run-time precision (2..16): the operand port width. Must be
        ``slice_bits * 2**k`` so precisions fuse in powers of two.

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    encoding: str = "radix4"
    slice_bits: int = 2
    max_bits: int = 8

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ConfigError("encoding", self.encoding, ", ".join(ENCODINGS))
        if self.slice_bits not in (1, 2) or isinstance(self.slice_bits, bool):
            raise ConfigError("slice_bits", self.slice_bits, "1 or 2")
        if self.encoding == "radix4" and self.slice_bits != 2:
            raise ConfigError("slice_bits", self.slice_bits, "2 with encoding='radix4' (a radix-4 digit spans 2 bits)")
        ok = isinstance(self.max_bits, int) and not isinstance(self.max_bits, bool) and 2 <= self.max_bits <= 16
        groups = self.max_bits // self.slice_bits if ok else 0
        if not ok or self.max_bits % self.slice_bits or groups & (groups - 1):
            raise ConfigError("max_bits", self.max_bits, f"an integer in 2..16 equal to {self.slice_bits} * 2**k")

    @property
    def operand_format(self) -> IntFormat:
        """Format of an operand port: ``max_bits``-bit two's complement."""
        return IntFormat(f"int{self.max_bits}", self.max_bits)

    @property
    def digit_bits(self) -> int:
        """Width of a signed digit: radix-4 digits and signed 2-bit slices need 3 bits."""
        return self.slice_bits + 1

    def slots(self, bits: int) -> int:
        """Number of digit positions of a ``bits``-bit operand."""
        return -(-bits // self.slice_bits)

    def digits(self, values, bits: int) -> np.ndarray:
        """Digits of ``bits``-bit values, shape ``values.shape + (slots(bits),)``, least significant first.

        Raises
        ------
        ValueError
            If ``bits`` is outside 2..max_bits or a value does not fit ``bits`` bits.
        """
        v = check_operands(values, bits, "values", self.max_bits)
        s = self.slice_bits
        out = []
        for i in range(self.slots(bits)):
            if self.encoding == "radix4":
                below = (v >> (2 * i - 1)) & 1 if i else np.zeros_like(v)
                out.append(-2 * ((v >> (2 * i + 1)) & 1) + ((v >> (2 * i)) & 1) + below)
            elif i == self.slots(bits) - 1:
                out.append(v >> (s * i))  # top slice: arithmetic shift keeps the sign weight
            else:
                out.append((v >> (s * i)) & ((1 << s) - 1))
        return np.stack(out, axis=-1)

    def nonzero(self, values, bits: int) -> np.ndarray:
        """Number of non-zero digits of each value (the cycles a zero-skipping PE spends on it)."""
        return np.count_nonzero(self.digits(values, bits), axis=-1)


def check_operands(values, bits: int, name: str, max_bits: int = 16) -> np.ndarray:
    """Return ``values`` as int64 after checking they are ``bits``-bit two's complement integers.

    Raises
    ------
    ValueError
        If ``bits`` is outside 2..max_bits or a value is out of range.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= max_bits:
        raise ConfigError(f"{name}_bits", bits, f"an integer in 2..{max_bits}")
    v = np.asarray(values)
    if v.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers; got dtype {v.dtype}")
    v = v.astype(np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        bad = v[(v < lo) | (v > hi)].flat[0]
        raise ValueError(f"{name} value {int(bad)} does not fit {bits} bits; allowed: {lo}..{hi}")
    return v


def carry_save_add(s: np.ndarray, c: np.ndarray, x: np.ndarray, width: int):
    """One 3:2 carry-save step modulo ``2**width`` on unsigned codes: ``s + c + x == s' + c'``."""
    mask = np.uint64((1 << width) - 1)
    x = x.astype(np.int64).view(np.uint64) & mask
    carry = ((s & c) | (s & x) | (c & x)) << np.uint64(1)
    return s ^ c ^ x, carry & mask


@dataclass(frozen=True)
class BitSliceResult:
    """What a bit-slice PE reports for each group of MACs.

    Attributes
    ----------
    acc : numpy.ndarray of int64
        The dot product of each group in the accumulator format.
    cycles : numpy.ndarray of int64
        Busy cycles of each group: ``sum over pairs of max(1, nonzero digits of a)``.
    """

    acc: np.ndarray
    cycles: np.ndarray


def bitslice_dot(a, w, a_bits: int, w_bits: int, coding: SliceCoding, acc: IntFormat) -> BitSliceResult:
    """Golden model of ``BitSlicePE``: groups of MACs, digit-serial in ``a``, bit-parallel in ``w``.

    Row ``g`` of ``a`` and ``w`` (shape ``(G, K)``) is one group. Pair ``k`` enters
    after pair ``k-1``; its non-zero digits of ``a``, least significant first, each
    add the partial product ``d_i * w << (slice_bits * i)`` into a carry-save
    accumulator (one per cycle). Zero digits are skipped, but a pair costs at least
    one cycle (the cycle it is accepted in). The carry-save pair is resolved into
    ``acc`` (wrapping) when the group ends.

    Parameters
    ----------
    a, w : array_like of int, shape (G, K)
        Serial and parallel operands.
    a_bits, w_bits : int
        Run-time precisions (2..coding.max_bits).
    coding : SliceCoding
    acc : IntFormat
        Wrapping accumulator format.

    Returns
    -------
    BitSliceResult

    Raises
    ------
    ValueError
        If shapes differ, a precision is out of range or an operand does not fit it.
    """
    a = np.atleast_2d(check_operands(a, a_bits, "a", coding.max_bits))
    w = np.atleast_2d(check_operands(w, w_bits, "w", coding.max_bits))
    if a.shape != w.shape or a.ndim != 2:
        raise ValueError(f"a and w must have the same (groups, K) shape; got {a.shape} and {w.shape}")
    if acc.overflow != "wrap":
        raise ValueError(f"acc.overflow={acc.overflow!r} is not allowed; allowed: 'wrap'")
    digits = coding.digits(a, a_bits)
    s = np.zeros(a.shape[0], dtype=np.uint64)
    c = np.zeros_like(s)
    for k in range(a.shape[1]):
        for i in range(digits.shape[-1]):
            d = digits[:, k, i]
            s2, c2 = carry_save_add(s, c, (d * w[:, k]) << (coding.slice_bits * i), acc.width)
            s, c = np.where(d != 0, s2, s), np.where(d != 0, c2, c)
    total = acc.decode((s + c) & np.uint64((1 << acc.width) - 1))
    cycles = np.maximum(1, np.count_nonzero(digits, axis=-1)).sum(axis=-1)
    return BitSliceResult(total, cycles.astype(np.int64))


def fused_bits(bits: int, slice_bits: int = 2) -> int:
    """Precision a Bit Fusion unit runs a ``bits``-bit operand at: ``slice_bits * 2**k >= bits``."""
    fused = slice_bits
    while fused < bits:
        fused *= 2
    return fused


def fused_lanes(a_bits: int, w_bits: int, coding: SliceCoding) -> int:
    """MACs per cycle of one fusion unit of ``(max_bits / slice_bits)**2`` bricks at these precisions.

    Bit Fusion with 2-bit bricks and ``max_bits=8``: 1 (8x8), 2 (8x4), 4 (4x4, 8x2), 16 (2x2).
    """
    n = coding.max_bits // coding.slice_bits
    ga = fused_bits(a_bits, coding.slice_bits) // coding.slice_bits
    gw = fused_bits(w_bits, coding.slice_bits) // coding.slice_bits
    return (n // ga) * (n // gw)


def fusion_dot(a, w, a_bits: int, w_bits: int, coding: SliceCoding, acc: IntFormat) -> np.ndarray:
    """Golden model of one Bit Fusion unit over K: brick products summed, then accumulated per beat.

    ``a`` and ``w`` (shape ``(G, K)``) are zero-padded to whole beats of
    ``fused_lanes`` MACs. Each beat's brick products ``d_i * e_j << (slice_bits*(i+j))``
    (``d`` digits of ``a`` at the fused precision, ``e`` unsigned slices of ``w`` with a
    signed top slice) are summed exactly, and the beat sums are added into the
    wrapping accumulator in beat order.

    Returns
    -------
    numpy.ndarray of int64, shape (G,)
    """
    a = np.atleast_2d(check_operands(a, a_bits, "a", coding.max_bits))
    w = np.atleast_2d(check_operands(w, w_bits, "w", coding.max_bits))
    if a.shape != w.shape:
        raise ValueError(f"a and w must have the same (groups, K) shape; got {a.shape} and {w.shape}")
    lanes = fused_lanes(a_bits, w_bits, coding)
    pad = -a.shape[1] % lanes
    a = np.pad(a, ((0, 0), (0, pad)))
    w = np.pad(w, ((0, 0), (0, pad)))
    fa, fw = fused_bits(a_bits, coding.slice_bits), fused_bits(w_bits, coding.slice_bits)
    da = coding.digits(a, fa)
    dw = SliceCoding("unsigned", coding.slice_bits, coding.max_bits).digits(w, fw)
    s = coding.slice_bits
    bricks = np.zeros(a.shape, dtype=np.int64)
    for i in range(da.shape[-1]):
        for j in range(dw.shape[-1]):
            bricks += (da[..., i] * dw[..., j]) << (s * (i + j))
    total = np.zeros(a.shape[0], dtype=np.int64)
    for beat in bricks.reshape(a.shape[0], -1, lanes).sum(axis=-1).T:
        total = acc.fit(total + beat)
    return total
