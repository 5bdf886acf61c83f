"""Bit-exact NumPy emulation of hwgen's number formats (the golden model's spine)."""

from .errors import FormatError
from .float_format import FloatFormat
from .formats import FORMATS, float8_e4m3fn, float8_e5m2, get_format, int8, int32
from .int_format import IntFormat

__all__ = [
    "FORMATS",
    "FloatFormat",
    "FormatError",
    "IntFormat",
    "float8_e4m3fn",
    "float8_e5m2",
    "get_format",
    "int8",
    "int32",
]
