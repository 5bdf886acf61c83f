"""Input coercion helpers shared by the format classes."""

import numpy as np

from .errors import FormatError

__all__: list[str] = []

# Kinds NumPy uses for bool, signed int, unsigned int and float dtypes.
_NUMERIC_KINDS = "biuf"


def as_numeric(values, what: str = "values") -> np.ndarray:
    """Return ``values`` as an ndarray of bool, int or float dtype, else raise FormatError."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{what} must be a numeric array-like; got {type(values).__name__}: {exc}") from exc
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise FormatError(f"{what} must have a bool, integer or float dtype; got dtype {arr.dtype}")
    return arr


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
