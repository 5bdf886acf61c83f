"""Input coercion helpers shared by the format classes."""

import numpy as np

from ._round_odd import int_to_odd, pyint_to_odd
from .errors import FormatError

__all__: list[str] = []

# Kinds NumPy uses for bool, signed int, unsigned int and float dtypes.
_NUMERIC_KINDS = "biuf"
_NONE_BAD = object()
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_numeric(values, what: str = "values", big_ints: bool = False) -> np.ndarray:
    """Return ``values`` as an ndarray of bool, int or float dtype, else raise FormatError.

    With ``big_ints``, Python ints beyond int64/uint64 (which NumPy holds as dtype
    object) are allowed too: the result is then an object array of Python ints, or
    of ints and floats.
    """
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{what} must be a numeric array-like; got {type(values).__name__}: {exc}") from exc
    if arr.dtype.kind in _NUMERIC_KINDS:
        return arr
    if big_ints and arr.dtype == object:
        bad = next((v for v in arr.flat if not isinstance(v, (int, float, np.integer, np.floating))), _NONE_BAD)
        if bad is _NONE_BAD:  # a sentinel, not None: None itself is a bad element
            return arr
        raise FormatError(f"{what} of dtype object must hold only ints and floats; got {bad!r} ({type(bad).__name__})")
    raise FormatError(f"{what} must have a bool, integer or float dtype; got dtype {arr.dtype}")


def as_real(values, what: str = "values") -> np.ndarray:
    """``values`` as a float array for rounding: floats as they are, integers exactly.

    Integers of any size (int64, uint64, Python ints) become float64 rounded to odd,
    which one more rounding into any format of <= 51 significant bits turns into the
    correctly rounded integer (beyond float64 they become ±DBL_MAX, which overflows
    every format). Raises FormatError for non-numeric input and for floats wider
    than float64.
    """
    arr = as_numeric(values, what, big_ints=True)
    if arr.dtype.kind == "f":
        if arr.dtype.itemsize > 8:  # rounding it to float64 first would round twice
            raise FormatError(f"{what} dtype {arr.dtype} not supported; allowed: float16, float32, float64, int")
        return arr
    if arr.dtype == object:
        flat = [pyint_to_odd(int(v)) if isinstance(v, (int, np.integer)) else float(v) for v in arr.flat]
        return np.array(flat, np.float64).reshape(arr.shape)
    return int_to_odd(arr)


def as_codes(codes, width: int) -> np.ndarray:
    """Return ``codes`` as an integer ndarray whose values all lie in ``[0, 2**width)``."""
    arr = as_numeric(codes, "codes")
    if arr.dtype.kind not in "iu":
        raise FormatError(f"codes must have an integer dtype; got dtype {arr.dtype}")
    # A uint8 array of an 8-bit format cannot hold a bad code, so skip the two extra passes.
    if arr.size and not (arr.dtype.kind == "u" and arr.dtype.itemsize * 8 <= width):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= 1 << width:
            bad = lo if lo < 0 else hi
            raise FormatError(f"code {bad} out of range for a {width}-bit format; allowed: 0..{(1 << width) - 1}")
    return arr


def code_dtype(width: int) -> np.dtype:
    """Smallest unsigned NumPy dtype holding ``width`` bits."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if width <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise FormatError(f"width {width} too large; allowed: 1..64")


def float_dtype(dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype if it is float32 or float64, else raise FormatError."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise FormatError(f"dtype must be float32 or float64; got {dtype!r}") from exc
    if dt not in _FLOAT_DTYPES:
        raise FormatError(f"dtype must be float32 or float64; got {dt}")
    return dt


def check_axis(axis, ndim: int) -> int:
    """``axis`` as an int in ``-ndim..ndim-1``, else raise FormatError (bools are refused)."""
    if ndim == 0:
        raise FormatError(f"axis {axis!r} needs values of at least one dimension; got 0-d values")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise FormatError(f"axis must be an int in {-ndim}..{ndim - 1} for {ndim}-D values; got {axis!r}")
    return int(axis)
