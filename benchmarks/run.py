"""Run the registered benchmarks and print hwgen-vs-baseline timings as a table."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import fp8_codec, formats_codec, block_rounding, arith  # noqa: F401, I001  (importing registers the entries, in table order)
from benchmarks.registry import BENCHMARKS, Benchmark

__all__ = ["main", "time_best"]


def time_best(fn, repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":  # compare bit patterns; NaN == NaN
        return a.shape == b.shape and np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))
    return np.array_equal(a, b)


def _row(bench: Benchmark, size: int, repeats: int) -> list[str]:
    case = bench.setup(size)
    t_hw = time_best(case.hwgen, repeats)
    t_base = time_best(case.baseline, repeats)
    if case.compare:
        match = "yes" if _same(case.hwgen(), case.baseline()) else "[red]NO[/red]"
    else:
        match = "n/a"
    elements = case.elements or size
    return [
        bench.name,
        bench.baseline,
        f"{elements:,}",
        f"{t_hw * 1e3:.2f} ms",
        f"{elements / t_hw / 1e6:,.0f} M/s",
        f"{t_base * 1e3:.2f} ms",
        f"{t_base / t_hw:.2f}x",
        match,
    ]


def main(argv=None) -> int:
    """Parse ``argv``, run the selected benchmarks, print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10**7, help="elements per benchmark (default 10^7)")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run a single benchmark by name")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats; the best is reported")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeats < 1:
        parser.error("--size and --repeats must be positive")
    table = Table(title="hwgen benchmarks (ratio = baseline time / hwgen time; >1 means hwgen is faster)")
    for col in (
        "name",
        "baseline",
        "elements",
        "hwgen",
        "hwgen rate",
        "baseline time",
        "ratio",
        "bit-exact",
    ):
        table.add_column(col, justify="left" if col in ("name", "baseline") else "right")
    selected = [BENCHMARKS[args.only]] if args.only else list(BENCHMARKS.values())
    for bench in selected:
        table.add_row(*_row(bench, args.size, args.repeats))
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
