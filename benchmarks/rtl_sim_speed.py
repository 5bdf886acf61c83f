"""RTL simulation speed of the 8x8 INT8 array: batched harness vs the per-cycle cocotb bench.

Both runs simulate the generated Verilog on the same simulator and check every output
bit-exactly; the table gives simulated useful MACs per second of wall time (simulator
run only, the C++ build excluded) and the batched/per-cycle ratio measured in this run.
Target (issue 4): >= 2 M simulated MAC/s for the 8x8 array.
Run: ``python benchmarks/rtl_sim_speed.py [--m 256] [--simulator icarus]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.sim.batch_run import BatchRunner
from hwgen.sim.regression import run_regression
from hwgen.sim.systolic_vectors import random_operands


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=256, help="batched GEMM is m x m x m (default 256)")
    parser.add_argument("--baseline-m", type=int, default=32, help="per-cycle GEMM is m x m x m (default 32)")
    parser.add_argument("--simulator", default="verilator", help="verilator or icarus (default verilator)")
    args = parser.parse_args(argv)
    cfg = ArrayConfig(rows=8, cols=8)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        with console.status(f"building the batch harness on {args.simulator}"):
            beats = args.m * args.m * -(-args.m // 8)
            runner = BatchRunner(cfg, Path(tmp) / "batch", args.simulator, depth=beats + 8)
        with console.status(f"batched {args.m}^3 GEMM"):
            a, b = random_operands(cfg, args.m, args.m, args.m, np.random.default_rng(0))
            batch = runner.run(a, b)
        with console.status(f"per-cycle cocotb bench, {args.baseline_m}^3 GEMM"):
            shape = (args.baseline_m,) * 3
            loop = run_regression(cfg, Path(tmp) / "loop", args.simulator, (shape,))
    loop_rate = args.baseline_m**3 / loop.sim_seconds
    table = Table(title=f"RTL simulation speed, 8x8 INT8 WS array on {args.simulator}")
    for col in ("bench", "GEMM", "cycles", "bit-exact", "seconds", "simulated MAC/s"):
        table.add_column(col, justify="right")
    table.add_row(
        "batched harness",
        f"{args.m}^3",
        f"{batch.cycles:,}",
        str(batch.passed),
        f"{batch.wall_seconds:.2f}",
        f"{batch.m * batch.k * batch.n / batch.wall_seconds / 1e6:.2f} M",
    )
    table.add_row(
        "per-cycle cocotb",
        f"{args.baseline_m}^3",
        f"{loop.cycles:,}",
        str(loop.passed),
        f"{loop.sim_seconds:.2f}",
        f"{loop_rate / 1e6:.3f} M",
    )
    console.print(table)
    rate = batch.m * batch.k * batch.n / batch.wall_seconds
    console.print(
        f"batched / per-cycle: {rate / loop_rate:.1f}x; target >= 2 M MAC/s: "
        f"{'met' if rate >= 2e6 else 'NOT met'} ({rate / 1e6:.2f} M MAC/s)"
    )
    return 0 if batch.passed and loop.passed else 1


if __name__ == "__main__":
    sys.exit(main())
