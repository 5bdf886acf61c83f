"""Build a floating-point PE (FP MAC or L-Mul) by name: Verilog files and a reproducible manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hwgen.emulation import ConfigError, LMul, get_format
from hwgen.pe.fp_dot import LATENCY, FpDotPE
from hwgen.pe.fp_mac import FpMacPE
from hwgen.pe.lmul_pe import LMulPE
from hwgen.rtl.component_build import BuildResult, build_component

__all__ = ["PE_KINDS", "FpPEConfig", "build_fp_pe", "make_fp_pe"]

#: ``"fp_mac"``: :class:`~hwgen.pe.fp_mac.FpMacPE`; ``"lmul"``: :class:`~hwgen.pe.lmul_pe.LMulPE`.
PE_KINDS = ("fp_mac", "lmul")


@dataclass(frozen=True)
class FpPEConfig:
    """A floating-point dot-product PE.

    Parameters
    ----------
    kind : {"fp_mac", "lmul"}
    in_fmt, acc_fmt : str
        Format names (``get_format``), e.g. ``"float8_e4m3fn"`` and ``"float32"``.
    policies : dict
        :class:`~hwgen.emulation.lmul.LMul` policies (``kind="lmul"`` only).

    Raises
    ------
    ConfigError
        On an unknown kind or policies given for ``"fp_mac"``.
    """

    kind: str
    in_fmt: str
    acc_fmt: str = "float32"
    policies: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in PE_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(PE_KINDS)}; got {self.kind!r}")
        if self.policies and self.kind != "lmul":
            raise ConfigError(f"policies are only allowed with kind 'lmul'; got {self.policies!r}")

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
    ConfigError, FormatError, ValueError
        On an invalid kind, format or policy.
    """
    cfg = FpPEConfig(kind, in_fmt_name, acc_fmt_name, dict(policies))
    pe = make_fp_pe(cfg)
    golden = "fp_dot(mul='exact')" if cfg.kind == "fp_mac" else f"fp_dot(mul={LMul(pe.in_fmt, **cfg.policies)!r})"
    extra = {"latency": LATENCY, "golden_model": f"hwgen.emulation.fp_mac_model.{golden}"}
    return build_component(pe, cfg.top_name, asdict(cfg), out_dir, arch=cfg.kind, extra=extra)
