"""Turn parsed command-line options into configs and checked output folders."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hwgen.dataflow.config import ArrayConfig
from hwgen.emulation.errors import ConfigError

__all__ = ["array_config", "writable_dir"]

_FIELDS = ("arch", "rows", "cols", "dataflow", "dtype", "acc")


def array_config(args: argparse.Namespace) -> ArrayConfig:
    """The config from ``--config`` (if any) with the command-line fields laid over it."""
    base = ArrayConfig.load(args.config).to_dict() if args.config else {}
    given = {f: getattr(args, f) for f in _FIELDS if getattr(args, f) is not None}
    return ArrayConfig.from_dict({**base, **given})


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
