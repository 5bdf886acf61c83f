"""``hwgen report``: regenerate the fidelity study and write the plots (roofline, utilisation, accuracy vs energy)."""

from __future__ import annotations

import argparse

from rich.console import Console

from hwgen.emulation.errors import ConfigError

__all__ = ["register", "run"]

_DEFAULT_OUT = "build/report"


def register(sub: argparse._SubParsersAction, arch) -> None:
    """Add ``hwgen report`` to the subcommands."""
    p = sub.add_parser(
        "report",
        help="write the report plots: roofline, per-layer utilisation, accuracy vs energy",
        description="Map MiniLM onto the target and plot the roofline and per-layer utilisation; plot the "
        "fidelity study's cosine against the energy model, regenerating the study when its data is absent.",
    )
    p.add_argument("--out", metavar="DIR", default=_DEFAULT_OUT, help=f"output folder (default: {_DEFAULT_OUT})")
    p.add_argument("--target", default="systolic:16x16:ws", help="target of the roofline (default: systolic:16x16:ws)")
    p.add_argument("--formats", default="w=int8,a=int8,acc=int32", help="policy of the roofline/utilisation plots")
    p.add_argument("--tokens", type=int, default=128, help="tokens of the analysed MiniLM graph (default: 128)")
    p.add_argument("--fidelity", metavar="DIR", default="build/fidelity", help="fidelity study data folder")
    p.add_argument("--regenerate", action="store_true", help="rerun the fidelity study even when its data exists")


def run(args: argparse.Namespace) -> int:
    """Run ``hwgen report``; the exit status."""
    from hwgen.cli.options import writable_dir
    from hwgen.cli.run_options import parsed_option
    from hwgen.host.quant_policy import parse_policy
    from hwgen.host.targets import parse_target

    target, policy = (
        parsed_option("target", args.target, parse_target),
        parsed_option("formats", args.formats, parse_policy),
    )
    if policy is None:
        raise ConfigError("formats", args.formats, "a quantisation policy such as w=int8,a=int8,acc=int32")
    if args.tokens < 1:
        raise ConfigError("tokens", args.tokens, "an integer >= 1")
    if not args.fidelity.strip():
        raise ConfigError("fidelity", args.fidelity, "a folder path")
    out = writable_dir(args.out, "out")
    console = Console(soft_wrap=True)  # paths in messages are never cut
    written = _perf_plots(console, out, target, policy, args.tokens)
    written += _accuracy_energy(console, out, target, args)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def _perf_plots(console, out, target, policy, tokens) -> list:
    from hwgen.host.minilm import load_minilm, minilm_graph
    from hwgen.host.report import analyse, perf_records, plot_roofline, plot_utilisation, top_info, write_json

    graph = minilm_graph(load_minilm(), tokens)
    with console.status(f"mapping MiniLM ({tokens} tokens) onto {target}"):
        perfs = analyse(graph.workloads(), target, policy, top_info(target, policy.default))
    title = f"MiniLM-L6, {tokens} tokens, {target}, {policy}"
    return [
        write_json(perf_records(perfs), out / "layers.json"),
        plot_roofline(perfs, out / "roofline.png", title=title),
        plot_utilisation(perfs, out / "utilisation.png", title=title),
    ]


def _accuracy_energy(console, out, target, args) -> list:
    """Cosine of each fidelity-study policy against the energy of MiniLM under that policy."""
    from pathlib import Path

    from hwgen.host.minilm import load_minilm, minilm_graph
    from hwgen.host.report import analyse, plot_accuracy_energy, write_json

    rows = _fidelity_rows(console, args)
    console.print(f"fidelity report: {Path(args.fidelity) / 'fidelity.md'} ({len(rows)} policies)")
    graph = minilm_graph(load_minilm(), args.tokens)
    points = []
    for row in rows:
        perfs = analyse(graph.workloads(), target, row["policy"])
        energy = sum(p.energy.total for p in perfs) / 1e6
        points.append({"label": row["label"], "cosine": row["cosine"], "energy_uj": energy})
    title = f"MiniLM-L6 embeddings: accuracy vs energy ({args.tokens} tokens on {target})"
    return [
        write_json(points, out / "accuracy_energy.json"),
        plot_accuracy_energy(points, out / "accuracy_energy.png", title),
    ]


def _fidelity_rows(console, args) -> list[dict]:
    """``{label, policy, cosine}`` of every study row, from ``hwgen.host.fidelity`` (regenerated when absent)."""
    from hwgen.host import fidelity

    return fidelity.study_rows(args.fidelity, regenerate=args.regenerate, console=console)
