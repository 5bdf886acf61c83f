"""``hwgen run``'s options checked up front in the command line's words, before any model loads.

:func:`hwgen.host.run` checks its arguments again; these checks add what only the command line has
(``--text``, ``--sentences`` files, ``--json``, ``--no-run``, an installed simulator) and name the options.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.host.run import MODELS
from hwgen.host.run_checks import parsed_option

__all__ = ["MODELS", "RunSetup", "parsed_option", "read_sentences", "validate_run_args"]

_PHASES = ("prefill", "decode", "both")
#: Options that only a model run uses, so ``--no-run`` (the table only) refuses them.
_RUN_ONLY = ("backend", "device", "simulator", "layer", "columns", "programs")
#: Options that only one model takes.
_MINILM_ONLY = ("text", "sentences", "model_dir")
_DECODER_ONLY = ("phase", "context")


@dataclass(frozen=True)
class RunSetup:
    """The checked, parsed options of one ``hwgen run``.

    Attributes
    ----------
    target : hwgen.host.targets.Target
    policy : hwgen.host.quant_policy.Policy
    depths : tuple of int or None
        Scratchpad depths ``(W, A, O)`` in words, or None for the top's defaults.
    backend : str
        ``emulator``, ``rtl`` or ``device``.
    simulator : str or None
        The rtl backend's simulator.
    """

    target: object
    policy: object
    depths: tuple[int, int, int] | None
    backend: str
    simulator: str | None


def validate_run_args(args: argparse.Namespace) -> RunSetup:
    """Check every option of ``hwgen run`` and the way they combine; nothing heavy is loaded.

    Raises
    ------
    ConfigError
        Naming the first option whose value (or combination) is not allowed.
    """
    from hwgen.host.backends import BACKENDS
    from hwgen.host.quant_policy import parse_policy
    from hwgen.host.targets import parse_target

    if args.model not in MODELS:
        raise ConfigError("model", args.model, ", ".join(MODELS))
    _check_applies(args)
    backend = args.backend or "emulator"
    if backend not in BACKENDS:
        raise ConfigError("backend", backend, ", ".join(BACKENDS))
    simulator = _simulator(args, backend)
    if backend == "device" and not args.device:
        raise ConfigError("device", args.device, "a device URL with --backend device, e.g. serial:///dev/ttyUSB1")
    if backend == "rtl" and not args.layer:
        raise ConfigError("backend", "rtl", "rtl with --layer NAME (the RTL runs one mapped layer)")
    target = parsed_option("target", args.target, parse_target)
    policy = parsed_option("formats", args.formats, parse_policy)
    if policy is None:
        raise ConfigError("formats", args.formats, "a quantisation policy such as w=int8,a=int8,acc=int32")
    depths = _depths(args.scratchpad)
    single = getattr(target, "prefill", target)
    if depths and getattr(single, "kind", "") == "systolic" and depths[0] < single.rows:
        raise ConfigError("scratchpad", args.scratchpad, f"a W depth >= rows ({single.rows}): one weight tile must fit")
    if args.bandwidth is not None and not (math.isfinite(args.bandwidth) and args.bandwidth > 0):
        raise ConfigError("bandwidth", args.bandwidth, "a finite positive number of host bytes per cycle")
    _check_counts(args)
    if args.json is not None:
        _check_writable_file(args.json, "json")
    return RunSetup(target, policy, depths, backend, simulator)


def read_sentences(args: argparse.Namespace, default: tuple[str, ...]) -> list[str]:
    """Sentences from ``--text`` and ``--sentences`` (blank lines skipped), or ``default``.

    Raises
    ------
    ConfigError
        If a ``--text`` is blank, or the file is unreadable, not UTF-8 or has no sentence.
    """
    out = []
    for text in args.text or []:
        if not text.strip():
            raise ConfigError("text", text, "a sentence with at least one non-blank character")
        out.append(text)
    if args.sentences is not None:
        out += _file_sentences(args.sentences)
    return out or list(default)


def _check_applies(args: argparse.Namespace) -> None:
    """Refuse options that the chosen model, backend or ``--no-run`` would silently ignore."""
    given = {name for name in vars(args) if name in _OPTIONAL and _is_given(args, name)}
    not_for = {"minilm": _DECODER_ONLY, "decoder": _MINILM_ONLY}[args.model]
    for name in sorted(given & set(not_for)):
        other = "decoder" if args.model == "minilm" else "minilm"
        raise ConfigError(name.replace("_", "-"), getattr(args, name), f"only with --model {other}")
    if args.no_run:
        for name in sorted(given & set(_RUN_ONLY)):
            raise ConfigError(name.replace("_", "-"), getattr(args, name), "nothing with --no-run (the table only)")
    backend = args.backend or "emulator"
    for name, needs in (("device", "device"), ("simulator", "rtl"), ("programs", "emulator")):
        if name in given and backend != needs:
            raise ConfigError(name, getattr(args, name), f"only with --backend {needs}")
    if "columns" in given and args.layer is None:
        raise ConfigError("columns", args.columns, "only with --layer NAME")
    if "context" in given and args.phase == "prefill":
        raise ConfigError("context", args.context, "only with --phase decode or both (the decode step's KV cache)")


# Options whose absence is None (or False): given means set on the command line.
_OPTIONAL = (*_RUN_ONLY, *_MINILM_ONLY, *_DECODER_ONLY)


def _is_given(args: argparse.Namespace, name: str) -> bool:
    value = getattr(args, name)
    return value is not None and value is not False


def _simulator(args: argparse.Namespace, backend: str) -> str | None:
    if backend != "rtl":
        return None
    from hwgen.sim.toolchain import SIMULATORS, find_simulator

    name = args.simulator or "verilator"
    if name not in SIMULATORS:
        raise ConfigError("simulator", name, ", ".join(SIMULATORS))
    if find_simulator(name) is None:
        raise ConfigError("simulator", name, "an installed simulator (see `hwgen doctor`)")
    return name


def _check_counts(args: argparse.Namespace) -> None:
    for name in ("tokens", "columns", "context"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(name, value, "an integer >= 1")
    if args.phase is not None and args.phase not in _PHASES:
        raise ConfigError("phase", args.phase, ", ".join(_PHASES))
    if args.layer is not None and not args.layer.strip():
        raise ConfigError("layer", args.layer, "a GEMM layer name such as layer0.attn.q")


def _depths(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and 1 <= int(p) <= 65535 for p in parts):
        raise ConfigError("scratchpad", text, "W,A,O depths in words, each 1..65535, e.g. 64,256,256")
    return tuple(int(p) for p in parts)


def _file_sentences(path: str) -> list[str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError("sentences", path, f"a readable text file (here: {exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("sentences", path, f"a UTF-8 text file (byte {exc.start} is not UTF-8)") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ConfigError("sentences", path, "a file with at least one non-blank line")
    return lines


def _check_writable_file(path: str, option: str) -> None:
    """Prove that ``path`` can be written now, so a long run cannot fail at its very end."""
    if not path.strip():
        raise ConfigError(option, path, "a file path")
    target = Path(path)
    if target.is_dir():
        raise ConfigError(option, path, "a file path, not a folder")
    existed = target.exists()
    try:
        with target.open("a"):
            pass
    except OSError as exc:
        raise ConfigError(option, path, f"a writable file path (here: {exc.strerror})") from None
    if not existed:
        target.unlink()
