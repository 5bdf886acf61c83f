"""Per-layer quantisation policies parsed from text: ``"w=mxfp4,a=float8_e4m3fn,acc=float32,mul=lmul"``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

from hwgen.emulation import FORMATS, FloatFormat, IntFormat, LMul, MXFormat
from hwgen.emulation import block_formats as _bf
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import float32, int32

__all__ = [
    "KEYS",
    "MULS",
    "MX_FORMATS",
    "LayerQuant",
    "Policy",
    "lmul_format",
    "operand_format",
    "parse_policy",
]

#: Block-scaled formats by name (OCP MX v1.0, block 32, "floor" scale rule).
MX_FORMATS: dict[str, MXFormat] = {
    f.name: f for f in (_bf.mxfp8_e4m3, _bf.mxfp8_e5m2, _bf.mxfp6_e2m3, _bf.mxfp6_e3m2, _bf.mxfp4, _bf.mxint8)
}
#: Multipliers: exact products, L-Mul as hardware adds the fields (``integer_add``, a mantissa
#: carry bumps the exponent) or the paper's formula taken literally (``formula``).
MULS = {"exact": None, "lmul": "integer_add", "lmul-paper": "formula"}
_ORDERS = "sequential, pairwise, chunk:W (W a positive int)"
#: Policy keys and what each takes.
KEYS = {
    "w": "weight format",
    "a": "activation format (both operands of activation x activation products)",
    "acc": "accumulator format or 'exact'",
    "mul": "exact, lmul, lmul-paper",
    "lmul_m": "mantissa bits of the L-Mul operands, 1..5 (operands rounded to float16's exponent with m bits)",
    "order": _ORDERS,
    "nm": "N:M weight pruning along K, e.g. 2:4",
}


def _operand_names() -> str:
    return ", ".join([*sorted(FORMATS), *MX_FORMATS])


def operand_format(name: str):
    """The FloatFormat, IntFormat or MXFormat called ``name`` (ConfigError listing all names otherwise)."""
    if name in MX_FORMATS:
        return MX_FORMATS[name]
    fmt = FORMATS.get(name)
    if fmt is None or not isinstance(fmt, (FloatFormat, IntFormat)) or fmt.name in ("float8_e8m0fnu",):
        raise ConfigError("format", name, _operand_names())
    if isinstance(fmt, IntFormat) and not fmt.signed:
        raise ConfigError("format", name, "a signed format: " + _operand_names())
    return fmt


def lmul_format(man_bits: int) -> FloatFormat:
    """L-Mul operand format with ``man_bits`` mantissa bits and float16's exponent (5 bits, bias 15, IEEE).

    ``lmul_format(2)`` is ``float8_e5m2``; every width up to 11 bits, so the executor can
    tabulate all operand pairs.
    """
    return FloatFormat(f"float{6 + man_bits}_e5m{man_bits}", 5, man_bits, 15, "ieee")


def _element(fmt):
    return fmt.element if isinstance(fmt, MXFormat) else fmt


@dataclass(frozen=True)
class LayerQuant:
    """Resolved quantisation of one GEMM.

    Attributes
    ----------
    w, a : FloatFormat, IntFormat or MXFormat
        Weight and activation formats. Float operands are cast with saturation
        (``satfinite``) and round to nearest even; MX formats scale blocks of 32 along K
        (OCP ``floor`` rule). ``int8`` (any IntFormat): symmetric, weights per output
        channel, activations per tensor, ``scale = max|x| / max_value`` with the max
        taken from calibration (or the tensor itself when none is given).
    acc : FloatFormat, IntFormat or "exact"
        Accumulator. ``"exact"``: the exact sum rounded once to float64.
    mul : str
        ``"exact"``, ``"lmul"`` or ``"lmul-paper"``.
    lmul_m : int or None
        L-Mul operand mantissa bits: operands are rounded (nearest even) to
        :func:`lmul_format` (default: the wider operand mantissa, at most 5 bits). Its
        5-bit exponent holds every FP8/FP6/FP4 value exactly, and L-Mul's flush of
        results below the format's smallest normal (2**-14) rarely bites, unlike on
        float8_e4m3fn itself (2**-6), where it zeroes most products of small values.
    order : str
        ``"sequential"``, ``"pairwise"`` or ``"chunked"`` (with ``chunk``).
    chunk : int or None
    nm : tuple of int or None
        ``(n, m)``: keep the ``n`` largest of every ``m`` weights along K.
    """

    w: object = float32
    a: object = float32
    acc: object = float32
    mul: str = "exact"
    lmul_m: int | None = None
    order: str = "sequential"
    chunk: int | None = None
    nm: tuple[int, int] | None = None

    @property
    def lmul(self) -> LMul | None:
        """The :class:`~hwgen.emulation.LMul` of this layer, or None for exact products."""
        if self.mul == "exact":
            return None
        m = self.lmul_m
        if m is None:
            m = min(5, max(_element(self.w).man_bits, _element(self.a).man_bits))
        return LMul(lmul_format(m), MULS[self.mul])

    @property
    def is_int(self) -> bool:
        """Both operands are (scaled) integer formats."""
        return isinstance(self.w, IntFormat) and isinstance(self.a, IntFormat)

    def describe(self) -> str:
        """Canonical text of this quantisation (parses back to an equal LayerQuant)."""
        acc = self.acc if isinstance(self.acc, str) else self.acc.name
        parts = [f"w={self.w.name}", f"a={self.a.name}", f"acc={acc}", f"mul={self.mul}"]
        if self.lmul_m is not None:
            parts.append(f"lmul_m={self.lmul_m}")
        parts.append("order=" + (f"chunk:{self.chunk}" if self.order == "chunked" else self.order))
        if self.nm:
            parts.append(f"nm={self.nm[0]}:{self.nm[1]}")
        return ",".join(parts)


@dataclass(frozen=True)
class Policy:
    """A default :class:`LayerQuant` and per-layer overrides (first matching glob wins).

    Text form: ``"<items>; <glob>: <items>; ..."`` where ``<items>`` is
    ``key=value,...`` (keys: :data:`KEYS`) and ``<glob>`` matches node names with
    :mod:`fnmatch` (``"layer0.*"``, ``"*.ffn.*"``). An override starts from the default.
    """

    default: LayerQuant
    overrides: tuple[tuple[str, LayerQuant], ...] = ()
    text: str = ""

    def for_layer(self, name: str) -> LayerQuant:
        """The quantisation of the GEMM node ``name``."""
        for glob, q in self.overrides:
            if fnmatch.fnmatchcase(name, glob):
                return q
        return self.default

    def unmatched_globs(self, names) -> list[str]:
        """The override globs that match none of ``names`` (a typo there would silently change nothing)."""
        names = list(names)
        return [glob for glob, _ in self.overrides if not any(fnmatch.fnmatchcase(n, glob) for n in names)]

    def __str__(self) -> str:
        return self.text or self.default.describe()


def _parse_order(value: str) -> tuple[str, int | None]:
    if value in ("sequential", "pairwise"):
        return value, None
    if value.startswith("chunk:") and value[6:].isdigit() and int(value[6:]) > 0:
        return "chunked", int(value[6:])
    raise ConfigError("order", value, _ORDERS)


def _parse_nm(value: str) -> tuple[int, int]:
    n, _, m = value.partition(":")
    if not (n.isdigit() and m.isdigit()) or not 1 <= int(n) <= int(m):
        raise ConfigError("nm", value, "N:M with 1 <= N <= M, e.g. 2:4")
    return int(n), int(m)


def _parse_acc(value: str):
    if value == "exact":
        return "exact"
    fmt = FORMATS.get(value)
    if not isinstance(fmt, (FloatFormat, IntFormat)):
        raise ConfigError("acc", value, "exact, " + ", ".join(sorted(FORMATS)))
    return fmt


def _parse_lmul_m(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 5:
        raise ConfigError("lmul_m", value, "an int in 1..5")
    return int(value)


def _apply(base: LayerQuant, items: str, acc_given: bool) -> tuple[LayerQuant, bool]:
    fields: dict = {}
    given: set[str] = set()
    pairs = [s.strip() for s in items.split(",")]
    if not any(pairs):
        raise ConfigError("policy", items, "key=value items separated by commas, e.g. w=int8,a=int8")
    for item in pairs:
        if not item:
            raise ConfigError("policy", items.strip(), "key=value items separated by single commas (one is empty)")
        key, eq, value = (s.strip() for s in item.partition("="))
        if not eq or key not in KEYS:
            raise ConfigError("policy key", key if eq else item, ", ".join(f"{k} ({v})" for k, v in KEYS.items()))
        if key in given:
            raise ConfigError("policy key", key, f"each key once per item list (repeated in {items.strip()!r})")
        given.add(key)
        if key in ("w", "a"):
            fields[key] = operand_format(value)
        elif key == "acc":
            fields["acc"], acc_given = _parse_acc(value), True
        elif key == "mul":
            if value not in MULS:
                raise ConfigError("mul", value, ", ".join(MULS))
            fields["mul"] = value
        elif key == "lmul_m":
            fields["lmul_m"] = _parse_lmul_m(value)
        elif key == "order":
            fields["order"], fields["chunk"] = _parse_order(value)
        else:
            fields["nm"] = _parse_nm(value)
    q = replace(base, **fields)
    if not acc_given:  # integer operands accumulate in int32 unless told otherwise
        q = replace(q, acc=int32 if q.is_int else float32)
    return _validated(q), acc_given


def _validated(q: LayerQuant) -> LayerQuant:
    if isinstance(q.acc, IntFormat) and not q.is_int:
        raise ConfigError("acc", q.acc.name, "a float format or exact unless w and a are both integer formats")
    if q.mul != "exact":
        bad = [f.name for f in (q.w, q.a) if not isinstance(_element(f), FloatFormat)]
        if bad:
            raise ConfigError("mul", q.mul, f"exact with integer operands ({', '.join(bad)}); L-Mul needs floats")
        if isinstance(q.acc, IntFormat):
            raise ConfigError("acc", q.acc.name, "a float format or exact with L-Mul")
    return q


def parse_policy(text: str | None) -> Policy | None:
    """Parse a policy string; None or ``""`` or ``"float32"`` means the float32 reference (returns None).

    Parameters
    ----------
    text : str or None
        E.g. ``"w=mxfp4,a=float8_e4m3fn,acc=float32,mul=lmul"`` or
        ``"w=int8,a=int8; layer0.*: w=float8_e4m3fn,a=float8_e4m3fn"``.

    Returns
    -------
    Policy or None

    Raises
    ------
    ConfigError
        On an unknown key, format, multiplier, order or N:M spec, or an impossible
        combination (integer accumulator with float operands, L-Mul with integers);
        the message lists what is allowed.
    """
    if text is None or text.strip() in ("", "float32", "none"):
        return None
    if not isinstance(text, str):
        raise ConfigError("policy", text, "a string such as 'w=int8,a=int8'")
    head, *rest = text.split(";")
    default, acc_given = _apply(LayerQuant(), head, False)
    overrides = []
    for part in filter(None, (p.strip() for p in rest)):
        glob, colon, items = part.partition(":")
        if not colon or not glob.strip():
            raise ConfigError("policy override", part, "<glob>: key=value,... e.g. 'layer0.*: w=int8,a=int8'")
        overrides.append((glob.strip(), _apply(default, items, acc_given)[0]))
    return Policy(default, tuple(overrides), text.strip())
