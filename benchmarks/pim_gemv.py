"""PIM decode GEMV: calibration case against the AiM simulator, and 4096 x 4096 cycles against the systolic array."""

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable like benchmarks/run.py does.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.emulation.pim_model import PimConfig, PimRun, run_program
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm
from hwgen.host.pim_mapping import calibration_commands, gemv_cycles, plan_gemv

__all__ = ["AIM_CALIBRATION_CYCLES", "AIM_RESIDUAL_NOTE", "calibration_cycles", "calibration_run", "gemv_table", "main"]

#: Cycles the SK hynix AiM simulator reports for 10 x (WR_BIAS, MAC_ABK over 64 columns, RD_MAC) + ISR_EOC
#: at tCK 0.5 ns (``memory_system_cycles`` of cornell-m3/aim_simulator test/golden/*/uni_1.txt, trace
#: test/bcast_1.trace; docs/AIM_MEMORY_SYSTEM.md).
AIM_CALIBRATION_CYCLES = 2860

#: Why the AiM figure is larger than the channel's: what its run counts beyond the last RD_MAC data.
AIM_RESIDUAL_NOTE = (
    "The AiM run ends with ISR_EOC, a host barrier with no channel command: it is decoded the tick "
    "after the last RD_MAC returns and retired one tick later."
)


def calibration_run() -> PimRun:
    """Our model's run of the calibration case on one channel at AiM timing (timing only)."""
    cfg = PimConfig()
    return run_program(cfg, calibration_commands(cfg, rounds=10, columns=64), values=False)


def calibration_cycles() -> int:
    """Our model's cycles for the calibration case on one channel at AiM timing."""
    return calibration_run().cycles


def gemv_table(n: int, k: int, channels: tuple[int, ...]) -> list[tuple[str, int]]:
    """(design, cycles) for y = W x, W ``n x k``: PIM at 1..N channels, systolic 8x8 and 16x16 with M = 1."""
    pim = PimConfig(rows=16384)  # AiM bank: 16K rows of 2 KB
    rows = [(f"PIM {ch} channel(s) x 16 banks", gemv_cycles(plan_gemv(pim, n, k, ch))) for ch in channels]
    for dim in (8, 16):
        plan = plan_gemm(ArrayConfig(rows=dim, cols=dim), 1, k, n)
        rows.append((f"systolic {dim}x{dim} (M=1)", gemm_cycles(plan)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=4096, help="rows of W (outputs)")
    parser.add_argument("--k", type=int, default=4096, help="columns of W (inputs)")
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args(argv)
    console = Console()

    cal = Table(title="Calibration: 10 x (WR_BIAS + MAC_ABK(64 columns) + RD_MAC), one channel, tCK 0.5 ns")
    for col in ("hwgen model (= RTL)", "mode changes", "AiM simulator", "AiM - ours", "ratio"):
        cal.add_column(col, justify="right")
    run = calibration_run()
    ours = run.cycles
    cal.add_row(
        f"{ours:,}",
        f"{len(run.mode_changes)}",
        f"{AIM_CALIBRATION_CYCLES:,}",
        f"{AIM_CALIBRATION_CYCLES - ours:,}",
        f"{ours / AIM_CALIBRATION_CYCLES:.4f}",
    )
    console.print(cal)
    console.print(AIM_RESIDUAL_NOTE)

    rows = gemv_table(args.n, args.k, tuple(args.channels))
    best_array = min(c for name, c in rows if name.startswith("systolic"))
    # The PIM timing does not depend on the lane format: bf16 -> float32 lanes give the same cycles.
    table = Table(title=f"Decode GEMV {args.n} x {args.k}, int8 -> int32 (PIM: bf16 -> float32 alike), same clock")
    for col in ("design", "cycles", "us at 2 GHz", "ratio vs best systolic"):
        table.add_column(col, justify="right")
    for name, cycles in rows:
        table.add_row(name, f"{cycles:,}", f"{cycles / 2e3:,.1f}", f"{best_array / cycles:.2f}x")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
