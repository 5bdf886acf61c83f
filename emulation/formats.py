"""Named number formats and the by-name registry."""

from .errors import FormatError
from .float_format import FloatFormat
from .int_format import IntFormat

__all__ = ["FORMATS", "float8_e4m3fn", "float8_e5m2", "get_format", "int8", "int32"]

int8 = IntFormat("int8", 8)
int32 = IntFormat("int32", 32)
float8_e4m3fn = FloatFormat(
    "float8_e4m3fn", exp_bits=4, man_bits=3, bias=7, specials="fn"
)
float8_e5m2 = FloatFormat(
    "float8_e5m2", exp_bits=5, man_bits=2, bias=15, specials="ieee"
)

FORMATS: dict[str, IntFormat | FloatFormat] = {
    f.name: f for f in (float8_e4m3fn, float8_e5m2, int32, int8)
}


def get_format(name: str) -> IntFormat | FloatFormat:
    """Look up a named format.

    Parameters
    ----------
    name : str
        A key of :data:`FORMATS`, e.g. ``"float8_e4m3fn"``.

    Returns
    -------
    IntFormat or FloatFormat

    Raises
    ------
    FormatError
        If ``name`` is not a known format; the message lists the known names.
    """
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise FormatError(
            f"unknown format {name!r}; allowed: {', '.join(sorted(FORMATS))}"
        ) from None
