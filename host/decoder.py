"""GPT-style decoder blocks from a config (seeded random weights): prefill and KV-cached decode graphs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.host.ir import Graph, Node
from hwgen.host.ir_exec import GemmCall, run_graph
from hwgen.host.quant_policy import Policy, parse_policy

__all__ = ["PHASES", "Decoder", "DecoderConfig", "capture_decode_call", "decoder_graph", "decoder_weights"]

PHASES = ("prefill", "decode")
#: Largest ``vocab``, ``d_model``, ``d_ff``, ``max_positions`` (and ``layers``: :data:`MAX_LAYERS`).
MAX_DIM = 1 << 20
MAX_LAYERS = 1024
#: Most weights a config may have (they are allocated as float32: 512 MiB).
MAX_PARAMETERS = 1 << 27
#: Most elements of one activation tensor of a graph (logits, attention scores...): 256 MiB as float32.
MAX_ACTIVATIONS = 1 << 26


def _check_int(field: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise ConfigError(field, value, f"an int >= {lo}" + (f" and <= {hi}" if hi is not None else ""))


def _parameters(cfg: DecoderConfig) -> int:
    """Weights of ``cfg``: embeddings, per-layer projections, biases and norms, the head."""
    d, f = cfg.d_model, cfg.d_ff
    layer = 4 * d * d + 2 * d * f + 5 * d + f + 4 * d
    return cfg.vocab * d + cfg.max_positions * d + cfg.layers * layer + 2 * d + d * cfg.vocab


@dataclass(frozen=True)
class DecoderConfig:
    """Shape of a pre-norm GPT decoder (GPT-2 layout, erf GELU, untied output head).

    Parameters
    ----------
    vocab, d_model, heads, layers, d_ff, max_positions : int
        ``d_model`` must be a multiple of ``heads``; each at most :data:`MAX_DIM`
        (``layers`` at most :data:`MAX_LAYERS`), and all weights together at most
        :data:`MAX_PARAMETERS` (they are allocated when a graph is built).
    eps : float, default 1e-5
        Layer-norm epsilon.
    seed : int, default 0
        Seed of the random weights (normal, std 0.02; layer-norm gains near 1), 0..2**128-1.

    Raises
    ------
    ConfigError
        If a field is not allowed.
    """

    vocab: int = 512
    d_model: int = 128
    heads: int = 4
    layers: int = 2
    d_ff: int = 512
    max_positions: int = 256
    eps: float = 1e-5
    seed: int = 0

    def __post_init__(self):
        for f in ("vocab", "d_model", "heads", "d_ff", "max_positions"):
            _check_int(f, getattr(self, f), 1, MAX_DIM)
        _check_int("layers", self.layers, 1, MAX_LAYERS)
        _check_int("seed", self.seed, 0, (1 << 128) - 1)
        if isinstance(self.eps, bool) or not isinstance(self.eps, int | float) or not 0 < self.eps < 1:
            raise ConfigError("eps", self.eps, "a number in (0, 1)")
        if self.d_model % self.heads:
            raise ConfigError("d_model", self.d_model, f"a multiple of heads={self.heads}")
        if (weights := _parameters(self)) > MAX_PARAMETERS:
            raise ConfigError("weights", weights, f"at most {MAX_PARAMETERS} (smaller vocab, d_model, d_ff or layers)")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads


@functools.lru_cache(maxsize=8)
def decoder_weights(cfg: DecoderConfig) -> dict[str, np.ndarray]:
    """Seeded random float32 weights of ``cfg`` (linear weights stored (in, out))."""
    rng = np.random.default_rng(cfg.seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    d, f = cfg.d_model, cfg.d_ff
    w = {"wte": normal(cfg.vocab, d, std=1.0), "wpe": normal(cfg.max_positions, d, std=0.1)}
    for i in range(cfg.layers):
        p = f"layer{i}."
        for name, shape in (
            ("q", (d, d)),
            ("k", (d, d)),
            ("v", (d, d)),
            ("out", (d, d)),
            ("up", (d, f)),
            ("down", (f, d)),
        ):
            w[p + name] = normal(*shape, std=1.0 / np.sqrt(shape[0]))
            w[p + name + ".bias"] = normal(shape[1])
        for ln in ("ln1", "ln2"):
            w[p + ln + ".gamma"] = 1.0 + normal(d, std=0.1)
            w[p + ln + ".beta"] = normal(d)
    w["ln_f.gamma"], w["ln_f.beta"] = 1.0 + normal(d, std=0.1), normal(d)
    w["head"] = normal(d, cfg.vocab, std=1.0 / np.sqrt(d))
    for v in w.values():
        v.flags.writeable = False
    return w


def _linear(w, name: str, x: str, key: str, rows: int, bias: bool = True) -> Node:
    weight = w[key]
    attrs = {"weight": weight, "bias": w[key + ".bias"] if bias else None, "m": rows}
    return Node(name, "linear", (x,), {**attrs, "k": weight.shape[0], "n": weight.shape[1]})


def _ew(name: str, op: str, inputs, elements: int, **attrs) -> Node:
    return Node(name, op, tuple(inputs), {"elements": elements, **attrs})


def _ln(w, cfg: DecoderConfig, name: str, x: str, key: str, elements: int) -> Node:
    return _ew(name, "layernorm", (x,), elements, gamma=w[key + ".gamma"], beta=w[key + ".beta"], eps=cfg.eps)


def _attention(w, cfg: DecoderConfig, i: int, x: str, b: int, t: int, ctx: int) -> list[Node]:
    p, h, hd, rows = f"layer{i}.attn", cfg.heads, cfg.head_dim, b * t
    keys = ctx + t
    nodes = [_linear(w, f"{p}.{n}", x, f"layer{i}.{n}", rows) for n in "qkv"]
    nodes += [Node(f"{p}.{n}_heads", "split_heads", (f"{p}.{n}",), {"heads": h}) for n in "qkv"]
    for n in "kv":  # the cache after this step: past entries, then this step's
        src = (f"past.layer{i}.{n}", f"{p}.{n}_heads") if ctx else (f"{p}.{n}_heads",)
        nodes.append(Node(f"{p}.{n}_cache", "concat", src, {"axis": -2}))
    nodes += [
        Node(
            f"{p}.qk",
            "matmul",
            (f"{p}.q_heads", f"{p}.k_cache"),
            {"transpose_b": True, "scale": 1.0 / np.sqrt(hd), "m": t, "k": hd, "n": keys, "batch": b * h},
        ),
        _ew(f"{p}.softmax", "softmax", (f"{p}.qk",), b * h * t * keys, causal=True),
        Node(f"{p}.av", "matmul", (f"{p}.softmax", f"{p}.v_cache"), {"m": t, "k": keys, "n": hd, "batch": b * h}),
        Node(f"{p}.merge", "merge_heads", (f"{p}.av",)),
        _linear(w, f"{p}.out", f"{p}.merge", f"layer{i}.out", rows),
    ]
    return nodes


def _block(w, cfg: DecoderConfig, i: int, x: str, b: int, t: int, ctx: int) -> tuple[list[Node], str]:
    p, n = f"layer{i}", b * t * cfg.d_model
    nodes = [_ln(w, cfg, f"{p}.ln1", x, f"{p}.ln1", n)]
    nodes += _attention(w, cfg, i, f"{p}.ln1", b, t, ctx)
    nodes += [
        _ew(f"{p}.attn.residual", "add", (x, f"{p}.attn.out"), n),
        _ln(w, cfg, f"{p}.ln2", f"{p}.attn.residual", f"{p}.ln2", n),
        _linear(w, f"{p}.ffn.up", f"{p}.ln2", f"{p}.up", b * t),
        _ew(f"{p}.ffn.gelu", "gelu", (f"{p}.ffn.up",), b * t * cfg.d_ff),
        _linear(w, f"{p}.ffn.down", f"{p}.ffn.gelu", f"{p}.down", b * t),
        _ew(f"{p}.ffn.residual", "add", (f"{p}.attn.residual", f"{p}.ffn.down"), n),
    ]
    return nodes, f"{p}.ffn.residual"


def decoder_graph(cfg: DecoderConfig, phase: str = "prefill", tokens: int = 1, context: int = 0, batch: int = 1):
    """The layer-IR graph of one decoder step.

    Parameters
    ----------
    cfg : DecoderConfig
    phase : {"prefill", "decode"}
        ``"prefill"``: ``tokens`` prompt tokens at once (causal attention among them);
        ``"decode"``: one new token (``tokens`` must be 1) attending to ``context``
        cached positions plus itself.
    tokens : int
        New tokens per sequence in this step.
    context : int
        Positions already in the KV cache (inputs ``past.layer{i}.k``/``.v``, shape
        (batch, heads, context, head_dim)); 0 means no cache inputs.
    batch : int

    Returns
    -------
    Graph
        Inputs ``input_ids`` (batch, tokens) [+ the past K/V]; outputs ``logits``
        (batch, tokens, vocab) then ``layer{i}.attn.k_cache``/``v_cache`` for every layer.

    Raises
    ------
    ConfigError
        If ``cfg`` is not a DecoderConfig, on an unknown phase, shapes beyond
        ``max_positions``, or an activation tensor of more than :data:`MAX_ACTIVATIONS`
        elements (too large a ``batch``).
    """
    if not isinstance(cfg, DecoderConfig):
        raise ConfigError("cfg", cfg, "a DecoderConfig")
    if phase not in PHASES:
        raise ConfigError("phase", phase, ", ".join(PHASES))
    _check_int("tokens", tokens, 1)
    _check_int("context", context, 0)
    _check_int("batch", batch, 1)
    if phase == "decode" and tokens != 1:
        raise ConfigError("tokens", tokens, "1 in the decode phase")
    if context + tokens > cfg.max_positions:
        raise ConfigError("context+tokens", context + tokens, f"at most max_positions={cfg.max_positions}")
    widest = max(cfg.vocab, cfg.d_ff, cfg.heads * (context + tokens))  # logits, FFN, attention scores
    if batch * tokens * widest > MAX_ACTIVATIONS:
        most = max(1, MAX_ACTIVATIONS // (tokens * widest))
        raise ConfigError("batch", batch, f"an int from 1 to {most}: tensors of at most {MAX_ACTIVATIONS} elements")
    return _graph(cfg, phase, tokens, context, batch)


@functools.lru_cache(maxsize=64)
def _graph(cfg: DecoderConfig, phase: str, tokens: int, context: int, batch: int) -> Graph:
    w = decoder_weights(cfg)
    n = batch * tokens * cfg.d_model
    nodes = [
        _ew("embed.word", "embedding", ("input_ids",), n, table=w["wte"]),
        _ew("embed.position", "embedding", ("input_ids",), n, table=w["wpe"], index="position", offset=context),
        _ew("embed.sum", "add", ("embed.word", "embed.position"), n),
    ]
    x = "embed.sum"
    for i in range(cfg.layers):
        block, x = _block(w, cfg, i, x, batch, tokens, context)
        nodes += block
    nodes += [_ln(w, cfg, "ln_f", x, "ln_f", n), _linear(w, "logits", "ln_f", "head", batch * tokens, bias=False)]
    caches = [f"layer{i}.attn.{kv}_cache" for i in range(cfg.layers) for kv in "kv"]
    past = [f"past.layer{i}.{kv}" for i in range(cfg.layers) for kv in "kv"] if context else []
    meta = {"model": "decoder", "phase": phase, "tokens": tokens, "context": context, "batch": batch}
    return Graph(f"decoder_{phase}", ("input_ids", *past), nodes, ("logits", *caches), meta)


class Decoder:
    """A runnable decoder: prefill a prompt, then decode token by token with a KV cache.

    Parameters
    ----------
    cfg : DecoderConfig
    policy : Policy, str or None
        Quantisation of every GEMM (None: float32 reference).
    gemm_hook : callable, optional
        Passed to :func:`~hwgen.host.ir_exec.run_graph`.

    Raises
    ------
    ConfigError
        If ``cfg`` is not a DecoderConfig, ``policy`` not a Policy, a string or None, or
        ``gemm_hook`` neither callable nor None.
    """

    def __init__(self, cfg: DecoderConfig, policy: Policy | str | None = None, gemm_hook=None):
        if not isinstance(cfg, DecoderConfig):
            raise ConfigError("cfg", cfg, "a DecoderConfig")
        if policy is not None and not isinstance(policy, Policy | str):
            raise ConfigError("policy", policy, "a Policy, a policy string or None")
        if gemm_hook is not None and not callable(gemm_hook):
            raise ConfigError("gemm_hook", gemm_hook, "a callable or None")
        self.cfg = cfg
        self.policy = parse_policy(policy) if isinstance(policy, str) else policy
        self.gemm_hook: Callable[[GemmCall], np.ndarray | None] | None = gemm_hook
        self.cache: dict[str, np.ndarray] = {}
        self.context = 0

    def _step(self, ids: np.ndarray, phase: str) -> np.ndarray:
        allowed = f"a (batch, tokens) integer array of ids in 0..{self.cfg.vocab - 1}"
        try:
            raw = np.asarray(ids)
        except ValueError:  # ragged nested sequences
            raise ConfigError("input_ids", ids, allowed) from None
        # Casting first would truncate 1.5 to 1 and wrap 2**64; only integer ids in range pass.
        if raw.dtype.kind not in "iu" or raw.ndim != 2 or raw.size == 0 or raw.min() < 0 or raw.max() >= self.cfg.vocab:
            raise ConfigError("input_ids", ids, allowed)
        ids = raw.astype(np.int64)
        graph = decoder_graph(self.cfg, phase, ids.shape[1], self.context, ids.shape[0])
        inputs = {"input_ids": ids, **{f"past.{k}": v for k, v in self.cache.items()}}
        out = run_graph(graph, inputs, self.policy, self.gemm_hook)
        for i in range(self.cfg.layers):
            for kv in "kv":
                self.cache[f"layer{i}.{kv}"] = out[f"layer{i}.attn.{kv}_cache"]
        self.context += ids.shape[1]
        return out["logits"]

    def prefill(self, ids) -> np.ndarray:
        """Run the prompt ``ids`` (batch, tokens) from an empty cache; logits (batch, tokens, vocab)."""
        self.cache, self.context = {}, 0
        return self._step(ids, "prefill")

    def decode(self, ids) -> np.ndarray:
        """Append one token per sequence, ``ids`` (batch, 1); logits (batch, 1, vocab)."""
        if not self.context:
            raise ConfigError("context", 0, "a prefilled cache (call prefill first)")
        return self._step(ids, "decode")

    def generate(self, prompt, steps: int) -> np.ndarray:
        """Greedy continuation of ``prompt`` (batch, tokens) by ``steps`` tokens; returns the new ids."""
        _check_int("steps", steps, 0)
        if steps > self.cfg.max_positions:
            raise ConfigError("steps", steps, f"at most max_positions={self.cfg.max_positions}")
        logits = self.prefill(prompt)
        new = []
        for step in range(steps):
            nxt = logits[:, -1:].argmax(axis=-1)
            new.append(nxt)
            if step + 1 < steps:  # the last token's logits are not needed
                logits = self.decode(nxt)
        return np.concatenate(new, axis=1) if new else np.zeros((len(prompt), 0), np.int64)


def capture_decode_call(
    layer: str,
    policy: Policy | str,
    tokens: int = 64,
    context: int | None = None,
    cfg: DecoderConfig | None = None,
    seed: int = 0,
) -> GemmCall:
    """The quantised GEMV (``m = 1``) of decode-phase ``layer`` as a backend receives it (head 0 of a batched matmul).

    A prompt of ``tokens`` ids (``numpy.random.default_rng(seed)``, batch 1) is prefilled,
    greedy decode steps grow the KV cache to ``context`` positions, and the call of
    ``layer`` in the next decode step is returned: its operand codes, formats and the
    policy's accumulator, so the layer can run on a unit and be compared with
    :func:`hwgen.host.ir_exec.emulate_gemm` bit for bit. Every GEMM runs on the emulator.

    Parameters
    ----------
    layer : str
        A GEMM of the decode graph, e.g. ``"layer0.attn.q"``, ``"layer1.ffn.down"``,
        ``"layer0.attn.qk"`` or ``"logits"``.
    policy : Policy or str
        The quantisation policy (e.g. ``"w=int8,a=int8"``); not the float32 reference.
    tokens : int, default 64
        Prompt length (the prefill), 1..``cfg.max_positions - 1``.
    context : int or None
        Positions in the KV cache when ``layer`` runs, ``tokens``..``cfg.max_positions - 1``
        (None: ``tokens``, the first decode step after the prefill).
    cfg : DecoderConfig or None
        The decoder (None: ``DecoderConfig()``, the model ``hwgen run --model decoder`` runs).
    seed : int, default 0
        Seed of the prompt ids.

    Returns
    -------
    GemmCall
        ``a_codes`` of shape ``(1, k)``, ``b_codes`` of shape ``(k, n)``.

    Raises
    ------
    ConfigError
        If ``layer`` is not a GEMM of the decode graph (the message lists them), ``policy``
        is the float32 reference, ``tokens`` or ``context`` is out of range, or the
        layer's operands carry block scales (MX).
    """
    cfg = DecoderConfig() if cfg is None else cfg
    if not isinstance(cfg, DecoderConfig):
        raise ConfigError("cfg", cfg, "a DecoderConfig or None")
    if policy is not None and not isinstance(policy, Policy | str):
        raise ConfigError("policy", policy, "a Policy or a policy string such as 'w=int8,a=int8'")
    quant = parse_policy(policy) if isinstance(policy, str) else policy
    if quant is None:
        raise ConfigError("policy", policy, "a quantisation policy such as 'w=int8,a=int8' (not float32)")
    _check_int("tokens", tokens, 1, cfg.max_positions - 1)
    context = tokens if context is None else context
    _check_int("context", context, tokens, cfg.max_positions - 1)
    _check_int("seed", seed, 0, (1 << 128) - 1)
    gemms = [node.name for node in decoder_graph(cfg, "decode", 1, context).gemm_nodes()]
    if layer not in gemms:
        raise ConfigError("layer", layer, ", ".join(gemms))
    seen: list[GemmCall] = []
    armed = [False]

    def keep(call: GemmCall) -> None:
        if armed[0] and call.name == layer and call.index == 0:
            seen.append(call)

    model = Decoder(cfg, quant, keep)
    logits = model.prefill(np.random.default_rng(seed).integers(0, cfg.vocab, (1, tokens)))
    while True:
        nxt = logits[:, -1:].argmax(axis=-1)
        armed[0] = model.context == context
        logits = model.decode(nxt)
        if armed[0]:
            break
    if not seen:
        raise ConfigError("layer", layer, "a layer whose operands have plain codes (not MX block formats)")
    return seen[0]
