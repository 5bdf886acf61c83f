"""Command-line options generated from each architecture's config dataclass, and checked output folders."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import (
    Unit,
    cli_fields,
    file_arch,
    in_file,
    load_config_file,
    make_config,
    type_name,
)

__all__ = ["DEFAULT_ARCH", "add_config_options", "arch_from_argv", "config_from_args", "writable_dir"]

#: Unit of a command given neither ``--arch`` nor a config file naming one.
DEFAULT_ARCH = "systolic"

_TYPES = {"int": int, "float": float, "str": str}


def add_config_options(parser: argparse.ArgumentParser, arch: Unit) -> None:
    """One ``--field-name`` option per scalar field of ``arch``'s config (one-to-one with the dataclass).

    A field's ``help`` metadata, if any, describes it in ``--help``; ``cli_format`` shows its default.
    ``--arch`` defaults to ``arch``: the parser is built for the architecture ``arch_from_argv``
    found, which may come from the ``--config`` file rather than from ``--arch``.
    """
    parser.set_defaults(arch=arch.name)
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


def arch_from_argv(argv: list[str]) -> str:
    """The architecture a command line builds: ``--arch``, else the ``arch`` of its ``--config`` file.

    Read before the real parser exists (its options depend on the architecture); a
    malformed command line is left for that parser to report.

    Raises
    ------
    ConfigError
        If the config file cannot be read, names an unknown arch, or names another arch
        than ``--arch``.
    """
    pre = _QuietParser(add_help=False)
    pre.add_argument("--arch")
    pre.add_argument("--config")
    try:
        known, _ = pre.parse_known_args(argv)
    except _MalformedError:
        return DEFAULT_ARCH
    named = file_arch(load_config_file(known.config), known.config) if known.config else None
    if known.arch is not None and named is not None and known.arch != named:
        raise ConfigError("arch", known.arch, f"{named} (the arch of {known.config}), or leave --arch out")
    return known.arch or named or DEFAULT_ARCH


def config_from_args(arch: Unit, args: argparse.Namespace):
    """The config from ``--config`` (if any) with the command-line fields laid over it.

    A bad value from the file is reported as ``--config FILE: field = value``.

    Raises
    ------
    ConfigError
        If the file or a value is not allowed, or the file names another arch than ``arch``.
    """
    base = load_config_file(args.config) if args.config else {}
    named = file_arch(base, args.config) if args.config else None
    base.pop("arch", None)
    if named not in (None, arch.name):
        raise ConfigError("arch", arch.name, f"{named} (the arch of {args.config}), or leave --arch out")
    given = {f.name: getattr(args, f.name) for f in cli_fields(arch) if getattr(args, f.name) is not None}
    for f in cli_fields(arch):
        if f.name in given and "cli_parse" in f.metadata:  # a structured field given as text
            given[f.name] = f.metadata["cli_parse"](given[f.name])
    try:
        return make_config(arch, {**base, **given})
    except ConfigError as exc:
        key = exc.field.split(".")[0]
        if key in base and key not in given:
            raise ConfigError("config", in_file(args.config, exc.field, exc.value), exc.allowed) from None
        raise


def writable_dir(path: str | Path, option: str) -> Path:
    """Create ``path`` if needed and prove it writable, or raise ConfigError naming ``option``."""
    if not str(path).strip():  # Path("") is the current folder: an empty option must not mean "here"
        raise ConfigError(option, str(path), "a folder path")
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(option, str(path), f"a writable folder (here: {exc.strerror})") from None
    return folder


def _defaults(arch: Unit) -> dict:
    values = dict(arch.defaults)
    for f in dataclasses.fields(arch.config):
        if f.default is not dataclasses.MISSING:
            values.setdefault(f.name, f.default)
    return values


class _MalformedError(Exception):
    pass


class _QuietParser(argparse.ArgumentParser):
    def error(self, message):
        raise _MalformedError(message)
