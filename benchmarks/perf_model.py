"""MiniLM-L6 on each target: predicted cycles, top RUN cycles, utilisation, host traffic, energy, and mapping time."""

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable like benchmarks/run.py does.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.host.minilm import load_minilm, minilm_graph
from hwgen.host.perf_model import totals
from hwgen.host.quant_policy import parse_policy
from hwgen.host.report import analyse, top_info
from hwgen.host.targets import parse_target

__all__ = ["TARGETS", "main", "target_rows"]

#: Targets compared by default.
TARGETS = ("systolic:16x16:ws", "systolic:16x16:auto", "systolic:8x8:ws", "bitslice:4x4", "sparse:16:2:4", "pim:16ch")


def target_rows(tokens: int, formats: str, targets=TARGETS) -> list[dict]:
    """One dict of whole-model totals per target (``totals`` plus ``target`` and ``map_seconds``)."""
    graph = minilm_graph(load_minilm(), tokens)
    policy = parse_policy(formats)
    rows = []
    for text in targets:
        target = parse_target(text)
        start = time.perf_counter()
        perfs = analyse(graph.workloads(), target, policy, top_info(target, policy.default))
        rows.append({"target": text, "map_seconds": time.perf_counter() - start, **totals(perfs)})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=128, help="tokens per sentence (default 128)")
    parser.add_argument("--formats", default="w=int8,a=int8,acc=int32", help="quantisation policy")
    args = parser.parse_args(argv)
    table = Table(title=f"MiniLM-L6, {args.tokens} tokens, {args.formats}")
    for col in ("target", "cycles", "top RUN cycles", "util", "host MB", "energy µJ", "map s"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for r in target_rows(args.tokens, args.formats):
        top = "-" if r["top_cycles"] is None else f"{r['top_cycles']:,}"
        table.add_row(
            r["target"], f"{r['cycles']:,}", top, f"{r['utilisation']:.1%}", f"{r['host_bytes'] / 1e6:,.2f}",
            f"{r['energy_pj'] / 1e6:,.1f}", f"{r['map_seconds']:.2f}",
        )  # fmt: skip
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
