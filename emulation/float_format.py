"""Parametric low-precision floating-point formats (fp8, fp6, fp4, bf16, fp16, ...)."""

from dataclasses import dataclass

import numpy as np

from . import _float_codec, _float_round, _scale_codec
from ._arrays import as_codes, as_numeric, as_real, code_dtype, float_dtype
from .errors import FormatError
from .rounding import check_rounding, make_rng

__all__ = ["FloatFormat"]

_SPECIALS = ("ieee", "fn", "fnuz", "none", "fnu")
_OVERFLOW_POLICIES = ("default", "saturate", "nan", "inf")


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FormatError(f"{name} must be an int in {lo}..{hi}; got {value!r}")


def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FormatError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True)
class FloatFormat:
    """A sign-exponent-mantissa floating-point format.

    Value of a normal code: ``(-1)**s * 2**(e - bias) * (1 + m / 2**man_bits)``;
    exponent field 0 holds zero and (if enabled) subnormals
    ``(-1)**s * 2**(1 - bias) * m / 2**man_bits``.

    Parameters
    ----------
    name : str
        Format name, ml_dtypes-style (``"float8_e4m3fn"``).
    exp_bits : int
        Exponent field width, 1..8.
    man_bits : int
        Mantissa field width excluding the implicit bit, 0..23.
    bias : int
        Exponent bias. Every value of the format must be a float32 normal or
        subnormal, so that decoding to float32 is exact.
    specials : {"ieee", "fn", "fnuz", "none", "fnu"}
        Special encodings. ``"ieee"``: the all-ones exponent holds ±Inf
        (mantissa 0) and NaNs. ``"fn"``: no Inf; only ``S.1...1.1...1`` is NaN.
        ``"fnuz"``: no Inf and no -0; the code ``1000...0`` is the only NaN.
        ``"none"``: every code is a finite number. ``"fnu"``: unsigned
        exponent-only scale (``float8_e8m0fnu``): no sign bit, no zero, no
        subnormals, code ``c`` is ``2**(c - bias)`` and all-ones is NaN; needs
        ``man_bits=0`` and forces ``subnormals=False``.
    subnormals : bool, default True
        When False, magnitudes below ``min_normal`` encode as signed zero and
        codes with a zero exponent field decode as signed zero (flush to zero).
    overflow : {"default", "saturate", "nan", "inf"}, default "default"
        What a value whose rounded magnitude exceeds ``max_finite`` becomes.
        ``"default"`` matches ml_dtypes: Inf for ``"ieee"``, NaN for ``"fn"``
        and ``"fnuz"``, saturate for ``"none"``. ``"saturate"`` gives
        ±``max_finite`` for overflowing values *and* for ±Inf (the OCP/NVIDIA
        "satfinite" convention). ``"nan"`` needs a NaN code, ``"inf"`` an Inf
        code.
    rounding : str, default "nearest_even"
        One of :data:`~hwgen.emulation.rounding.ROUNDING_MODES`, applied once
        to the exact input value. Directed modes follow IEEE 754 on overflow:
        a magnitude rounded toward zero never overflows to Inf/NaN, it stops at
        ``max_finite``. ``"stochastic"`` draws from the ``rng`` argument of
        :meth:`encode`.

    Raises
    ------
    FormatError
        If a field, or a combination of fields, is invalid; the message names
        the field, the value and what is allowed.

    Notes
    -----
    Encoding rounds the exact input value once, so float64 inputs are not
    double-rounded through float32 as in ml_dtypes (``-431.99999999999994``
    encodes in ``float8_e4m3fn`` as -416, not -448), nor integers through
    float64 (int64, uint64 and Python ints of any size are exact inputs). An overflow is decided on
    the rounded magnitude: in ``float8_e4m3fn``, 464 ties down to 448 while
    anything above becomes NaN. NaN inputs encode as the format's NaN with the
    input's sign (quiet NaN ``S.11..1.10..0`` for ``"ieee"``), and raise
    :class:`FormatError` for formats without NaN. -0 is kept where the format
    has it (not in ``"fnuz"``, where it encodes as +0).

    Documented differences from ml_dtypes 0.6, where hwgen follows the exact
    definition (each is a test in ``tests/emulation``):

    - float64 inputs are rounded once (above); ml_dtypes rounds via float32.
    - NaN into ``float4_e2m1fn``/``float6_*`` raises; ml_dtypes returns -0.
    - ``float8_e8m0fnu`` ties go to the even code (3 -> 2); ml_dtypes rounds
      them up (3 -> 4), which ``rounding="nearest_away"`` reproduces. ml_dtypes
      also sends every float32 in (2**-127, 2**-126) to 2**-126; hwgen rounds
      them to the nearer power of two.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    specials: str
    subnormals: bool = True
    overflow: str = "default"
    rounding: str = "nearest_even"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise FormatError(f"name must be a non-empty str; got {self.name!r}")
        _check_int("exp_bits", self.exp_bits, 1, 8)
        _check_int("man_bits", self.man_bits, 0, 23)
        _check_int("bias", self.bias, -(1 << 10), 1 << 10)
        _check_choice("specials", self.specials, _SPECIALS)
        if not isinstance(self.subnormals, bool):
            raise FormatError(f"subnormals must be a bool; got {self.subnormals!r}")
        _check_choice("overflow", self.overflow, _OVERFLOW_POLICIES)
        check_rounding(self.rounding)
        if self.specials == "fnu":
            if self.man_bits != 0:
                raise FormatError(f"specials 'fnu' needs man_bits=0; got man_bits={self.man_bits}")
            object.__setattr__(self, "subnormals", False)
        self._check_combination()

    def _check_combination(self) -> None:
        if self.specials == "ieee" and (self.man_bits < 1 or self.exp_bits < 2):
            raise FormatError(
                f"specials 'ieee' needs man_bits >= 1 and exp_bits >= 2 to hold Inf and NaN; "
                f"got exp_bits={self.exp_bits}, man_bits={self.man_bits}"
            )
        if self.overflow == "inf" and self.inf_code is None:
            raise FormatError(
                f"overflow 'inf' needs a format with Inf (specials 'ieee'); got specials {self.specials!r}"
            )
        if self.overflow == "nan" and self.nan_code is None:
            raise FormatError(f"overflow 'nan' needs a format with NaN; got specials {self.specials!r}")
        lo_bias = self._max_exponent_field() - 127
        hi_bias = 127
        if not lo_bias <= self.bias <= hi_bias:
            raise FormatError(
                f"bias {self.bias} puts values outside float32 range for exp_bits={self.exp_bits}, "
                f"man_bits={self.man_bits}, specials={self.specials!r}; allowed: {lo_bias}..{hi_bias}"
            )

    def _max_exponent_field(self) -> int:
        return self.max_code >> self.man_bits

    @property
    def signed(self) -> bool:
        """Whether codes have a sign bit (all specials but ``"fnu"``)."""
        return self.specials != "fnu"

    @property
    def width(self) -> int:
        """Width of a code in bits: ``1 + exp_bits + man_bits`` (no sign bit for ``"fnu"``)."""
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def code_dtype(self) -> np.dtype:
        """Smallest unsigned NumPy dtype holding a code."""
        return code_dtype(self.width)

    @property
    def sign_mask(self) -> int:
        """The sign bit of a code (for ``"fnu"``, one past the top bit)."""
        return 1 << (self.exp_bits + self.man_bits)

    @property
    def max_code(self) -> int:
        """Positive code of ``max_finite``."""
        all_ones = self.sign_mask - 1
        if self.specials == "ieee":
            return all_ones - (1 << self.man_bits)
        if self.specials in ("fn", "fnu"):
            return all_ones - 1
        return all_ones

    @property
    def nan_code(self) -> int | None:
        """Positive NaN code produced by encode, or None if the format has no NaN."""
        if self.specials == "ieee":
            return self.sign_mask - (1 << (self.man_bits - 1))
        if self.specials in ("fn", "fnu"):
            return self.sign_mask - 1
        if self.specials == "fnuz":
            return self.sign_mask
        return None

    @property
    def inf_code(self) -> int | None:
        """Code of +Inf, or None if the format has no Inf."""
        if self.specials == "ieee":
            return self.sign_mask - (1 << self.man_bits)
        return None

    @property
    def max_finite(self) -> float:
        """Largest finite value."""
        return float(self._value_of(self.max_code))

    @property
    def min_normal(self) -> float:
        """Smallest positive normal value, ``2**(1 - bias)`` (``2**-bias`` for ``"fnu"``)."""
        return 2.0 ** (int(self.signed) - self.bias)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value: ``2**(1 - bias - man_bits)``, or ``min_normal`` without subnormals."""
        return 2.0 ** (1 - self.bias - self.man_bits) if self.subnormals else self.min_normal

    @property
    def resolved_overflow(self) -> str:
        """The overflow policy with ``"default"`` replaced by the ml_dtypes behaviour."""
        if self.overflow != "default":
            return self.overflow
        return {"ieee": "inf", "fn": "nan", "fnuz": "nan", "none": "saturate", "fnu": "nan"}[self.specials]

    def _value_of(self, code: int) -> float:
        if not self.signed:
            return 2.0 ** (code - self.bias)
        e, m = code >> self.man_bits, code & ((1 << self.man_bits) - 1)
        if e == 0:
            return float(np.ldexp(float(m), 1 - self.bias - self.man_bits))
        return float(np.ldexp(float(m + (1 << self.man_bits)), e - self.bias - self.man_bits))

    def encode(self, values, rng=None) -> np.ndarray:
        """Encode values as codes, rounding once with ``rounding``.

        Parameters
        ----------
        values : array_like of float or int
            float32 or float64 arrays, Python scalars or lists; float16 is
            widened to float32. Integers of any width (int64, uint64, Python
            ints beyond both) are rounded once from their exact value, never
            through float64 first: ``float32.encode(2**60 + 2**36 + 1)`` is
            ``0x5D800001``. Their overflow follows the format's policy as for
            floats. (Stochastic rounding of an integer with more than 53
            significant bits draws its probability from the top 53 bits and a
            sticky bit.)
        rng : None, int or numpy.random.Generator, optional
            Random source of ``rounding="stochastic"`` (ignored otherwise); an
            int seed makes the result reproducible. See
            :func:`~hwgen.emulation.rounding.make_rng`.

        Returns
        -------
        numpy.ndarray of ``code_dtype``
            Codes with the shape of ``values``.

        Raises
        ------
        FormatError
            If ``values`` is not numeric (an object array may hold only ints
            and floats), is wider than float64, or holds NaN while the format
            has no NaN.
        """
        arr = as_real(values)
        if arr.dtype.itemsize > 8:
            raise FormatError(f"values dtype {arr.dtype} not supported; allowed: float16, float32, float64, int")
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        if self.nan_code is None and np.isnan(arr).any():
            raise FormatError(f"NaN cannot be encoded in {self.name} (specials 'none'); allowed: non-NaN values")
        # The float32 kernel needs spare mantissa bits below the format's; widen otherwise (exact).
        if arr.dtype == np.float32 and self.man_bits >= 23:
            arr = arr.astype(np.float64)
        if self.specials == "fnu" or self.rounding != "nearest_even":
            gen = make_rng(rng) if self.rounding == "stochastic" else None
            codec = _scale_codec if self.specials == "fnu" else _float_round
            return codec.encode(self, arr, gen)
        return _float_codec.encode(self, arr)

    def decode(self, codes, dtype=np.float32) -> np.ndarray:
        """Decode codes into exact float values.

        Parameters
        ----------
        codes : array_like of int
            Codes in ``[0, 2**width)``.
        dtype : {numpy.float32, numpy.float64}, default numpy.float32
            Output dtype; every value of a valid format is exact in both.

        Returns
        -------
        numpy.ndarray of ``dtype``
            NaN codes decode as the quiet NaN with the code's sign bit.

        Raises
        ------
        FormatError
            If ``codes`` is not an integer array, holds a code out of range, or
            ``dtype`` is not float32/float64.
        """
        return _float_codec.decode(self, as_codes(codes, self.width), float_dtype(dtype))

    def quantise(self, values, dtype=None, rng=None) -> np.ndarray:
        """Return ``decode(encode(values, rng))``, by default in the input's float dtype (float64 for non-floats)."""
        arr = as_numeric(values, big_ints=True)
        if dtype is None:
            dtype = np.float32 if arr.dtype in (np.float16, np.float32) else np.float64
        return self.decode(self.encode(arr, rng), dtype=dtype)
