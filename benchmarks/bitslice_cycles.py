"""Bit-slice PE cycles per INT8 MAC on normal(0, sigma) data: golden model for each sigma, RTL for one."""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.emulation import int32
from hwgen.emulation.bitslice import SliceCoding, bitslice_dot
from hwgen.emulation.units.bitslice_plan import BitSliceConfig

__all__ = ["main", "normal_int8", "rtl_cycles_per_mac"]

SIGMAS = (10, 20, 30, 40, 50)


def normal_int8(rng: np.random.Generator, sigma: float, shape) -> np.ndarray:
    """normal(0, sigma) rounded to the nearest integer and clipped to int8."""
    return np.clip(np.rint(rng.normal(0.0, sigma, size=shape)), -128, 127).astype(np.int64)


def _model_row(rng, sigma: float, groups: int, k: int) -> list[str]:
    a, w = normal_int8(rng, sigma, (groups, k)), normal_int8(rng, sigma, (groups, k))
    radix4, slices = SliceCoding("radix4", 2), SliceCoding("unsigned", 2)
    macs = groups * k
    cycles_r4 = bitslice_dot(a, w, 8, 8, radix4, int32).cycles.sum() / macs
    cycles_sl = bitslice_dot(a, w, 8, 8, slices, int32).cycles.sum() / macs
    return [
        f"{sigma:g}",
        f"{radix4.nonzero(a, 8).mean():.2f}",
        f"{cycles_r4:.3f}",
        f"{slices.nonzero(a, 8).mean():.2f}",
        f"{cycles_sl:.3f}",
    ]


def rtl_cycles_per_mac(sigma: float, groups: int, k: int, simulator: str, seed: int = 0) -> tuple[float, float, bool]:
    """Run ``groups`` dot products of length ``k`` through the radix-4 PE's Verilog.

    Returns
    -------
    (measured, model, exact) : float, float, bool
        Wall cycles per MAC at full rate (first pair to last result, minus the
        2-cycle fill/drain), the golden model's cycles per MAC, and whether every result
        beat (dot product and the PE's reported cycle count) matched the model bit for bit.
    """
    from hwgen.dataflow.hardware import build_unit
    from hwgen.sim.bitslice_vectors import pe_phase
    from hwgen.sim.stream_regression import run_stream_regression

    rng = np.random.default_rng(seed)
    cfg = BitSliceConfig(unit="pe")
    a, w = normal_int8(rng, sigma, (groups, k)), normal_int8(rng, sigma, (groups, k))
    phase = pe_phase(cfg.coding, cfg.acc_format, a, w, 8, 8, f"sigma={sigma}")
    model = bitslice_dot(a, w, 8, 8, cfg.coding, cfg.acc_format).cycles.sum() / a.size
    with tempfile.TemporaryDirectory() as tmp:
        build = build_unit(cfg, Path(tmp) / "rtl")
        report = run_stream_regression(build, [phase], tmp, simulator)
    return (report.cycles(0) - 2) / a.size, float(model), report.passed


def main(argv=None) -> int:
    """Print the table; return the exit code (1 if the RTL disagreed with the model)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=2048, help="dot products per sigma (default 2048)")
    parser.add_argument("--k", type=int, default=32, help="MACs per dot product (default 32)")
    parser.add_argument("--rtl-sigma", type=float, default=30.0, help="sigma simulated in RTL (default 30)")
    parser.add_argument("--rtl-groups", type=int, default=256, help="dot products simulated in RTL (default 256)")
    parser.add_argument("--sim", choices=("verilator", "icarus", "none"), default="verilator")
    args = parser.parse_args(argv)
    if min(args.groups, args.k, args.rtl_groups) < 1:
        parser.error("--groups, --k and --rtl-groups must be positive")
    rng = np.random.default_rng(2025)
    table = Table(title=f"Bit-slice PE on INT8 normal(0, sigma) data, K = {args.k} (golden model)")
    for col in ("sigma", "radix-4 digits/operand", "radix-4 cycles/MAC", "2-bit slices/operand", "slice cycles/MAC"):
        table.add_column(col, justify="right")
    for sigma in SIGMAS:
        table.add_row(*_model_row(rng, sigma, args.groups, args.k))
    console = Console()
    console.print(table)
    console.print("cycles/MAC = mean of max(1, non-zero digits of the serial operand); zero digits are skipped.")
    if args.sim == "none":
        return 0
    with console.status(f"simulating the radix-4 PE in {args.sim}"):
        measured, model, exact = rtl_cycles_per_mac(args.rtl_sigma, args.rtl_groups, args.k, args.sim)
    rtl = Table(title=f"RTL ({args.sim}), sigma = {args.rtl_sigma:g}, {args.rtl_groups} x {args.k} MACs")
    for col in ("RTL cycles/MAC", "model cycles/MAC", "results and reported cycles bit-exact"):
        rtl.add_column(col, justify="right")
    rtl.add_row(f"{measured:.4f}", f"{model:.4f}", "yes" if exact else "[red]NO[/red]")
    console.print(rtl)
    return 0 if exact and measured == model else 1


if __name__ == "__main__":
    sys.exit(main())
