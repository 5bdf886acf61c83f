"""Unit configs from files and options: read a .toml/.json config or a build manifest, check each field's type."""

from __future__ import annotations

import dataclasses
import json
import sys
import tomllib
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.contract import UNITS, Unit

__all__ = ["MAX_DEPTH", "cli_fields", "file_arch", "in_file", "load_config_file", "make_config", "type_name"]


def cli_fields(unit: Unit) -> list[dataclasses.Field]:
    """Config fields with a scalar type (or a ``cli_parse`` text parser in their metadata): ``--field-name`` options."""
    scalar = {"int", "str", "bool", "float"}
    return [
        f
        for f in dataclasses.fields(unit.config)
        if f.name not in unit.fixed and f.name != "arch" and (type_name(f) in scalar or "cli_parse" in f.metadata)
    ]


def type_name(f: dataclasses.Field) -> str:
    """A field's annotation as written (``"int"``), whether or not annotations are postponed."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def make_config(unit: Unit, data: dict):
    """Build ``unit``'s config from a dict (a config file or options), naming unknown keys and bad values.

    Values are checked against the field types before the config class sees them, since a
    file can hold any type: ``true`` or ``4.0`` is not an integer, ``[4]`` is not a
    scalar. A nested config (PIM ``timing``) is a table whose errors are named
    ``table.field``; a structured field with a command-line form (``sparse_modes``) may
    also be written in that form, as a string.

    Raises
    ------
    ConfigError
        On an unknown key, a value of the wrong type or one the config class rejects, or a
        field the architecture fixes (``kind`` of ``lmul``) given another value.
    """
    cls = unit.config
    fields = {f.name: f for f in dataclasses.fields(cls)}
    settable = ", ".join(sorted(set(fields) - set(unit.fixed)))
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(key, value, f"a field of {unit.name}: {settable}")
        if key in unit.fixed and value != unit.fixed[key]:
            raise ConfigError(key, value, f"{unit.fixed[key]} (--arch {unit.name} fixes it)")
    values = {**unit.defaults, **data, **unit.fixed}
    for key in data:
        values[key] = _checked(cls, fields[key], values)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", unit.name, " ".join(str(exc).split())) from None


def load_config_file(path: str | Path) -> dict:
    """Read a ``.toml`` or ``.json`` config file, or a build's ``manifest.json``, into a dict of fields.

    A file whose top level has a ``config`` table is read as a build manifest: its
    ``config`` and ``arch`` rebuild the design, and the rest (ports, hierarchy, tool
    versions, hashes, synthesis reports) records that build and is not read. The
    ``arch`` key, if any, is in the returned dict; ``file_arch`` checks it.

    Raises
    ------
    ConfigError
        If the file is not a readable ``.toml``/``.json`` UTF-8 file with a table at the
        top level, is nested more than ``MAX_DEPTH`` levels, or holds an integer beyond
        Python's digit limit; or a manifest's ``config`` is not a table.
    """
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise ConfigError("config", str(path), "a .toml or .json file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("config", str(path), f"a readable file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError("config", str(path), f"UTF-8 text (byte {exc.start} is not UTF-8)") from None
    data = _parse(text, path.suffix[1:], path)
    if not isinstance(data, dict):
        raise ConfigError("config", str(path), 'a JSON object ({"field": value, ...}) at the top level')
    if _depth(data) > MAX_DEPTH:
        raise ConfigError("config", str(path), f"a file nested at most {MAX_DEPTH} levels deep")
    return _config_part(data, path)


def file_arch(data: dict, path: str | Path) -> str | None:
    """The architecture a loaded config file names in its ``arch`` key, or None.

    Raises
    ------
    ConfigError
        If ``arch`` is not the name of an architecture.
    """
    arch = data.get("arch")
    if arch is not None and (not isinstance(arch, str) or arch not in UNITS):
        raise ConfigError("config", in_file(path, "arch", arch), ", ".join(UNITS))
    return arch


def in_file(path: str | Path, key: str, value) -> str:
    """``"FILE: key = value"`` with the value as JSON (and so mostly TOML) writes it, cut to 40 characters."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return f"{path}: {key} = {text if len(text) <= 40 else text[:37] + '...'}"


#: Deepest nesting of lists and tables a config file may have (configs use 3, manifests about 10).
MAX_DEPTH = 64
# What each scalar field type allows, in the words of TOML and JSON.
_KINDS = {"int": "an integer", "str": "a string", "bool": "true or false", "float": "a number"}
# A value of each type that no config field allows, offered to a config class to learn its allowed values.
_PROBES = {"int": -(2**63), "str": "\0", "float": float("nan")}


def _parse(text: str, fmt: str, path: Path):
    try:
        return tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except RecursionError:
        raise ConfigError("config", str(path), f"valid {fmt} nested at most {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # TOMLDecodeError, JSONDecodeError, and int() past Python's digit limit
        reason = " ".join(str(exc).split())
        if "integer string conversion" in reason:
            reason = f"an integer has more than {sys.get_int_max_str_digits()} digits"
        raise ConfigError("config", str(path), f"valid {fmt} ({reason})") from None


def _depth(data) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _config_part(data: dict, path: Path) -> dict:
    if "config" not in data:
        return dict(data)
    config = data["config"]
    if not isinstance(config, dict):
        raise ConfigError("config", in_file(path, "config", config), "a table of config fields (a build manifest)")
    fields = dict(config)
    arch = data.get("arch")
    if arch is not None and fields.setdefault("arch", arch) != arch:
        raise ConfigError("config", in_file(path, "arch", arch), f"the arch of its config, {fields['arch']!r}")
    return fields


def _checked(cls: type, f: dataclasses.Field, values: dict):
    """``values[f.name]`` if its type fits field ``f`` (a nested config is built); ConfigError otherwise."""
    value, kind = values[f.name], type_name(f)
    if dataclasses.is_dataclass(f.default):
        return _nested(f.name, type(f.default), value)
    if isinstance(value, str) and "cli_parse" in f.metadata:
        return f.metadata["cli_parse"](value)
    if kind in _KINDS and not _has_kind(value, kind):
        raise ConfigError(f.name, value, _allowed(cls, values, f.name, kind))
    if isinstance(f.default, tuple) and _ints_only(f.default) and not _ints_only(value):
        raise ConfigError(f.name, value, "lists of integers (not true/false or decimals), e.g. [[2, 4], [1, 8, 1]]")
    return value


def _nested(name: str, sub: type, value):
    if isinstance(value, sub):
        return value
    fields = {f.name: f for f in dataclasses.fields(sub)}
    if not isinstance(value, dict):
        raise ConfigError(name, value, "a table with the fields " + ", ".join(fields))
    try:
        for key, item in value.items():
            if key not in fields:
                raise ConfigError(key, item, f"a field of {name}: " + ", ".join(fields))
        return sub(**{key: _checked(sub, fields[key], value) for key in value})
    except ConfigError as exc:
        raise ConfigError(f"{name}.{exc.field}", exc.value, exc.allowed) from None


def _has_kind(value, kind: str) -> bool:
    if kind == "bool" or isinstance(value, bool):
        return kind == "bool" and isinstance(value, bool)
    return isinstance(value, {"int": int, "float": (int, float), "str": str}[kind])


def _ints_only(value) -> bool:
    """True for a (nested) list or tuple whose every leaf is an integer and not a bool."""
    if isinstance(value, list | tuple):
        return all(_ints_only(item) for item in value)
    return isinstance(value, int) and not isinstance(value, bool)


def _allowed(cls: type, values: dict, name: str, kind: str) -> str:
    """What ``cls`` allows in ``name``, in its own words: offer it a value of the right type that nothing allows."""
    if kind in _PROBES:
        try:
            cls(**{**values, name: _PROBES[kind]})
        except ConfigError as exc:
            if exc.field == name:
                return exc.allowed
        except (TypeError, ValueError):
            pass
    return _KINDS[kind]
