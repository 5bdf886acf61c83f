"""A BERT-encoder checkpoint's config and tensor table, validated against each other before any weight is read."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hwgen.host.model_files import ModelError

__all__ = ["DEFAULT_MAX_SEQ_LENGTH", "BertConfig", "check_tensors", "read_config", "read_json", "read_max_length"]

#: Tokens per sentence when ``sentence_bert_config.json`` does not say (capped at ``max_position_embeddings``).
DEFAULT_MAX_SEQ_LENGTH = 256
_SIZES = (
    "hidden_size",
    "num_attention_heads",
    "num_hidden_layers",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
)
#: Keys that may be absent (Hugging Face defaults to the value) but, if present, must name what the graph runs.
_FIXED = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
_FLOATS = {"F16": 2, "F32": 4, "F64": 8}
_INTS = {"I32": 4, "I64": 8}
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_LAYER = re.compile(r"encoder\.layer\.(0|[1-9]\d*)\.(.+)")
_TENSORS_ALLOWED = "embeddings.*, encoder.layer.<i>.* and pooler.dense.* of a BERT encoder"


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT encoder (post-norm, absolute positions, exact GELU), from ``config.json``.

    Attributes
    ----------
    hidden_size, num_attention_heads, num_hidden_layers, intermediate_size : int
    vocab_size, max_position_embeddings, type_vocab_size : int
    layer_norm_eps : float
    """

    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float


def read_json(path: Path) -> dict:
    """The JSON object in ``path``.

    Raises
    ------
    ModelError
        If the file is unreadable, not UTF-8, not JSON, or not a JSON object.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(path, f"unreadable ({exc.strerror or type(exc).__name__})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        raise ModelError(path, f"not UTF-8 text ({where}); allowed: a JSON object in UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise ModelError(path, f"not valid JSON ({where}); allowed: a JSON object in UTF-8") from None
    except (ValueError, RecursionError) as exc:  # a number of more than 4,300 digits; nesting too deep
        reason = str(exc) or type(exc).__name__
        raise ModelError(path, f"not valid JSON ({reason}); allowed: a JSON object in UTF-8") from None
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data), "null")
        raise ModelError(path, f"holds {kind}; allowed: a JSON object", value=data, allowed="a JSON object")
    return data


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_config(path: Path) -> tuple[dict, BertConfig]:
    """``config.json`` as read and as a validated :class:`BertConfig`.

    Raises
    ------
    ModelError
        If a size is missing, not an int or below 1; ``num_attention_heads`` does not
        divide ``hidden_size``; ``layer_norm_eps`` is not a finite number > 0; or
        ``model_type``, ``hidden_act`` or ``position_embedding_type`` name another model.
    """
    data = read_json(path)
    for key in (*_SIZES, "layer_norm_eps"):
        if key not in data:
            allowed = "a finite number > 0" if key == "layer_norm_eps" else "an int >= 1"
            problem = f"key {key} missing; allowed: {key} as {allowed}"
            raise ModelError(path, problem, field=key, value=None, allowed=allowed)
    for key in _SIZES:
        if not _is_int(data[key]) or data[key] < 1:
            raise ModelError.invalid(path, key, data[key], "an int >= 1")
    d, h = data["hidden_size"], data["num_attention_heads"]
    if d % h:
        raise ModelError.invalid(path, "num_attention_heads", h, f"an int >= 1 that divides hidden_size={d}")
    eps = data["layer_norm_eps"]
    if not (_is_int(eps) or isinstance(eps, float)) or not 0 < eps < math.inf:  # NaN fails both comparisons
        raise ModelError.invalid(path, "layer_norm_eps", eps, "a finite number > 0")
    for key, want in _FIXED.items():
        if key in data and data[key] != want:
            raise ModelError.invalid(path, key, data[key], f"{want!r} (the graph hwgen runs) or absent")
    return data, BertConfig(**{key: data[key] for key in (*_SIZES, "layer_norm_eps")})


def read_max_length(path: Path, config: BertConfig) -> int:
    """``max_seq_length`` of ``sentence_bert_config.json`` (absent: 256, at most ``max_position_embeddings``).

    Raises
    ------
    ModelError
        If the file is not a JSON object, or ``max_seq_length`` is not an int in
        1..``max_position_embeddings``.
    """
    limit = config.max_position_embeddings
    data = read_json(path) if path.is_file() else {}
    if "max_seq_length" not in data:
        return min(DEFAULT_MAX_SEQ_LENGTH, limit)
    value = data["max_seq_length"]
    if not _is_int(value) or not 1 <= value <= limit:
        raise ModelError.invalid(path, "max_seq_length", value, f"an int in 1..{limit} (max_position_embeddings)")
    return value


def _layer_spec() -> dict[str, tuple[str, ...]]:
    """Shape of each tensor of one encoder layer, by suffix, as config keys ((out, in) for linear weights)."""
    d, f = "hidden_size", "intermediate_size"
    spec = {}
    for name in ("self.query", "self.key", "self.value", "output.dense"):
        spec[f"attention.{name}.weight"], spec[f"attention.{name}.bias"] = (d, d), (d,)
    spec["intermediate.dense.weight"], spec["intermediate.dense.bias"] = (f, d), (f,)
    spec["output.dense.weight"], spec["output.dense.bias"] = (d, f), (d,)
    for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
        spec[f"{ln}.weight"], spec[f"{ln}.bias"] = (d,), (d,)
    return spec


_EMBEDDINGS = {
    "embeddings.word_embeddings.weight": ("vocab_size", "hidden_size"),
    "embeddings.position_embeddings.weight": ("max_position_embeddings", "hidden_size"),
    "embeddings.token_type_embeddings.weight": ("type_vocab_size", "hidden_size"),
    "embeddings.LayerNorm.weight": ("hidden_size",),
    "embeddings.LayerNorm.bias": ("hidden_size",),
}
_LAYER_SPEC = _layer_spec()
#: Tensors a checkpoint may carry that the graph does not read (checked when present).
_OPTIONAL = {
    "embeddings.position_ids": (1, "max_position_embeddings"),
    "pooler.dense.weight": ("hidden_size", "hidden_size"),
    "pooler.dense.bias": ("hidden_size",),
}


def check_tensors(path: Path, config: BertConfig) -> None:
    """Check the safetensors header of ``path`` against ``config`` without reading any tensor data.

    Every tensor the graph reads must be present with the shape the config implies
    and a float dtype (F16, F32, F64); no other tensor may be present (a layer beyond
    ``num_hidden_layers`` is a config/tensor mismatch, not something to ignore).

    Raises
    ------
    ModelError
        If the file is truncated or not safetensors, or a tensor is missing, unexpected,
        or of the wrong shape or dtype.
    """
    header = _read_header(path)
    layers = config.num_hidden_layers
    for name in sorted(header):
        match = _LAYER.fullmatch(name)
        if match and match[2] in _LAYER_SPEC:
            if int(match[1]) >= layers:
                _raise_layer_mismatch(path, header, layers)
        elif name not in _EMBEDDINGS and name not in _OPTIONAL:
            raise ModelError.invalid(path, "tensor", name, _TENSORS_ALLOWED)
    for name, spec in _EMBEDDINGS.items():
        _check_tensor(path, header, name, spec, config, layers)
    for i in range(layers):
        for suffix, spec in _LAYER_SPEC.items():
            _check_tensor(path, header, f"encoder.layer.{i}.{suffix}", spec, config, layers)
    for name, spec in _OPTIONAL.items():
        if name in header:
            _check_tensor(path, header, name, spec, config, layers)


def _raise_layer_mismatch(path: Path, header: dict, layers: int) -> None:
    held = 1 + max(int(m[1]) for m in map(_LAYER.fullmatch, header) if m)
    problem = (
        f"holds {held} encoder layers (encoder.layer.0..{held - 1}) but config.json has "
        f"num_hidden_layers={layers}; allowed: num_hidden_layers={held}, matching the tensors"
    )
    raise ModelError(path, problem, field="num_hidden_layers", value=layers, allowed=str(held))


def _check_tensor(path: Path, header: dict, name: str, spec: tuple, config: BertConfig, layers: int) -> None:
    if name not in header:
        allowed = f"every tensor of a {layers}-layer BERT encoder (num_hidden_layers={layers} in config.json)"
        problem = f"tensor {name} missing; allowed: {allowed}"
        raise ModelError(path, problem, field="tensor", value=name, allowed=allowed)
    dtype, shape = header[name]
    dtypes = _INTS if name == "embeddings.position_ids" else _FLOATS
    if dtype not in dtypes:
        raise ModelError.invalid(path, f"{name} dtype", dtype, " or ".join(dtypes))
    want = tuple(getattr(config, s) if isinstance(s, str) else s for s in spec)
    if shape != want:
        keys = ", ".join(str(s) for s in spec)
        raise ModelError.invalid(path, f"{name} shape", shape, f"{want} = ({keys}) of config.json")


def _read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of a safetensors file, after checking every tensor's bytes lie inside it."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            prefix = fh.read(8)
            length = int.from_bytes(prefix, "little") if len(prefix) == 8 else size
            if length > size - 8:
                raise ModelError(path, f"truncated or not safetensors (header of {length} bytes in a {size}-byte file)")
            raw = fh.read(length)
    except OSError as exc:
        raise ModelError(path, f"unreadable ({exc.strerror or type(exc).__name__})") from None
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise ModelError(path, "corrupted safetensors header (not a JSON object)")
    header.pop("__metadata__", None)
    return {name: _entry(path, name, entry, size - 8 - length) for name, entry in header.items()}


def _entry(path: Path, name: str, entry, data_bytes: int) -> tuple[str, tuple[int, ...]]:
    entry = entry if isinstance(entry, dict) else {}
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    ints = isinstance(shape, list) and isinstance(offsets, list) and all(_is_int(v) and v >= 0 for v in shape + offsets)
    if not (isinstance(dtype, str) and ints and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise ModelError(path, f"corrupted safetensors header entry for {name}")
    if offsets[1] > data_bytes:
        raise ModelError(path, f"truncated: tensor {name} ends at data byte {offsets[1]} of {data_bytes}")
    itemsize, nbytes = {**_FLOATS, **_INTS}.get(dtype), offsets[1] - offsets[0]
    if itemsize and nbytes != math.prod(shape) * itemsize:
        raise ModelError(path, f"corrupted safetensors header: {name} {dtype}{shape} in {nbytes} bytes")
    return dtype, tuple(shape)
