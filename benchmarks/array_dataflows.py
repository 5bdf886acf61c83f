"""Cycles and utilisation of the systolic array's dataflows on transformer-shaped GEMMs.

The cycle counts come from each dataflow's exact cycle formula, which the test suite
checks against RTL simulation (Amaranth and cocotb) cycle for cycle. Shapes are
all-MiniLM-L6-v2's (hidden 384, FFN 1536, 128 tokens) and its decode-shaped M = 1
counterparts. The counts do not depend on the dtype (float arrays K-tile like integer
ones; their K-tile partials add on the host). Run:
``python benchmarks/array_dataflows.py [--size 8 16] [--dtype bfloat16]``.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from hwgen.emulation.units.systolic_config import ACCS, DATAFLOWS, ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm, utilisation

SHAPES = {
    "QKV proj, prefill": (128, 384, 1152),
    "attn out, prefill": (128, 384, 384),
    "FFN up, prefill": (128, 384, 1536),
    "FFN down, prefill": (128, 1536, 384),
    "QK^T (1 head)": (128, 32, 128),
    "FFN up, decode M=1": (1, 384, 1536),
    "attn out, decode M=1": (1, 384, 384),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[8, 16], help="square array sizes (default 8 16)")
    parser.add_argument("--dtype", choices=list(ACCS), default="int8", help="operand format (default int8)")
    args = parser.parse_args(argv)
    table = Table(title=f"systolic dataflows, {args.dtype}: cycles (utilisation) per GEMM, best marked *")
    table.add_column("GEMM MxKxN")
    columns = [(size, df) for size in args.size for df in DATAFLOWS]
    for size, df in columns:
        table.add_column(f"{size}x{size} {df}", justify="right")
    for name, (m, k, n) in SHAPES.items():
        cells = []
        for size, df in columns:
            cfg = ArrayConfig(rows=size, cols=size, dataflow=df, dtype=args.dtype, acc=ACCS[args.dtype][0])
            plan = plan_gemm(cfg, m, k, n)
            cycles = gemm_cycles(plan)
            cells.append((cycles, f"{cycles:,} ({utilisation(plan, cycles):.0%})"))
        best = min(c for c, _ in cells)
        table.add_row(f"{name} {m}x{k}x{n}", *(text + (" *" if c == best else "") for c, text in cells))
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
