"""Named number formats (ml_dtypes names) and the by-name registry."""

from .errors import FormatError
from .float_format import FloatFormat
from .int_format import BipolarFormat, IntFormat

__all__ = [
    "FORMATS",
    "bfloat16",
    "bipolar1",
    "float4_e2m1fn",
    "float6_e2m3fn",
    "float6_e3m2fn",
    "float8_e3m4",
    "float8_e4m3",
    "float8_e4m3b11fnuz",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float16",
    "float32",
    "get_format",
    "int2",
    "int4",
    "int8",
    "int16",
    "int32",
    "ternary",
    "uint4",
    "uint8",
]

int2 = IntFormat("int2", 2)
int4 = IntFormat("int4", 4)
int8 = IntFormat("int8", 8)
int16 = IntFormat("int16", 16)
int32 = IntFormat("int32", 32)
uint4 = IntFormat("uint4", 4, signed=False)
uint8 = IntFormat("uint8", 8, signed=False)
#: Ternary weights {-1, 0, +1}: symmetric 2-bit two's complement (code 0b10 unused).
ternary = IntFormat("ternary", 2, symmetric=True, overflow="saturate")
#: One bit per weight, 0 -> -1 and 1 -> +1 (binarised networks).
bipolar1 = BipolarFormat("bipolar1", 1)

float8_e4m3fn = FloatFormat("float8_e4m3fn", exp_bits=4, man_bits=3, bias=7, specials="fn")
float8_e5m2 = FloatFormat("float8_e5m2", exp_bits=5, man_bits=2, bias=15, specials="ieee")
float8_e4m3 = FloatFormat("float8_e4m3", 4, 3, 7, "ieee")
float8_e4m3fnuz = FloatFormat("float8_e4m3fnuz", 4, 3, 8, "fnuz")
float8_e5m2fnuz = FloatFormat("float8_e5m2fnuz", 5, 2, 16, "fnuz")
float8_e4m3b11fnuz = FloatFormat("float8_e4m3b11fnuz", 4, 3, 11, "fnuz")
float8_e3m4 = FloatFormat("float8_e3m4", 3, 4, 3, "ieee")
float6_e2m3fn = FloatFormat("float6_e2m3fn", 2, 3, 1, "none")
float6_e3m2fn = FloatFormat("float6_e3m2fn", 3, 2, 3, "none")
float4_e2m1fn = FloatFormat("float4_e2m1fn", 2, 1, 1, "none")
float8_e8m0fnu = FloatFormat("float8_e8m0fnu", 8, 0, 127, "fnu")
bfloat16 = FloatFormat("bfloat16", 8, 7, 127, "ieee")
float16 = FloatFormat("float16", 5, 10, 15, "ieee")
float32 = FloatFormat("float32", 8, 23, 127, "ieee")

FORMATS: dict[str, IntFormat | FloatFormat | BipolarFormat] = {
    f.name: f
    for f in (
        float8_e4m3fn,
        float8_e5m2,
        float8_e4m3,
        float8_e4m3fnuz,
        float8_e5m2fnuz,
        float8_e4m3b11fnuz,
        float8_e3m4,
        float6_e2m3fn,
        float6_e3m2fn,
        float4_e2m1fn,
        float8_e8m0fnu,
        bfloat16,
        float16,
        float32,
        int2,
        int4,
        int8,
        int16,
        int32,
        uint4,
        uint8,
        ternary,
        bipolar1,
    )
}


def get_format(name: str) -> IntFormat | FloatFormat | BipolarFormat:
    """Look up a named format.

    Parameters
    ----------
    name : str
        A key of :data:`FORMATS`, e.g. ``"float8_e4m3fn"``.

    Returns
    -------
    IntFormat, FloatFormat or BipolarFormat

    Raises
    ------
    FormatError
        If ``name`` is not a known format; the message lists the known names.
    """
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise FormatError(f"unknown format {name!r}; allowed: {', '.join(sorted(FORMATS))}") from None
