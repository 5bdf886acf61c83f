"""Build a floating-point PE (FP MAC or L-Mul) by name: Verilog files and a reproducible manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hwgen.dataflow.registry import architecture_of
from hwgen.emulation import ConfigError, LMul, get_format
from hwgen.emulation.errors import FormatError
from hwgen.emulation.formats import FORMATS
from hwgen.emulation.fp_mac_model import check_acc_format, check_in_format
from hwgen.pe.fp_dot import LATENCY, FpDotPE
from hwgen.pe.fp_mac import FpMacPE
from hwgen.pe.lmul_pe import SUPPORTED_POLICIES, LMulPE
from hwgen.rtl.component_build import BuildResult, build_component

__all__ = ["ACC_FORMATS", "IN_FORMATS", "PE_KINDS", "FpPEConfig", "build_fp_pe", "make_fp_pe"]

#: ``"fp_mac"``: :class:`~hwgen.pe.fp_mac.FpMacPE`; ``"lmul"``: :class:`~hwgen.pe.lmul_pe.LMulPE`.
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


def make_fp_pe(cfg: FpPEConfig) -> FpDotPE:
    """The Amaranth component ``cfg`` describes."""
    in_fmt, acc_fmt = get_format(cfg.in_fmt), get_format(cfg.acc_fmt)
    if cfg.kind == "lmul":
        return LMulPE(in_fmt, acc_fmt, **cfg.policies)
    return FpMacPE(in_fmt, acc_fmt)


def build_fp_pe(kind: str, in_fmt_name: str, acc_fmt_name: str, out_dir, **policies) -> BuildResult:
    """Write ``<top>.v``, ``<top>.vlt`` and ``manifest.json`` of one PE into ``out_dir``.

    Parameters
    ----------
    kind : {"fp_mac", "lmul"}
    in_fmt_name, acc_fmt_name : str
    out_dir : path
        Created if missing.
    **policies
        L-Mul policies for ``kind="lmul"``.

    Raises
    ------
    ConfigError
        On an invalid kind, format or policy (see `FpPEConfig`).
    """
    cfg = FpPEConfig(kind, in_fmt_name, acc_fmt_name, dict(policies))
    pe = make_fp_pe(cfg)
    golden = "fp_dot(mul='exact')" if cfg.kind == "fp_mac" else f"fp_dot(mul={LMul(pe.in_fmt, **cfg.policies)!r})"
    extra = {"latency": LATENCY, "golden_model": f"hwgen.emulation.fp_mac_model.{golden}"}
    arch = architecture_of(cfg).name
    return build_component(pe, cfg.top_name, asdict(cfg), out_dir, arch=arch, extra=extra)
