"""Vectorised encode/decode kernels for :class:`FloatFormat` on integer bit patterns."""

from dataclasses import dataclass
from functools import cache

import numpy as np

__all__: list[str] = []

# Elements per chunk: the ~3 MB of scratch stays cache-resident between the ~15
# passes, while chunks stay large enough to amortise the per-ufunc-call overhead.
_CHUNK = 1 << 18
# Formats up to this width decode through a 2**width lookup table.
_LUT_MAX_WIDTH = 16


@dataclass(frozen=True)
class _Source:
    """Layout of the IEEE binary input type."""

    uint: type
    float: type
    bits: int
    man_bits: int
    bias: int

    @property
    def inf_bits(self) -> int:
        return ((1 << (self.bits - 1 - self.man_bits)) - 1) << self.man_bits


_F32 = _Source(np.uint32, np.float32, 32, 23, 127)
_F64 = _Source(np.uint64, np.float64, 64, 52, 1023)


@dataclass(frozen=True)
class _EncodeConsts:
    """Constants of the encode kernel for one (format, input type) pair."""

    shift: int  # input mantissa bits dropped by a normal result
    parity_fix: int  # 1 when the exponent offset flips the kept LSB's parity
    round_add: int  # RNE bias minus exponent offset, mod 2**bits (wraps on purpose)
    min_normal_bits: int  # input bit pattern of the format's min_normal
    magic: float  # adding it rounds a sub-min_normal value at the subnormal quantum
    magic_bits: int
    clamp: int  # overflowing magnitudes end here
    sign_shift: int  # input sign bit -> code sign bit


@cache
def _encode_consts(fmt, src: _Source) -> _EncodeConsts:
    m = fmt.man_bits
    shift = src.man_bits - m
    off = src.bias - fmt.bias  # input biased exponent of the format's exponent field 0
    modulus = 1 << src.bits
    # Rounding x < min_normal with a float add: the sum's ulp is the subnormal quantum 2**(1-bias-m).
    magic_exp = 1 - fmt.bias - m + src.man_bits
    magic_bits = (magic_exp + src.bias) << src.man_bits
    policy = fmt.resolved_overflow
    clamp = fmt.max_code if policy == "saturate" else fmt.max_code + 1
    return _EncodeConsts(
        shift=shift,
        parity_fix=(off << m) & 1,
        round_add=((1 << (shift - 1)) - 1 - (off << src.man_bits)) % modulus,
        min_normal_bits=(off + 1) << src.man_bits,
        magic=float(2.0**magic_exp),
        magic_bits=magic_bits,
        clamp=clamp,
        sign_shift=src.bits - fmt.width,
    )


def encode(fmt, arr: np.ndarray) -> np.ndarray:
    """Encode a float32/float64 array (``fmt.man_bits`` below the input's) into codes."""
    src = _F32 if arr.dtype == np.float32 else _F64
    flat = np.ascontiguousarray(arr, dtype=src.float).reshape(-1)
    out = np.empty(flat.shape, dtype=fmt.code_dtype)
    k = _encode_consts(fmt, src)
    bits = flat.view(src.uint)
    n = min(_CHUNK, bits.size)
    scratch = (
        np.empty(n, src.uint),
        np.empty(n, src.uint),
        np.empty(n, src.uint),
        np.empty(n, np.bool_),
    )
    # NaN inputs flow through the float-add trick harmlessly; their codes are fixed later.
    with np.errstate(invalid="ignore"):
        for i in range(0, bits.size, _CHUNK):
            j = min(i + _CHUNK, bits.size)
            _encode_chunk(fmt, src, k, bits[i:j], out[i:j], [s[: j - i] for s in scratch])
    return out.reshape(arr.shape)


def _encode_chunk(fmt, src, k, b, out, scratch) -> None:
    # Every step writes into scratch (out=) so a chunk makes ~15 cache-resident passes.
    a, t, s, mask = scratch
    u = src.uint
    np.bitwise_and(b, u((1 << (src.bits - 1)) - 1), out=a)
    # Normal results: integer round-to-nearest-even by add-and-shift; a mantissa carry
    # correctly bumps the exponent field.
    np.right_shift(a, u(k.shift), out=t)
    if k.parity_fix:
        np.add(t, u(1), out=t)
    np.bitwise_and(t, u(1), out=t)
    np.add(t, a, out=t)
    np.add(t, u(k.round_add), out=t)
    np.right_shift(t, u(k.shift), out=t)
    # Below min_normal the add above wrapped around; redo those with the float-add trick.
    np.less(a, u(k.min_normal_bits), out=mask)
    if fmt.subnormals:
        sf = s.view(src.float)
        np.add(a.view(src.float), src.float(k.magic), out=sf)
        np.subtract(s, u(k.magic_bits), out=s)
        np.copyto(t, s, where=mask)
    else:
        np.copyto(t, u(0), where=mask)
    _apply_overflow(fmt, src, k, a, t, mask)
    np.right_shift(b, u(k.sign_shift), out=s)
    np.bitwise_and(s, u(fmt.sign_mask), out=s)
    if fmt.specials == "fnuz":
        np.equal(t, u(0), out=mask)  # no -0: zero keeps a clear sign bit
        np.bitwise_or(t, s, out=t)
        np.copyto(t, u(0), where=mask)
    else:
        np.bitwise_or(t, s, out=t)
    np.copyto(out, t, casting="unsafe")


def _apply_overflow(fmt, src, k, a, t, mask) -> None:
    u = src.uint
    # Inf and NaN inputs produce huge magnitudes here, so they are clamped too.
    np.minimum(t, u(k.clamp), out=t)
    policy = fmt.resolved_overflow
    if policy == "nan" and fmt.specials == "ieee":
        np.equal(t, u(fmt.inf_code), out=mask)
        np.copyto(t, u(fmt.nan_code), where=mask)
        np.equal(a, u(src.inf_bits), out=mask)
        np.copyto(t, u(fmt.inf_code), where=mask)
    # With clamp == nan_code every NaN input already became NaN.
    if fmt.nan_code is not None and k.clamp != fmt.nan_code:
        np.greater(a, u(src.inf_bits), out=mask)
        np.copyto(t, u(fmt.nan_code), where=mask)


def decode(fmt, codes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Decode validated integer codes into ``dtype`` (float32 or float64)."""
    if fmt.width <= _LUT_MAX_WIDTH:
        lut = _decode_lut(fmt, dtype.str)
        return lut[codes]
    # The kernel assigns through masks, which a 0-d result (a NumPy scalar) cannot take.
    return _decode_arith(fmt, codes.astype(np.int64).reshape(-1), dtype).reshape(codes.shape)


@cache
def _decode_lut(fmt, dtype_str: str) -> np.ndarray:
    lut = _decode_arith(fmt, np.arange(1 << fmt.width, dtype=np.int64), np.dtype(dtype_str))
    lut.flags.writeable = False
    return lut


def _decode_arith(fmt, c: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if fmt.specials == "fnu":
        from . import _scale_codec

        return _scale_codec.decode(fmt, c, dtype)
    m_bits = fmt.man_bits
    sign = (c >> (fmt.exp_bits + m_bits)) & 1
    e = (c >> m_bits) & ((1 << fmt.exp_bits) - 1)
    m = c & ((1 << m_bits) - 1)
    sub = e == 0
    # float64 holds every value exactly (at most 24 significant bits, exponent within float32).
    sig = np.where(sub, m, m + (1 << m_bits)).astype(np.float64)
    if not fmt.subnormals:
        sig[sub] = 0.0
    mag = np.ldexp(sig, np.where(sub, 1, e) - fmt.bias - m_bits)
    mag[_nan_mask(fmt, c, e, m)] = np.nan
    if fmt.inf_code is not None:
        mag[(c & (fmt.sign_mask - 1)) == fmt.inf_code] = np.inf
    val = np.where(sign == 1, -mag, mag).astype(dtype)
    # Quiet NaN carrying the code's sign, as ml_dtypes does.
    nan = np.isnan(val)
    if nan.any():
        ui = np.uint32 if dtype == np.float32 else np.uint64
        qnan = np.array(np.nan, dtype).view(ui)
        signbit = ui(1) << ui(dtype.itemsize * 8 - 1)
        val.view(ui)[nan] = np.where(sign[nan] == 1, qnan | signbit, qnan)
    return val.reshape(c.shape)


def _nan_mask(fmt, c, e, m) -> np.ndarray:
    if fmt.specials == "ieee":
        return (e == (1 << fmt.exp_bits) - 1) & (m != 0)
    if fmt.specials == "fn":
        return (c & (fmt.sign_mask - 1)) == fmt.nan_code
    if fmt.specials == "fnuz":
        return c == fmt.sign_mask
    return np.zeros(c.shape, dtype=bool)
