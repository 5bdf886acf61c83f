"""Run a transformer on a target: quantise it, price every layer, execute it on a backend (what ``hwgen run`` does).

>>> from hwgen.host import run
>>> result = run("minilm", "systolic:8x8:auto", layer="layer0.attn.q", sentences=["a cat"])  # doctest: +SKIP
>>> result.layer_run.bit_exact, result.cycles  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.host.backends import BACKENDS, get_backend
from hwgen.host.perf_model import DEFAULT_BANDWIDTH
from hwgen.host.run_checks import MODELS, check_options, checked_policy, checked_target
from hwgen.host.run_result import EmbeddingCheck, GenerationCheck, LayerCheck, LayerTable, RunResult

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_SENTENCES",
    "DEFAULT_TARGET",
    "MODELS",
    "RunResult",
    "check_layer",
    "run",
]

DEFAULT_TARGET = "systolic:16x16:ws"
DEFAULT_FORMATS = "w=int8,a=int8,acc=int32"
#: Sentences embedded when none are given.
DEFAULT_SENTENCES = (
    "A man is playing a guitar on the stage.",
    "The new movie is awesome and the cast is great.",
    "Systolic arrays stream activations past stationary weights.",
    "It will rain in the afternoon, so take an umbrella.",
)
RTL_COLUMNS = 16  # output columns of a layer the rtl backend runs unless ``columns`` says otherwise
DEFAULT_CONTEXT = 128  # the decoder's KV-cache length for the decode step
DECODER_TOKENS = 64  # the decoder's prefill length
DECODE_STEPS = 4  # greedy tokens generated after the prefill
#: Progress of a stage: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]


def run(
    model: str = "minilm",
    target=DEFAULT_TARGET,
    formats=DEFAULT_FORMATS,
    backend="emulator",
    *,
    sentences: Sequence[str] | None = None,
    model_dir=None,
    tokens: int | None = None,
    context: int | None = None,
    phase: str | None = None,
    layer: str | None = None,
    columns: int | None = None,
    device=None,
    programs: bool = False,
    simulator: str | None = None,
    scratchpad: tuple[int, int, int] | None = None,
    bandwidth: float | None = None,
    execute: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """Quantise ``model``, map every layer onto ``target`` and price it, then run the model on ``backend``.

    Parameters
    ----------
    model : {"minilm", "decoder"}
    target : str or target
        Text such as ``"systolic:16x16:ws"`` (forms: systolic:RxC[:ws|is|os|auto], bitslice:RxC,
        sparse:L[:N:M[:S]], pim:Cch, prefill=T,decode=T), or a parsed target.
    formats : str or Policy
        The quantisation policy, e.g. ``"w=int8,a=int8,acc=int32"``.
    backend : str or Backend
        A registered name (:data:`hwgen.host.backends.BACKENDS`; ``rtl`` after ``import hwgen.sim``)
        or a backend object. Names other than emulator, device and rtl are built with those of
        ``info`` and ``dataflow`` that their factory takes.
    sentences : sequence of str, optional
        MiniLM: the sentences to embed (default :data:`DEFAULT_SENTENCES`).
    model_dir : path, optional
        MiniLM: another checkpoint of all-MiniLM-L6-v2's architecture.
    tokens : int, optional
        Tokens of the analysed graph (MiniLM: the longest sentence; decoder: 64).
    context : int, optional
        Decoder: the decode step's KV-cache length (default 128).
    phase : {"prefill", "decode", "both"}, optional
        Decoder: the phases analysed (default both).
    layer : str, optional
        MiniLM: run only this GEMM layer as a program and compare it with the emulator.
    columns : int, optional
        With ``layer``: its first N output columns (rtl default 16).
    device : str or Device, optional
        The device of the ``device`` backend.
    programs : bool
        Emulator: run GEMMs as programs on the top's model.
    simulator : str, optional
        The ``rtl`` backend's simulator.
    scratchpad : (int, int, int), optional
        The top's W, A, O scratchpad depths in words (default 64, 256, 256).
    bandwidth : float, optional
        Host bytes per cycle of the roofline (default 8).
    execute : bool
        False: the per-layer tables only, nothing is run.
    progress : callable, optional
        ``progress(stage, done, total)`` as the mapping and the runs advance.

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        Naming the first argument whose value (or combination with another) is not allowed.
    hwgen.host.program.ProgramError, hwgen.host.driver.DeviceError
        If the backend fails.
    """
    policy = checked_policy(formats)
    target = checked_target(target)
    check_options(locals())
    bandwidth = DEFAULT_BANDWIDTH if bandwidth is None else float(bandwidth)
    from hwgen.host.report import top_info

    info = top_info(target, policy.default, None if scratchpad is None else tuple(scratchpad))
    opts = dict(layer=layer, columns=columns, device=device, programs=programs, simulator=simulator)
    opts["layer_phase"] = "decode" if model == "decoder" else "prefill"
    make = (lambda: _make_backend(backend, target, info, **opts)) if execute else (lambda: None)
    tick = progress or (lambda stage, done, total: None)
    common = dict(target=str(target), formats=str(policy), bandwidth=bandwidth)
    if model == "decoder":
        return _run_decoder(target, policy, info, tokens, context, phase, layer, columns, make, tick, common)
    return _run_minilm(target, policy, info, sentences, model_dir, tokens, layer, columns, make, tick, common)


def _run_minilm(target, policy, info, sentences, model_dir, tokens, layer, columns, make, tick, common) -> RunResult:
    from hwgen.host.minilm import load_minilm, minilm_graph

    sentences = list(sentences) if sentences is not None else list(DEFAULT_SENTENCES)
    loaded = load_minilm(model_dir)
    tokens = tokens if tokens is not None else max(len(s) for s in loaded.token_ids(sentences))
    graph = minilm_graph(loaded, tokens)
    check_layer(layer, [node.name for node in graph.gemm_nodes()], policy)
    backend = make()
    title = f"MiniLM-L{loaded.layers}, {tokens} tokens"
    table = _table(graph.workloads(), target, policy, info, title, None, common["bandwidth"], tick)
    result = RunResult("minilm", tokens=tokens, tables=(table,), description=loaded.describe(),
                       model_source=dataclasses.asdict(loaded.source), **common)  # fmt: skip
    if backend is None:
        return result
    if layer:
        from hwgen.host.minilm import capture_gemm_call

        call = capture_gemm_call(layer, sentences, policy, model_dir=model_dir)
        check = _layer_run(backend, call, columns, tick)
        return dataclasses.replace(result, layer_run=check)
    return dataclasses.replace(result, embeddings=_embed(backend, sentences, policy, model_dir, tick))


def _run_decoder(target, policy, info, tokens, context, phase, layer, columns, make, tick, common) -> RunResult:
    from hwgen.host.decoder import DecoderConfig, decoder_graph

    cfg = DecoderConfig()
    tokens = tokens if tokens is not None else DECODER_TOKENS
    context = context if context is not None else DEFAULT_CONTEXT
    phases = ("prefill", "decode") if phase in (None, "both") else (phase,)
    # Every graph is built (and so checked) before the first table is priced.
    # A prefill starts from an empty KV cache; only the decode step attends to ``context`` cached positions.
    shapes = {"prefill": (tokens, 0), "decode": (1, context)}
    limit = cfg.max_positions
    if "prefill" in phases and tokens > limit:
        raise ConfigError("tokens", tokens, f"1..{limit} (the decoder's max_positions={limit})")
    if "decode" in phases and context + 1 > limit:
        raise ConfigError("context", context, f"1..{limit - 1}: cache and new token within max_positions={limit}")
    graphs = {p: decoder_graph(cfg, p, *shapes[p]) for p in phases}
    if layer is not None and "decode" not in phases:
        raise ConfigError("layer", layer, "a decode-phase layer: phase 'decode' or 'both' (a decoder layer is a GEMV)")
    decode_layers = [n.name for n in graphs["decode"].gemm_nodes()] if "decode" in phases else []
    check_layer(layer, decode_layers if layer is not None else sorted(
        {n.name for g in graphs.values() for n in g.gemm_nodes()}), policy)  # fmt: skip
    backend = make()
    if backend is not None and tokens + DECODE_STEPS > limit:
        raise ConfigError("tokens", tokens, f"1..{limit - DECODE_STEPS} for a prefill and "
                          f"{DECODE_STEPS} generated tokens within max_positions={limit}")  # fmt: skip
    tables = []
    for name, graph in graphs.items():
        title = f"decoder {name}, " + (f"{tokens} tokens" if name == "prefill" else f"1 token, context {context}")
        tables.append(_table(graph.workloads(), target, policy, info, title, name, common["bandwidth"], tick))
    if backend is not None and layer is not None:
        from hwgen.host.decoder import capture_decode_call

        call = capture_decode_call(layer, policy, tokens=tokens, context=context, cfg=cfg)
        check = _layer_run(backend, call, columns, tick)
        return RunResult("decoder", tokens=tokens, tables=tuple(tables), context=context, layer_run=check, **common)
    generation = None if backend is None else _generate(backend, cfg, tokens, policy, tick)
    return RunResult("decoder", tokens=tokens, tables=tuple(tables), context=context, generation=generation, **common)


def check_layer(layer: str | None, gemm_names: list[str], policy) -> None:
    """Check ``layer`` and the policy's per-layer globs against the model's GEMM layers.

    Raises
    ------
    ConfigError
        If ``layer`` names no GEMM of the model, or an override glob matches none.
    """
    if layer is not None and layer not in gemm_names:
        raise ConfigError("layer", layer, "a GEMM layer of the model: " + ", ".join(gemm_names))
    for glob in policy.unmatched_globs(gemm_names):
        raise ConfigError("formats", glob, "an override glob that matches a layer, e.g. 'layer0.*' or '*.ffn.*'")


def _table(workloads, target, policy, info, title, phase, bandwidth, tick) -> LayerTable:
    from hwgen.host.report import analyse

    stage = f"mapping onto {target}"
    tick(stage, 0, len(workloads))
    perfs = analyse(workloads, target, policy, info, phase, bandwidth, lambda done, total: tick(stage, done, total))
    return LayerTable(title, phase, tuple(perfs))


def _on_unit(single, backend: str, layer, programs: bool) -> bool:
    """True when the run executes on the target's own unit (its models or its RTL) rather than the accelerator top.

    The top hosts the systolic array in the ws and is dataflows; every other target, and the
    output-stationary array, runs its mapped layers on its own unit.
    """
    on_top = single.top_dataflow is not None
    return backend in ("emulator", "rtl") and (bool(layer) or backend == "rtl") and not on_top and not programs


def _make_backend(backend, target, info, layer, columns, device, programs, simulator, layer_phase="prefill"):
    """The run's backend, opened (a device answers its PING here, before any long work).

    ``layer_phase``: the phase whose target runs a ``layer`` (the decoder's layer runs are decode GEMVs).
    """
    if not isinstance(backend, str):
        return backend
    single = target.for_phase(layer_phase if layer else "prefill")
    if _on_unit(single, backend, layer, programs):
        from hwgen.host.unit_layers import UnitBackend

        options = {} if backend == "emulator" or simulator is None else {"simulator": simulator}
        return UnitBackend(single, backend, **options)
    flow = single.top_dataflow or ("os" if single.hosts_on_top else "ws")
    on_top = backend != "emulator" or programs or bool(layer)
    if flow == "os" and on_top:
        raise ConfigError("target", str(target), "a ws, is or auto dataflow: the accelerator top runs ws/is programs")
    flow = "ws" if flow == "os" else flow
    if backend == "emulator":
        return get_backend("emulator", info=info, programs=programs or bool(layer), dataflow=flow)
    if backend == "device":
        try:
            return get_backend("device", device=device, dataflow=flow)
        except OSError as exc:  # pyserial's SerialException is an OSError
            raise ConfigError("device", device, f"a device that can be opened (here: {exc})") from None
    if backend == "rtl":
        memories = {"w_depth": info.w_depth, "a_depth": info.a_depth, "o_depth": info.o_depth}
        extra = {} if simulator is None else {"simulator": simulator}
        return get_backend("rtl", rows=single.rows, cols=single.cols, dtype=info.dtype, dataflow=flow,
                           memories=memories, **extra)  # fmt: skip
    takes = inspect.signature(BACKENDS[backend]).parameters
    return get_backend(backend, **{k: v for k, v in (("info", info), ("dataflow", flow)) if k in takes})


def _embed(backend, sentences, policy, model_dir, tick) -> EmbeddingCheck:
    from hwgen.host.minilm import embed

    total = len(sentences)
    ref_stage, stage = "float32 reference", f"{backend.name} backend ({policy})"
    tick(ref_stage, 0, total)
    ref = embed(sentences, None, progress=lambda _, done, __: tick(ref_stage, done, total), model_dir=model_dir)
    tick(stage, 0, total)
    got = embed(sentences, policy, backend.gemm_hook, lambda _, done, __: tick(stage, done, total), model_dir=model_dir)
    cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    return EmbeddingCheck(backend.name, got, ref, tuple(float(c) for c in cos))


def _layer_run(backend, call, columns, tick) -> LayerCheck:
    from hwgen.host.ir_exec import emulate_gemm

    width = np.shape(call.b_codes)[1]
    if columns is not None and columns > width:
        raise ConfigError("columns", columns, f"1..{width}, the output columns of {call.name}")
    columns = columns if columns is not None else (RTL_COLUMNS if backend.name == "rtl" else None)
    if columns is not None:
        call = dataclasses.replace(call, b_codes=np.asarray(call.b_codes)[:, :columns])
    m, k = np.shape(call.a_codes)
    n = np.shape(call.b_codes)[1]
    unit_layer = backend.check_layer(call)
    # A unit may compute another GEMM than the layer's (N:M-pruned weights): the emulator computes that one.
    reference = getattr(unit_layer, "call", None) or call
    stage = f"running {call.name} ({m}x{k}x{n}) on the {backend.name} backend"
    tick(stage, 0, 1)
    done = backend.run_layer(call)
    tick(stage, 1, 1)
    want = np.asarray(emulate_gemm(reference), np.int64)
    exact = bool(np.array_equal(np.asarray(done.codes, np.int64), want))
    return LayerCheck(call.name, (m, k, n), backend.name, exact, len(done.measured_cycles),
                      sum(done.measured_cycles), sum(done.predicted_cycles), done.cycle_error)  # fmt: skip


def _generate(backend, cfg, tokens, policy, tick) -> GenerationCheck:
    """Greedy generation on the backend next to the float32 reference: logits cosine and agreeing tokens."""
    from hwgen.host.decoder import Decoder

    steps = DECODE_STEPS
    stage = f"prefill {tokens} tokens and decode {steps} on the {backend.name} backend"
    tick(stage, 0, 1)
    prompt = np.random.default_rng(0).integers(0, cfg.vocab, (1, tokens))
    ref_model, model = Decoder(cfg), Decoder(cfg, policy, backend.gemm_hook)
    ref, got = ref_model.prefill(prompt), model.prefill(prompt)
    ref_ids, got_ids = ref_model.generate(prompt, steps), model.generate(prompt, steps)
    tick(stage, 1, 1)
    a, b = ref.reshape(-1, cfg.vocab), got.reshape(-1, cfg.vocab)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return GenerationCheck(backend.name, float(cos.mean()), int(np.sum(ref_ids == got_ids)), steps)
