"""Two's complement and unsigned integer formats (``int8``, ``int32``, accumulators)."""

from dataclasses import dataclass

import numpy as np

from ._arrays import as_codes, as_numeric, code_dtype
from .errors import FormatError
from .rounding import check_rounding, make_rng, round_integer, round_split

__all__ = ["BipolarFormat", "IntFormat"]

_OVERFLOW_POLICIES = ("wrap", "saturate")
_TWO64 = 2.0**64
_TWO63 = 2.0**63


def _check_float_width(arr: np.ndarray) -> None:
    if arr.dtype.itemsize > 8:  # rounding it to float64 first would round twice
        raise FormatError(f"values dtype {arr.dtype} not supported; allowed: float16, float32, float64, int")


@dataclass(frozen=True)
class IntFormat:
    """A fixed-width integer format.

    Codes are the format's bit pattern read as an unsigned integer (two's
    complement for signed formats), so ``int8`` encodes -1 as ``0xff``.

    Parameters
    ----------
    name : str
        Format name, e.g. ``"int8"``.
    bits : int
        Width in bits: 1..64 when signed, 1..63 when unsigned (decoded values
        are int64).
    signed : bool, default True
        Two's complement when True, unsigned otherwise.
    overflow : {"wrap", "saturate"}, default "wrap"
        Policy for values outside ``[min_value, max_value]``: ``"wrap"`` reduces
        them modulo ``2**bits`` (what a plain adder does), ``"saturate"`` clamps
        them to the nearest end of the range.
    symmetric : bool, default False
        For signed formats: drop the most negative code so the range is
        ``[-max_value, max_value]`` (``ternary`` is 2-bit symmetric: {-1, 0, 1});
        needs ``overflow="saturate"``, and decoding the unused code raises.
    rounding : str, default "nearest_even"
        How float inputs are rounded to integers, one of
        :data:`~hwgen.emulation.rounding.ROUNDING_MODES`.

    Raises
    ------
    FormatError
        If a field is invalid; the message names the field, the value and what
        is allowed.

    Notes
    -----
    Rounding: float inputs are rounded by ``rounding`` (by default to the
    nearest integer, ties to even: ``2.5 -> 2``, ``-2.5 -> -2``, ``3.5 -> 4``)
    before the overflow policy is applied, exactly for every float64 (a value
    one ulp inside a half-way point never rounds as the tie). Integer inputs
    are exact at any width, Python ints beyond int64 included: ``int32``
    wraps ``2**70 + 5`` to 5. NaN and ±Inf have no integer code and raise
    :class:`FormatError`.
    """

    name: str
    bits: int
    signed: bool = True
    overflow: str = "wrap"
    symmetric: bool = False
    rounding: str = "nearest_even"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise FormatError(f"name must be a non-empty str; got {self.name!r}")
        if not isinstance(self.signed, bool):
            raise FormatError(f"signed must be a bool; got {self.signed!r}")
        top = 64 if self.signed else 63
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 1 <= self.bits <= top:
            kind = "signed" if self.signed else "unsigned"
            raise FormatError(f"bits must be an int in 1..{top} for a {kind} format; got {self.bits!r}")
        if self.overflow not in _OVERFLOW_POLICIES:
            raise FormatError(f"overflow must be one of {', '.join(_OVERFLOW_POLICIES)}; got {self.overflow!r}")
        if not isinstance(self.symmetric, bool):
            raise FormatError(f"symmetric must be a bool; got {self.symmetric!r}")
        if self.symmetric and (not self.signed or self.bits < 2 or self.overflow != "saturate"):
            raise FormatError(
                f"symmetric=True needs signed=True, bits >= 2 and overflow='saturate'; got "
                f"signed={self.signed}, bits={self.bits}, overflow={self.overflow!r}"
            )
        check_rounding(self.rounding)

    @property
    def width(self) -> int:
        """Width of a code in bits (equal to ``bits``)."""
        return self.bits

    @property
    def min_value(self) -> int:
        """Smallest representable value."""
        if self.symmetric:
            return -self.max_value
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_value(self) -> int:
        """Largest representable value."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def code_dtype(self) -> np.dtype:
        """Smallest unsigned NumPy dtype holding a code (uint8/16/32/64)."""
        return code_dtype(self.bits)

    def fit(self, values, rng=None) -> np.ndarray:
        """Reduce integer or float values into the format's range.

        Parameters
        ----------
        values : array_like of int or float
            Values to reduce, e.g. int64 results of accumulator arithmetic.
            Integers are exact inputs at any width (int64, uint64, Python ints
            beyond both: never converted to float64); floats are first rounded
            by ``rounding``, exactly (every half-way decision is made on the
            exact fraction).
        rng : None, int or numpy.random.Generator, optional
            Random source for ``rounding="stochastic"``.

        Returns
        -------
        numpy.ndarray of int64
            Values in ``[min_value, max_value]``, wrapped or saturated per
            ``overflow``.

        Raises
        ------
        FormatError
            If ``values`` is not numeric, contains NaN or ±Inf, is a float wider
            than float64, or is an object array holding anything but ints.
        """
        arr = as_numeric(values, big_ints=True)
        if arr.dtype == object:
            return self._fit_python_ints(arr)
        if arr.dtype.kind == "f":
            return self._fit_float(arr, rng)
        if self.overflow == "saturate":
            return self._saturate_int(arr)
        return self._wrap_int64(arr.astype(np.int64, copy=False) if arr.dtype != np.uint64 else arr.view(np.int64))

    def encode(self, values, rng=None) -> np.ndarray:
        """Encode values as codes (bit patterns read as unsigned integers).

        Parameters
        ----------
        values : array_like of int or float
            Any integer dtype, or floats which are rounded by ``rounding`` first.
        rng : None, int or numpy.random.Generator, optional
            Random source for ``rounding="stochastic"``.

        Returns
        -------
        numpy.ndarray of ``code_dtype``
            Codes with the shape of ``values``.

        Raises
        ------
        FormatError
            If ``values`` is not numeric or contains NaN or ±Inf.
        """
        fitted = self.fit(values, rng)
        mask = np.uint64((1 << self.bits) - 1)
        return (fitted.view(np.uint64) & mask).astype(self.code_dtype)

    def decode(self, codes) -> np.ndarray:
        """Decode codes into int64 values.

        Parameters
        ----------
        codes : array_like of int
            Codes in ``[0, 2**bits)``.

        Returns
        -------
        numpy.ndarray of int64

        Raises
        ------
        FormatError
            If ``codes`` is not an integer array or holds a code out of range.
        """
        arr = as_codes(codes, self.bits)
        if self.symmetric and arr.size and (arr == (1 << (self.bits - 1))).any():
            raise FormatError(
                f"code {1 << (self.bits - 1)} is unused in symmetric format {self.name}; "
                f"allowed: codes of -{self.max_value}..{self.max_value}"
            )
        if arr.dtype == np.uint64:
            arr = arr.view(np.int64)
        out = arr.astype(np.int64)
        if self.signed and self.bits < 64:
            half = np.int64(1 << (self.bits - 1))
            out ^= half
            out -= half
        return out

    def quantise(self, values, rng=None) -> np.ndarray:
        """Return ``decode(encode(values, rng))``: the rounded representable values as int64."""
        return self.fit(values, rng)

    def _wrap_int64(self, v: np.ndarray) -> np.ndarray:
        # v is congruent (mod 2**64) to the true value; 2**bits divides 2**64 so reduce from there.
        if self.bits == 64:
            return v.astype(np.int64, copy=True)
        out = v & np.int64((1 << self.bits) - 1)
        if self.signed:
            half = np.int64(1 << (self.bits - 1))
            out ^= half
            out -= half
        return out

    def _saturate_int(self, arr: np.ndarray) -> np.ndarray:
        if arr.dtype == np.uint64:
            # uint64 values above 2**63 do not fit int64: clamp before converting.
            return np.minimum(arr, np.uint64(self.max_value)).astype(np.int64)
        return np.clip(arr.astype(np.int64, copy=False), self.min_value, self.max_value)

    def _fit_python_ints(self, arr: np.ndarray) -> np.ndarray:
        """Python ints of any size (NumPy dtype object), reduced exactly."""
        if not all(isinstance(v, (int, np.integer)) for v in arr.flat):
            raise FormatError(f"values of dtype object must all be ints for {self.name}; got {arr.tolist()!r:.80}")
        lo, hi, span = self.min_value, self.max_value, 1 << self.bits
        if self.overflow == "saturate":
            out = [min(hi, max(lo, int(v))) for v in arr.flat]
        else:
            out = [(int(v) - lo) % span + lo for v in arr.flat]
        return np.array(out, np.int64).reshape(arr.shape)

    def _fit_float(self, arr: np.ndarray, rng) -> np.ndarray:
        _check_float_width(arr)
        gen = make_rng(rng) if self.rounding == "stochastic" else None
        v = round_integer(arr.astype(np.float64, copy=False), self.rounding, gen)
        if not np.isfinite(v).all():
            raise FormatError(f"NaN or Inf cannot be encoded in integer format {self.name}; allowed: finite values")
        if self.overflow == "saturate":
            # Powers of two are exact in float64, unlike max_value for 64-bit formats.
            hi = v >= float(self.max_value + 1)
            lo = v < float(self.min_value)
            safe = np.where(hi | lo, 0.0, v).astype(np.int64)
            safe[hi] = self.max_value
            safe[lo] = self.min_value
            return safe
        # fmod is exact; the shifts by 2**64 are exact because the operands are within a factor of two.
        r = np.fmod(v, _TWO64)
        r = np.where(r >= _TWO63, r - _TWO64, r)
        r = np.where(r < -_TWO63, r + _TWO64, r)
        return self._wrap_int64(r.astype(np.int64))


@dataclass(frozen=True)
class BipolarFormat:
    """Bipolar integers: every bit weighs ±1, so code ``u`` means ``2*u - (2**bits - 1)``.

    ``bits=1`` is the binarised ``{-1, +1}``; ``bits=2`` gives ``{-3, -1, 1, 3}``.

    Parameters
    ----------
    name : str
        Format name, e.g. ``"bipolar1"``.
    bits : int
        Width in bits, 1..32.
    rounding : str, default "nearest_even"
        Rounding of the exact ``(x + 2**bits - 1) / 2`` to a code, then
        saturation to ``0 .. 2**bits - 1``. The values are the odd integers
        ``-(2**bits - 1) .. 2**bits - 1``, so the half-way points between codes
        are the even integers; under the default, a tie goes to the even code
        (0 and -0 in ``bipolar1`` become -1; ``"nearest_away"`` maps them to
        +1), and anything off a tie by any amount, however tiny, goes to the
        nearer value (``1e-20`` is +1 in ``bipolar1``; ``2.0000000000000004``
        is 3 in 2-bit bipolar).

    Raises
    ------
    FormatError
        If a field is invalid.

    Notes
    -----
    Encoding decides exactly: integers (any width, Python ints included) are
    clamped as integers before rounding, and floats are split into integer and
    fraction parts so that ``x + 2**bits - 1`` is never rounded in float64.
    NaN and ±Inf raise :class:`FormatError`.
    """

    name: str
    bits: int
    rounding: str = "nearest_even"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise FormatError(f"name must be a non-empty str; got {self.name!r}")
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 1 <= self.bits <= 32:
            raise FormatError(f"bits must be an int in 1..32; got {self.bits!r}")
        check_rounding(self.rounding)

    @property
    def width(self) -> int:
        """Width of a code in bits."""
        return self.bits

    @property
    def code_dtype(self) -> np.dtype:
        """Smallest unsigned NumPy dtype holding a code."""
        return code_dtype(self.bits)

    @property
    def max_value(self) -> int:
        """Largest value, ``2**bits - 1``."""
        return (1 << self.bits) - 1

    @property
    def min_value(self) -> int:
        """Smallest value, ``-(2**bits - 1)``."""
        return -self.max_value

    def encode(self, values, rng=None) -> np.ndarray:
        """Encode values as codes (rounded once by ``rounding``, saturating); NaN/Inf raise FormatError."""
        x = self._clamped(as_numeric(values, big_ints=True))
        gen = make_rng(rng) if self.rounding == "stochastic" else None
        # x + M == g + rem with g = floor(x + M) and rem in [0, 1); then (x + M) / 2 ==
        # floor(g / 2) + (g mod 2 + rem) / 2, with rem = f or 1 + f for f = x - trunc(x).
        t = np.trunc(x)
        f = x - t  # exact
        g = t + self.max_value - (f < 0)  # integral and small after the clamp: exact
        c = (np.mod(g, 2.0) + (f < 0)) / 2
        u = round_split(np.floor(g / 2), c, f, 2.0, self.rounding, gen)
        return np.clip(u, 0, self.max_value).astype(self.code_dtype)

    def _clamped(self, arr: np.ndarray) -> np.ndarray:
        """float64 values clamped to ``±(max_value + 2)`` (which keeps every code), exactly; NaN/Inf raise."""
        edge = self.max_value + 2
        if arr.dtype == object:  # Python ints of any size and floats: clamp the ints as ints
            flat = [min(edge, max(-edge, int(v))) if isinstance(v, (int, np.integer)) else v for v in arr.flat]
            arr = np.array(flat, np.float64).reshape(arr.shape)
        if arr.dtype.kind == "u":
            return np.minimum(arr, edge).astype(np.float64)
        if arr.dtype.kind in "bi":
            return np.clip(arr.astype(np.int64), -edge, edge).astype(np.float64)
        _check_float_width(arr)
        x = arr.astype(np.float64)
        if not np.isfinite(x).all():
            raise FormatError(f"NaN or Inf cannot be encoded in {self.name}; allowed: finite values")
        return np.clip(x, -edge, edge)

    def decode(self, codes) -> np.ndarray:
        """Decode codes into int64 values ``2*u - (2**bits - 1)``."""
        return 2 * as_codes(codes, self.bits).astype(np.int64) - self.max_value

    def quantise(self, values, rng=None) -> np.ndarray:
        """Return ``decode(encode(values, rng))``."""
        return self.decode(self.encode(values, rng))
