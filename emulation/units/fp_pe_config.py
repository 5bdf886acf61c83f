"""Typed config of the floating-point dot-product PEs (FP MAC and L-Mul): formats, kind and L-Mul policies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hwgen.emulation.errors import ConfigError, FormatError
from hwgen.emulation.formats import FORMATS
from hwgen.emulation.fp_mac_model import check_acc_format, check_in_format

__all__ = ["ACC_FORMATS", "IN_FORMATS", "LATENCY", "PE_KINDS", "SUPPORTED_POLICIES", "FpPEConfig"]

#: Cycles from the handshake of a ``last`` input beat to ``o_acc.valid`` (with ``o_acc.ready`` high).
LATENCY = 2
#: L-Mul policies the hardware implements (every other :class:`~hwgen.emulation.lmul.LMul` policy is emulation-only).
SUPPORTED_POLICIES = {
    "definition": ("integer_add",),
    "zero": ("exact", "raw"),
    "subnormal": ("flush", "raw"),
    "overflow": ("format", "saturate", "inf"),
    "underflow": ("flush", "keep"),
    "nan": ("propagate",),
}
#: ``"fp_mac"``: exact float products (``FpMacPE``); ``"lmul"``: L-Mul products (``LMulPE``).
PE_KINDS = ("fp_mac", "lmul")


def _names(check) -> tuple[str, ...]:
    def passes(fmt) -> bool:
        try:
            check(fmt)
        except FormatError:
            return False
        return True

    return tuple(name for name, fmt in FORMATS.items() if passes(fmt))


#: Input formats the PEs implement (``check_in_format``; all of them signed, as L-Mul needs).
IN_FORMATS = _names(check_in_format)
#: Accumulator formats the PEs' adder implements (``check_acc_format``).
ACC_FORMATS = _names(check_acc_format)


@dataclass(frozen=True)
class FpPEConfig:
    """A floating-point dot-product PE.

    Parameters
    ----------
    kind : {"fp_mac", "lmul"}
    in_fmt : str
        Input format name, one of `IN_FORMATS` (``float8_e4m3fn``, ``bfloat16``, ...).
    acc_fmt : str
        Accumulator format name, one of `ACC_FORMATS` (``float32``, ...).
    policies : dict
        :class:`~hwgen.emulation.lmul.LMul` policies the hardware implements
        (``SUPPORTED_POLICIES``; ``kind="lmul"`` only).

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    kind: str
    in_fmt: str
    acc_fmt: str = "float32"
    policies: dict = field(default_factory=dict)

    def __post_init__(self):
        for name, allowed in (("kind", PE_KINDS), ("in_fmt", IN_FORMATS), ("acc_fmt", ACC_FORMATS)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise ConfigError(name, value, ", ".join(allowed))
        policies = ", ".join(f"{k} ({'/'.join(v)})" for k, v in SUPPORTED_POLICIES.items())
        if not isinstance(self.policies, dict):
            raise ConfigError("policies", self.policies, f"a table of L-Mul policies: {policies}")
        if self.policies and self.kind != "lmul":
            raise ConfigError("policies", self.policies, "none with kind 'fp_mac' (policies are L-Mul's: kind 'lmul')")
        for key, value in self.policies.items():
            if key not in SUPPORTED_POLICIES:
                raise ConfigError("policies", key, f"L-Mul policies: {policies}")
            if not isinstance(value, str) or value not in SUPPORTED_POLICIES[key]:
                raise ConfigError(f"policies.{key}", value, ", ".join(SUPPORTED_POLICIES[key]))

    @property
    def top_name(self) -> str:
        short = {"float8_e4m3fn": "e4m3", "float8_e5m2": "e5m2", "bfloat16": "bf16", "float32": "f32"}
        return f"{self.kind}_{short.get(self.in_fmt, self.in_fmt)}_{short.get(self.acc_fmt, self.acc_fmt)}"

    def to_dict(self) -> dict:
        """The fields as a JSON-serialisable dict."""
        return asdict(self)
