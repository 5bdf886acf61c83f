"""The arguments of :func:`hwgen.host.run` checked at the boundary, before any model loads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.host.backends import BACKENDS, get_backend
from hwgen.host.quant_policy import Policy, parse_policy
from hwgen.host.targets import TARGET_FORMS, MixedTarget, Target, parse_target

__all__ = ["MODELS", "check_options", "checked_policy", "checked_target", "parsed_option"]

MODELS = ("minilm", "decoder")
_PHASES = ("prefill", "decode", "both")
_TARGETS = (Target, MixedTarget)
_TARGET_FORMS = "; ".join(form.split(" (")[0] for form in TARGET_FORMS)


def checked_policy(formats) -> Policy:
    if isinstance(formats, Policy):
        return formats
    if not isinstance(formats, str):
        raise ConfigError("formats", formats, "a quantisation policy such as w=int8,a=int8,acc=int32, or a Policy")
    policy = parsed_option("formats", formats, parse_policy)
    if policy is None:
        raise ConfigError("formats", formats, "a quantisation policy such as w=int8,a=int8,acc=int32")
    return policy


def checked_target(target):
    if isinstance(target, _TARGETS):
        return target
    if not isinstance(target, str):
        raise ConfigError("target", target, f"a target text ({_TARGET_FORMS}) or a parsed target")
    return parsed_option("target", target, parse_target)


def parsed_option(option: str, text: str, parse):
    """``parse(text)``, with an error inside the text reported against ``option`` and the whole text.

    ``target="systolic:0x4"`` then reads ``target='systolic:0x4 (rows=0)'``, not ``rows=0``,
    which is no argument (or command-line option) of its own.
    """
    try:
        return parse(text)
    except ConfigError as exc:
        if exc.field == option:
            raise
        inner = exc.value if isinstance(exc.value, str) else repr(exc.value)
        raise ConfigError(option, f"{text} ({exc.field}={inner})", exc.allowed) from None


def check_options(given: dict) -> None:
    """Check every argument of :func:`hwgen.host.run` and the way they combine; nothing heavy is loaded.

    Parameters
    ----------
    given : dict
        ``run``'s arguments by name, ``target`` already parsed.

    Raises
    ------
    ConfigError
        Naming the first argument whose value (or combination) is not allowed.
    """
    model = given["model"]
    if not isinstance(model, str) or model not in MODELS:
        raise ConfigError("model", model, ", ".join(MODELS))
    only = {"minilm": ("sentences", "model_dir"), "decoder": ("context", "phase")}
    for name in only["decoder" if model == "minilm" else "minilm"]:
        if given[name] is not None:
            raise ConfigError(name, given[name], f"only with model={'decoder' if model == 'minilm' else 'minilm'!r}")
    if not isinstance(given["execute"], bool):
        raise ConfigError("execute", given["execute"], "True or False")
    _check_backend(given)
    _check_counts(given)
    if given["sentences"] is not None:
        _check_sentences(given["sentences"])
    if given["phase"] is not None and given["phase"] not in _PHASES:
        raise ConfigError("phase", given["phase"], ", ".join(_PHASES))
    layer = given["layer"]
    if layer is not None and (not isinstance(layer, str) or not layer.strip()):
        raise ConfigError("layer", layer, "a GEMM layer name such as layer0.attn.q")
    if given["columns"] is not None and layer is None:
        raise ConfigError("columns", given["columns"], "only with layer=NAME")
    if given["context"] is not None and given["phase"] == "prefill":
        raise ConfigError("context", given["context"], "only with phase 'decode' or 'both' (the decode step's cache)")
    _check_scratchpad(given["scratchpad"], given["target"])
    bandwidth = given["bandwidth"]
    if bandwidth is not None and (
        isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float) or not math.isfinite(bandwidth)
        or not bandwidth > 0
    ):  # fmt: skip
        raise ConfigError("bandwidth", bandwidth, "a finite positive number of host bytes per cycle")
    if given["progress"] is not None and not callable(given["progress"]):
        raise ConfigError("progress", given["progress"], "a callable progress(stage, done, total), or None")


def _check_backend(given: dict) -> None:
    backend, execute = given["backend"], given["execute"]
    named = backend if isinstance(backend, str) else None
    if named is not None:
        if named not in BACKENDS:
            get_backend(named)  # raises: names the registered backends, and how to get those registered from above
    elif not all(hasattr(backend, a) for a in ("name", "info", "gemm_hook")):
        raise ConfigError("backend", backend, "a registered backend name (" + ", ".join(BACKENDS) + ") or a Backend")
    run_only = ("layer", "columns", "device", "simulator")
    for name in run_only if not execute else ():
        if given[name] is not None:
            raise ConfigError(name, given[name], "nothing with execute=False (the tables only)")
    if not execute and given["programs"]:
        raise ConfigError("programs", given["programs"], "nothing with execute=False (the tables only)")
    for name, needs in (("device", "device"), ("simulator", "rtl")):
        if given[name] is not None and named != needs:
            raise ConfigError(name, given[name], f"only with backend={needs!r}")
    if not isinstance(given["programs"], bool):
        raise ConfigError("programs", given["programs"], "True or False")
    if given["programs"] and named != "emulator":
        raise ConfigError("programs", True, "only with backend='emulator'")
    if execute and named == "device" and not given["device"]:
        raise ConfigError("device", given["device"], "a device URL with backend='device', e.g. serial:///dev/ttyUSB1")
    if execute and named == "rtl" and not given["layer"]:
        raise ConfigError("backend", "rtl", "rtl with layer=NAME (the RTL runs one mapped layer)")
    if execute and given["layer"] and named is None and not hasattr(backend, "run_layer"):
        raise ConfigError("backend", backend, "a backend with run_layer (a ProgramBackend) for layer=NAME")


def _check_counts(given: dict) -> None:
    for name in ("tokens", "columns", "context"):
        value = given[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1):
            raise ConfigError(name, value, "an integer >= 1")


def _check_sentences(sentences) -> None:
    if isinstance(sentences, str | bytes) or not isinstance(sentences, Sequence) or not sentences:
        raise ConfigError("sentences", sentences, "a non-empty sequence of sentences (a list of str)")
    for text in sentences:
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("sentences", text, "a sentence with at least one non-blank character")


def _check_scratchpad(depths, target) -> None:
    if depths is None:
        return
    if (
        isinstance(depths, str | bytes) or not isinstance(depths, Sequence) or len(depths) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 65535 for d in depths)
    ):  # fmt: skip
        raise ConfigError("scratchpad", depths, "W, A, O depths in words, each 1..65535, e.g. (64, 256, 256)")
    single = getattr(target, "prefill", target)
    if getattr(single, "kind", "") == "systolic" and depths[0] < single.rows:
        raise ConfigError("scratchpad", depths, f"a W depth >= rows ({single.rows}): one weight tile must fit")
