"""Every architecture ``hwgen build --arch`` knows: its config dataclass and its build function."""

from __future__ import annotations

import dataclasses
import importlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwgen.emulation.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "cli_fields",
    "get_architecture",
    "load_config_file",
    "make_config",
    "type_name",
]


@dataclass(frozen=True)
class Architecture:
    """One buildable design family.

    Attributes
    ----------
    name : str
        The ``--arch`` value.
    summary : str
        One line for ``--help``.
    config : str
        ``"module:Class"`` of the typed, validated config dataclass.
    build : str
        ``"module:function"`` taking ``(cfg, out_dir, extra_tools)`` and returning a ``BuildResult``.
    fixed : dict
        Config fields the architecture name decides (not command-line options).
    defaults : dict
        Defaults for config fields the dataclass leaves required.
    """

    name: str
    summary: str
    config: str
    build: str
    fixed: dict = dataclasses.field(default_factory=dict)
    defaults: dict = dataclasses.field(default_factory=dict)

    def config_class(self) -> type:
        return _load(self.config)

    def build_function(self) -> Callable:
        return _load(self.build)


def _fp_build(cfg, out_dir, extra_tools=None):
    from hwgen.dataflow.fp_build import build_fp_pe

    return build_fp_pe(cfg.kind, cfg.in_fmt, cfg.acc_fmt, out_dir, **cfg.policies)


ARCHITECTURES = {
    arch.name: arch
    for arch in (
        Architecture(
            "systolic",
            "systolic array: INT8, or FP8/bf16 with exact or L-Mul products; ws, is or os",
            "hwgen.dataflow.config:ArrayConfig",
            "hwgen.dataflow.build:build_design",
        ),
        Architecture(
            "bitslice",
            "bit-slice PE or Bit Fusion-like array, run-time precision",
            "hwgen.dataflow.bitslice_model:BitSliceConfig",
            "hwgen.dataflow.bitslice_build:build_bitslice",
        ),
        Architecture(
            "addertree",
            "multiplier + adder-tree dot-product array",
            "hwgen.dataflow.addertree_model:AdderTreeConfig",
            "hwgen.dataflow.addertree_build:build_addertree",
        ),
        Architecture(
            "lmul",
            "L-Mul (integer-add) floating-point dot-product PE",
            "hwgen.dataflow.fp_build:FpPEConfig",
            "hwgen.dataflow.registry:_fp_build",
            {"kind": "lmul"},
            {"in_fmt": "float8_e4m3fn"},
        ),
        Architecture(
            "fp-mac",
            "exact floating-point MAC dot-product PE",
            "hwgen.dataflow.fp_build:FpPEConfig",
            "hwgen.dataflow.registry:_fp_build",
            {"kind": "fp_mac"},
            {"in_fmt": "float8_e4m3fn"},
        ),
        Architecture(
            "sparse-dsp",
            "FlightLLM-style sparse DSP chain (dense and N:M modes)",
            "hwgen.emulation.sparse_chain:SparseChainConfig",
            "hwgen.dataflow.sparse_chain_build:build_sparse_chain",
        ),
        Architecture(
            "pim",
            "GDDR6-AiM-style processing-in-memory channel",
            "hwgen.emulation.pim_model:PimConfig",
            "hwgen.dataflow.pim_build:build_pim",
        ),
        Architecture(
            "top",
            "accelerator top: UART or stream host link, command processor, scratchpads, systolic array (ws/is)",
            "hwgen.dataflow.accelerator:TopConfig",
            "hwgen.dataflow.accelerator:build_top",
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``; ConfigError naming the allowed ones otherwise."""
    if name not in ARCHITECTURES:
        raise ConfigError("arch", name, ", ".join(ARCHITECTURES))
    return ARCHITECTURES[name]


def cli_fields(arch: Architecture) -> list[dataclasses.Field]:
    """Config fields with a scalar type (or a ``cli_parse`` text parser in their metadata): ``--field-name`` options."""
    scalar = {"int", "str", "bool", "float"}
    return [
        f
        for f in dataclasses.fields(arch.config_class())
        if f.name not in arch.fixed and f.name != "arch" and (type_name(f) in scalar or "cli_parse" in f.metadata)
    ]


def type_name(f: dataclasses.Field) -> str:
    """A field's annotation as written (``"int"``), whether or not annotations are postponed."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def make_config(arch: Architecture, data: dict):
    """Build ``arch``'s config from a dict, naming unknown keys and bad values in ConfigError."""
    cls = arch.config_class()
    known = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(key, value, f"a field of {arch.name}: " + ", ".join(sorted(known - set(arch.fixed))))
    values = {**arch.defaults, **data, **arch.fixed}
    nested = {f.name: f.type for f in dataclasses.fields(cls) if isinstance(values.get(f.name), dict)}
    for name in nested:
        # A nested config (e.g. PIM timing) arrives as a table in TOML/JSON.
        sub = _nested_class(cls, name)
        if sub is not None:
            values[name] = sub(**values[name])
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", values, str(exc)) from None


def load_config_file(path: str | Path) -> dict:
    """Read a ``.toml`` or ``.json`` config file into a dict (ConfigError on any problem)."""
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise ConfigError("config", str(path), "a .toml or .json file")
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError("config", str(path), f"a readable file ({exc.strerror})") from None
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("config", str(path), f"valid {path.suffix[1:]} ({exc})") from None


def _nested_class(cls: type, name: str):
    default = next(f for f in dataclasses.fields(cls) if f.name == name).default
    return type(default) if dataclasses.is_dataclass(default) else None


def _load(spec: str):
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)
