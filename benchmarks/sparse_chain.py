"""Sparse DSP chain: cycles and effective MACs per multiplier of dense vs 2:4, 1:4 and 1:8 GEMVs.

Run ``python benchmarks/sparse_chain.py``. Model cycles come from
``hwgen.emulation.units.sparse_dsp_plan``; the measured column streams a small GEMV through
the chain's RTL in the Amaranth simulator and counts cycles from the first accepted
beat to the last result (checked bit for bit against the golden model). A second table
compares the default layout (activation window ``L``, ``M/N`` results per beat) with
the N-results layout (modes ``N:M:N``, window ``L*M/N**2``, ``N`` results per beat).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.emulation.units.sparse_dsp_plan import gemv_cost

__all__ = ["main", "measure_rtl_cycles"]


def measure_rtl_cycles(cfg: SparseChainConfig, mode: int, rows: int, cols: int, seed: int = 0) -> int:
    """Stream one random N:M GEMV through the RTL (Amaranth simulator) at full rate; return its cycles.

    Raises
    ------
    AssertionError
        If an output differs from the golden model.
    """
    from amaranth.sim import Simulator

    from hwgen.dataflow.sparse_chain import SparseDspChain
    from hwgen.sim.sparse_chain_vectors import check_outputs, make_case

    case = make_case(cfg, mode, rows, cols, np.random.default_rng(seed))
    weights, acts = case.payloads(cfg)
    dut = SparseDspChain(cfg)
    outs, stamps, first = [], [], []

    async def bench(ctx):
        ctx.set(dut.o_out.ready, 1)
        cycle = 0
        while len(outs) < len(case.expected):
            if weights:
                ctx.set(dut.i_weight.payload.as_value(), weights[0])
                ctx.set(dut.i_act.payload.as_value(), acts[0])
            ctx.set(dut.i_weight.valid, bool(weights))
            ctx.set(dut.i_act.valid, bool(weights))
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i_weight.ready, dut.o_out.valid, dut.o_out.payload.as_value()
            )
            if weights and ready:
                first.append(cycle)
                weights.pop(0)
                acts.pop(0)
            if valid:
                outs.append(payload)
                stamps.append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    problems = check_outputs(cfg, case, outs)
    assert not problems, problems
    return stamps[-1] - first[0] + 1


def main(argv=None) -> int:
    """Print the cycle table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096, help="weight rows of the modelled GEMV")
    parser.add_argument("--cols", type=int, default=4096, help="weight columns of the modelled GEMV")
    parser.add_argument("--rtl-rows", type=int, default=16, help="rows of the RTL-measured GEMV (0: skip)")
    parser.add_argument("--rtl-cols", type=int, default=64, help="columns of the RTL-measured GEMV")
    parser.add_argument("--packed", action="store_true", help="two tokens per multiplier")
    args = parser.parse_args(argv)
    cfg = SparseChainConfig(length=16, group_size=2, sparse_modes=((2, 4), (1, 4), (1, 8)), packed=args.packed)
    dense = gemv_cost(cfg, args.rows, args.cols, 0)
    table = Table(
        title=f"{cfg.top_name}: {args.rows}x{args.cols} GEMV (model) and "
        f"{args.rtl_rows}x{args.rtl_cols} (RTL, Amaranth simulator)"
    )
    # speed-up: dense cycles / mode cycles; MAC/mult/cyc: dense-equivalent MACs per multiplier per cycle.
    for col in ("mode", "beats", "cycles", "speed-up", "MAC/mult/cyc", "RTL cycles", "RTL model"):
        table.add_column(col, justify="right")
    for code, (n, m) in enumerate(cfg.modes):
        cost = gemv_cost(cfg, args.rows, args.cols, code)
        rtl, want = "-", "-"
        if args.rtl_rows > 0:
            rtl = str(measure_rtl_cycles(cfg, code, args.rtl_rows, args.rtl_cols))
            want = str(gemv_cost(cfg, args.rtl_rows, args.rtl_cols, code).cycles)
        table.add_row(
            "dense" if code == 0 else f"{n}:{m}",
            f"{cost.beats:,}",
            f"{cost.cycles:,}",
            f"{dense.cycles / cost.cycles:.3f}x",
            f"{cost.macs_per_multiplier_cycle:.3f}",
            rtl,
            want,
        )
    console = Console()
    console.print(table)
    console.print(_layout_table(args))
    return 0


def _layout_table(args) -> Table:
    """Default layout vs N results per beat for 2:4, 1:4 and 1:8 at L=16: same cycles, wider activations."""
    layouts = {
        "default (M/N)": SparseChainConfig(length=16, group_size=2, packed=args.packed),
        "N results": SparseChainConfig(
            length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1)), packed=args.packed
        ),
    }
    table = Table(title=f"Result layouts, L=16: {args.rows}x{args.cols} GEMV (model), RTL as above")
    # acts/beat: activations a beat uses per token (the mode's span); vs dense: MAC/mult/cyc over dense's.
    columns = ("layout", "mode", "window", "acts/beat", "results/beat", "beats", "cycles", "MAC/mult/cyc", "vs dense")
    for col in (*columns, "RTL cycles", "RTL model"):
        table.add_column(col, justify="right")
    for name, cfg in layouts.items():
        dense = gemv_cost(cfg, args.rows, args.cols, 0).macs_per_multiplier_cycle
        for code in range(1, len(cfg.modes)):
            cost = gemv_cost(cfg, args.rows, args.cols, code)
            rtl, want = "-", "-"
            if args.rtl_rows > 0:
                rtl = str(measure_rtl_cycles(cfg, code, args.rtl_rows, args.rtl_cols))
                want = str(gemv_cost(cfg, args.rtl_rows, args.rtl_cols, code).cycles)
            n, m = cfg.nm(code)
            table.add_row(
                name,
                f"{n}:{m}",
                str(cfg.window),
                str(cost.acts_per_beat),
                str(cost.results_per_beat),
                f"{cost.beats:,}",
                f"{cost.cycles:,}",
                f"{cost.macs_per_multiplier_cycle:.3f}",
                f"{cost.macs_per_multiplier_cycle / dense:.3f}x",
                rtl,
                want,
            )
    return table


if __name__ == "__main__":
    sys.exit(main())
