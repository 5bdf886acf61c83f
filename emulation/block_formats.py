"""Block formats with one shared power-of-two scale per block: OCP MX (v1.0) and generic BFP."""

from dataclasses import dataclass, replace

import numpy as np

from ._arrays import as_codes, as_numeric, as_real, check_axis, float_dtype
from .errors import FormatError
from .float_format import FloatFormat
from .formats import float4_e2m1fn, float6_e2m3fn, float6_e3m2fn, float8_e4m3fn, float8_e5m2, float8_e8m0fnu
from .int_format import IntFormat
from .rounding import check_rounding, make_rng, round_integer

__all__ = [
    "BFPFormat",
    "MXFormat",
    "SCALE_RULES",
    "mxfp4",
    "mxfp6_e2m3",
    "mxfp6_e3m2",
    "mxfp8_e4m3",
    "mxfp8_e5m2",
    "mxint8",
]

#: Shared-exponent rules. ``"floor"`` (OCP MX v1.0): ``floor(log2(amax)) - emax``,
#: elements saturate. ``"ceil"``: ``ceil(log2(amax)) - emax``. ``"even"``: amax is
#: first rounded (nearest-even) to the element precision, then ``"floor"``; no
#: element saturates. ``"rceil"`` (NVIDIA): ``ceil(log2(amax / elem_max))``, the
#: smallest scale at which amax does not overflow.
SCALE_RULES = ("floor", "ceil", "even", "rceil")
_SCALE_MIN, _SCALE_MAX = -127, 127


def _blocks(x: np.ndarray, axis: int, size: int):
    """Move ``axis`` last and zero-pad it to a multiple of ``size``; return (blocks, n)."""
    if x.ndim == 0:
        raise FormatError("values must have at least one dimension")
    x = np.moveaxis(x, check_axis(axis, x.ndim), -1)
    n = x.shape[-1]
    pad = -n % size
    if pad:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], pad), x.dtype)], axis=-1)
    return x.reshape((*x.shape[:-1], -1, size)), n


def _unblock(blocks: np.ndarray, n: int, axis: int) -> np.ndarray:
    flat = blocks.reshape((*blocks.shape[:-2], -1))[..., :n]
    return np.moveaxis(flat, -1, axis)


def _floor_log2(amax: np.ndarray):
    """Exact ``floor(log2(amax))`` from the exponent bits, and whether amax is a power of two."""
    m, e = np.frexp(amax)
    return e.astype(np.int64) - 1, m == 0.5, m


def _shared_exponent(amax, rule: str, emax: int, prec: int, elem_max: float) -> np.ndarray:
    """Unclamped shared exponent per block (amax finite and > 0)."""
    fl, pow2, m = _floor_log2(amax)
    if rule == "floor":
        return fl - emax
    if rule == "ceil":
        return fl + ~pow2 - emax
    if rule == "even":
        carry = np.rint(np.ldexp(m, prec + 1)) == 2.0 ** (prec + 1)
        return fl + carry - emax
    x0 = fl - int(np.floor(np.log2(elem_max)))
    return x0 + (amax > np.ldexp(elem_max, x0))


@dataclass(frozen=True)
class MXFormat:
    """An OCP Microscaling format: blocks of ``block_size`` elements sharing one E8M0 scale.

    ``value_i = 2**X * P_i`` with ``X`` the block's scale exponent in [-127, 127]
    (code ``X + 127``; code 0xFF is NaN and makes the block NaN).

    Parameters
    ----------
    name : str
        E.g. ``"mxfp8_e4m3"``.
    element : FloatFormat or IntFormat
        Element format. Use a saturating one (``overflow="saturate"``) for OCP
        conformance. Integer elements carry an implicit scale ``2**-(bits - 2)``
        (MXINT8: values ``k / 64``).
    block_size : int, default 32
        Elements per block, 1..2**16.
    scale_rule : {"floor", "ceil", "even", "rceil"}, default "floor"
        How the shared exponent is chosen; see :data:`SCALE_RULES`.

    Raises
    ------
    FormatError
        If a field is invalid.

    Notes
    -----
    ``floor(log2(amax))`` comes from the exponent bits (``numpy.frexp``), never
    from a float ``log2``. A block holding NaN or ±Inf gets the NaN scale; the
    elements of such a block encode as 0. An all-zero block gets scale ``2**-127``.
    Elements are rounded once from the exact ``V_i / 2**X`` with the element's
    rounding mode: integer inputs of any width are exact (never rounded through
    float64), and an element whose scaled value is too small for float64 still
    rounds as that exact value (to ±0, or to the smallest element under a
    directed mode away from zero).
    """

    name: str
    element: FloatFormat | IntFormat
    block_size: int = 32
    scale_rule: str = "floor"

    def __post_init__(self):
        _check_name(self.name)
        if not isinstance(self.element, (FloatFormat, IntFormat)):
            raise FormatError(f"element must be a FloatFormat or IntFormat; got {self.element!r}")
        if isinstance(self.element, IntFormat) and (not self.element.signed or self.element.bits < 2):
            raise FormatError(f"element must be a signed IntFormat of >= 2 bits; got {self.element!r}")
        if isinstance(self.element, FloatFormat) and not self.element.signed:
            raise FormatError(f"element must be a signed format; got {self.element.name}")
        _check_block_size(self.block_size)
        if self.scale_rule not in SCALE_RULES:
            raise FormatError(f"scale_rule must be one of {', '.join(SCALE_RULES)}; got {self.scale_rule!r}")

    @property
    def scale_format(self) -> FloatFormat:
        """The scale format, ``float8_e8m0fnu``."""
        return float8_e8m0fnu

    @property
    def _int_frac_bits(self) -> int:
        return self.element.bits - 2 if isinstance(self.element, IntFormat) else 0

    @property
    def elem_max(self) -> float:
        """Largest element magnitude."""
        if isinstance(self.element, IntFormat):
            return self.element.max_value * 2.0**-self._int_frac_bits
        return self.element.max_finite

    @property
    def emax(self) -> int:
        """Exponent of the largest element binade, ``floor(log2(elem_max))``."""
        return int(np.floor(np.log2(self.elem_max)))

    @property
    def _precision(self) -> int:
        return self._int_frac_bits if isinstance(self.element, IntFormat) else self.element.man_bits

    def encode(self, values, axis: int = -1, rng=None):
        """Quantise values block-wise along ``axis``.

        Parameters
        ----------
        values : array_like of float or int
            float32 or float64 (float16 is converted to float64); integers of
            any width are exact inputs (never rounded through float64 first).
        axis : int, default -1
            Axis split into blocks; a partial last block is allowed.
        rng : None, int or numpy.random.Generator, optional
            Random source for an element format with ``rounding="stochastic"``.

        Returns
        -------
        scales : numpy.ndarray of uint8
            E8M0 codes; ``axis`` has ``ceil(n / block_size)`` entries.
        elements : numpy.ndarray
            Element codes with the shape of ``values``.

        Raises
        ------
        FormatError
            If ``values`` is not numeric or ``axis`` is out of range.
        """
        x = as_real(values)
        x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
        blocks, n = _blocks(x, axis, self.block_size)
        amax = np.max(np.abs(blocks), axis=-1)
        bad = ~np.isfinite(amax)
        pos = (amax > 0) & ~bad
        exp = np.full(amax.shape, _SCALE_MIN, np.int64)
        exp[pos] = _shared_exponent(amax[pos], self.scale_rule, self.emax, self._precision, self.elem_max)
        exp = np.clip(exp, _SCALE_MIN, _SCALE_MAX)
        y = self._scaled(blocks, exp, bad)
        if isinstance(self.element, IntFormat):
            y = y * y.dtype.type(2.0**self._int_frac_bits)
        codes = self.element.encode(y, rng=rng)
        scales = np.where(bad, float8_e8m0fnu.nan_code, exp - _SCALE_MIN).astype(np.uint8)
        return np.moveaxis(scales, -1, axis), _unblock(codes, n, axis)

    def _scaled(self, blocks, exp, bad):
        # float32 keeps V * 2**-X exact wherever it matters for nearest modes; directed and
        # stochastic modes need float64 so that no tiny element underflows to zero first.
        rounding = self.element.rounding
        dt = blocks.dtype if rounding in ("nearest_even", "nearest_away") else np.float64
        inv = np.ldexp(1.0, -exp).astype(dt)
        with np.errstate(over="ignore", invalid="ignore"):  # only NaN/Inf blocks, zeroed below
            y = blocks.astype(dt, copy=False) * inv[..., None]
        if rounding in _AWAY_FROM_TINY:
            _keep_underflow(y, blocks)
        if bad.any():
            y[bad] = 0.0
        return y

    def decode(self, scales, elements, axis: int = -1, dtype=np.float32) -> np.ndarray:
        """Values ``2**X * P_i`` from scale and element codes (as returned by :meth:`encode`).

        ``dtype`` float64 is always exact; float32 is exact unless a value leaves
        float32 range (it then becomes ±Inf or rounds as a float32 subnormal).
        """
        dt = float_dtype(dtype)
        s = as_codes(scales, 8)
        p = self.element.decode(elements)
        p = p.astype(np.float64) * 2.0**-self._int_frac_bits
        pb, n = _blocks(p, axis, self.block_size)
        _check_ndim("scales", s, p)
        sb = np.moveaxis(s, axis, -1).astype(np.int64)
        if sb.shape != pb.shape[:-1]:
            raise FormatError(f"scales shape {s.shape} does not match {pb.shape[:-1]} blocks of the elements")
        out = pb * np.ldexp(1.0, sb - 127)[..., None]
        out[sb == float8_e8m0fnu.nan_code] = np.nan
        with np.errstate(over="ignore"):
            return _unblock(out, n, axis).astype(dt)

    def quantise(self, values, axis: int = -1, rng=None, dtype=None) -> np.ndarray:
        """Return ``decode(*encode(values))`` in the input's float dtype (float64 for non-floats)."""
        x = as_numeric(values, big_ints=True)
        dtype = float_dtype(dtype) if dtype is not None else np.float32 if x.dtype == np.float32 else np.float64
        return self.decode(*self.encode(x, axis, rng), axis=axis, dtype=dtype)


#: Modes that send some tiny nonzero values away from zero (the others round them to a
#: signed zero, which an underflow in the scaling also gives, sign included).
_AWAY_FROM_TINY = ("up", "down")


def _keep_underflow(y: np.ndarray, x: np.ndarray) -> None:
    """Give elements of ``x`` that scaled to 0 in ``y`` the smallest magnitude of y's dtype instead.

    Far below every element's quantum, this rounds as the exact value (``"up"`` sends
    a positive one to the smallest element, ``"down"`` a negative one); a plain
    underflow to 0 would not. (Stochastic rounding would move it with probability
    below 2**-1000, which the random source cannot resolve anyway.)
    """
    lost = (y == 0) & (x != 0)
    if lost.any():
        tiny = np.finfo(y.dtype).smallest_subnormal
        y[lost] = np.copysign(tiny, x[lost]).astype(y.dtype)


def _check_ndim(what: str, codes: np.ndarray, elements: np.ndarray) -> None:
    if codes.ndim != elements.ndim:
        raise FormatError(
            f"{what} must have as many dimensions as the elements ({elements.ndim}); got shape {codes.shape}"
        )


def _check_name(name) -> None:
    if not isinstance(name, str) or not name:
        raise FormatError(f"name must be a non-empty str; got {name!r}")


def _check_block_size(size) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1 << 16:
        raise FormatError(f"block_size must be an int in 1..65536; got {size!r}")


def _sat(fmt: FloatFormat) -> FloatFormat:
    return replace(fmt, overflow="saturate")


mxfp8_e4m3 = MXFormat("mxfp8_e4m3", _sat(float8_e4m3fn))
mxfp8_e5m2 = MXFormat("mxfp8_e5m2", _sat(float8_e5m2))
mxfp6_e2m3 = MXFormat("mxfp6_e2m3", float6_e2m3fn)
mxfp6_e3m2 = MXFormat("mxfp6_e3m2", float6_e3m2fn)
mxfp4 = MXFormat("mxfp4", float4_e2m1fn)
#: MXINT8 with symmetric elements (-127..127, as microxcaling); pass a non-symmetric
#: ``IntFormat("int8", 8, overflow="saturate")`` to use the -128 code (-2.0).
mxint8 = MXFormat("mxint8", IntFormat("int8", 8, symmetric=True, overflow="saturate"))

_BFP_RULES = ("floor", "even")


@dataclass(frozen=True)
class BFPFormat:
    """Block floating point: sign-magnitude integer mantissas sharing one exponent per block.

    ``value_i = m_i * 2**(E - man_bits + 1)`` with ``|m_i| <= 2**man_bits - 1``, so
    the block maximum has its leading one in the top mantissa bit. Element
    codes are sign-magnitude ``sign << man_bits | |m|``; shared exponents are
    stored biased, ``E + 2**(exp_bits - 1) - 1``, with ``E`` clamped to
    ``[2 - 2**(exp_bits - 1), 2**(exp_bits - 1) - 1]``.

    Parameters
    ----------
    name : str
        E.g. ``"bfp8"``.
    block_size : int
        Elements per block.
    man_bits : int
        Magnitude bits per element, 1..23 (elements are ``1 + man_bits`` wide).
    exp_bits : int, default 8
        Width of the shared exponent field, 2..10.
    scale_rule : {"floor", "even"}, default "floor"
        ``"floor"``: ``E = floor(log2(amax))`` (a block max that rounds up
        saturates); ``"even"``: amax is rounded to ``man_bits`` first, so it
        never saturates.
    rounding : str, default "nearest_even"
        Element rounding mode.

    Raises
    ------
    FormatError
        If a field is invalid, or on NaN/Inf input (BFP has no special values).
    """

    name: str
    block_size: int
    man_bits: int
    exp_bits: int = 8
    scale_rule: str = "floor"
    rounding: str = "nearest_even"

    def __post_init__(self):
        _check_name(self.name)
        _check_block_size(self.block_size)
        for field, lo, hi in (("man_bits", 1, 23), ("exp_bits", 2, 10)):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise FormatError(f"{field} must be an int in {lo}..{hi}; got {v!r}")
        if self.scale_rule not in _BFP_RULES:
            raise FormatError(f"scale_rule must be one of {', '.join(_BFP_RULES)}; got {self.scale_rule!r}")
        check_rounding(self.rounding)

    @property
    def exp_bias(self) -> int:
        """Bias of the stored shared exponent."""
        return (1 << (self.exp_bits - 1)) - 1

    def encode(self, values, axis: int = -1, rng=None):
        """Return ``(exponent_codes, element_codes)``; see :meth:`MXFormat.encode`.

        Elements are rounded once from the exact ``V_i * 2**(man_bits - 1 - E)``:
        integers of any width are exact inputs, and an element too small for
        float64 after scaling still rounds as its exact value (to 0, or to 1
        under a directed mode away from zero).
        """
        x = as_real(values).astype(np.float64)
        if not np.isfinite(x).all():
            raise FormatError(f"NaN or Inf cannot be encoded in {self.name}; allowed: finite values")
        blocks, n = _blocks(x, axis, self.block_size)
        amax = np.max(np.abs(blocks), axis=-1)
        e = np.zeros(amax.shape, np.int64)
        pos = amax > 0
        e[pos] = _shared_exponent(amax[pos], self.scale_rule, 0, self.man_bits - 1, 0.0)
        e = np.clip(e, 1 - self.exp_bias, self.exp_bias)
        y = np.ldexp(blocks, (self.man_bits - 1 - e)[..., None])
        if self.rounding in _AWAY_FROM_TINY:
            _keep_underflow(y, blocks)
        gen = make_rng(rng) if self.rounding == "stochastic" else None
        top = (1 << self.man_bits) - 1
        m = np.clip(round_integer(np.abs(y), self.rounding, gen), 0, top)
        if self.rounding in ("up", "down"):  # directed modes act on the signed value
            m = np.clip(np.abs(round_integer(y, self.rounding, gen)), 0, top)
        codes = m.astype(np.int64) | (np.signbit(y).astype(np.int64) << self.man_bits)
        dt = np.uint32 if self.man_bits >= 16 else (np.uint16 if self.man_bits >= 8 else np.uint8)
        exps = np.moveaxis((e + self.exp_bias).astype(np.uint16), -1, axis)
        return exps, _unblock(codes.astype(dt), n, axis)

    def decode(self, exponents, elements, axis: int = -1) -> np.ndarray:
        """float64 values (exact) from exponent and element codes."""
        c = as_codes(elements, self.man_bits + 1).astype(np.int64)
        mag = (c & ((1 << self.man_bits) - 1)).astype(np.float64)
        v = np.where(c >> self.man_bits, -mag, mag)
        vb, n = _blocks(v, axis, self.block_size)
        e = as_codes(exponents, self.exp_bits)
        _check_ndim("exponents", e, v)
        e = np.moveaxis(e, axis, -1).astype(np.int64) - self.exp_bias
        if e.shape != vb.shape[:-1]:
            raise FormatError(f"exponents shape {e.shape} does not match {vb.shape[:-1]} blocks")
        return _unblock(np.ldexp(vb, (e - self.man_bits + 1)[..., None]), n, axis)

    def quantise(self, values, axis: int = -1, rng=None) -> np.ndarray:
        """Return ``decode(*encode(values))`` as float64."""
        return self.decode(*self.encode(values, axis, rng), axis=axis)
