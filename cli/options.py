"""Command-line options generated from each architecture's config dataclass, and checked output folders."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from hwgen.dataflow.registry import Architecture, cli_fields, load_config_file, make_config, type_name
from hwgen.emulation.errors import ConfigError

__all__ = ["add_config_options", "config_from_args", "writable_dir"]

_TYPES = {"int": int, "float": float, "str": str}


def add_config_options(parser: argparse.ArgumentParser, arch: Architecture) -> None:
    """One ``--field-name`` option per scalar field of ``arch``'s config (one-to-one with the dataclass).

    A field's ``help`` metadata, if any, describes it in ``--help``; ``cli_format`` shows its default.
    """
    parser.add_argument(
        "--config", metavar="FILE", help="load the config from a .toml or .json file (command-line options override it)"
    )
    defaults = _defaults(arch)
    for f in cli_fields(arch):
        flag = "--" + f.name.replace("_", "-")
        shown = f" (default: {f.metadata.get('cli_format', str)(defaults[f.name])})" if f.name in defaults else ""
        described = f.metadata.get("help", f"{arch.name} config field {f.name}")
        if type_name(f) == "bool":
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{described}{shown}",
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                type=_TYPES.get(type_name(f), str),
                default=None,
                metavar=f.name.upper(),
                help=f"{described}{shown}",
            )


def config_from_args(arch: Architecture, args: argparse.Namespace):
    """The config from ``--config`` (if any) with the command-line fields laid over it."""
    base = load_config_file(args.config) if args.config else {}
    base.pop("arch", None)
    given = {f.name: getattr(args, f.name) for f in cli_fields(arch) if getattr(args, f.name) is not None}
    for f in cli_fields(arch):
        if f.name in given and "cli_parse" in f.metadata:  # a structured field given as text
            given[f.name] = f.metadata["cli_parse"](given[f.name])
    return make_config(arch, {**base, **given})


def writable_dir(path: str | Path, option: str) -> Path:
    """Create ``path`` if needed and prove it writable, or raise ConfigError naming ``option``."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(option, str(path), f"a writable folder (here: {exc.strerror})") from None
    return folder


def _defaults(arch: Architecture) -> dict:
    values = dict(arch.defaults)
    for f in dataclasses.fields(arch.config_class()):
        if f.default is not dataclasses.MISSING:
            values.setdefault(f.name, f.default)
    return values
