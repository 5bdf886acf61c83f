"""Host-link throughput: payload bytes/s through the driver at a given baud, against the raw baud/10 ceiling.

Two backends: the emulated device with simulated 8N1 byte timing (instant to run),
and, with ``--sim``, the exact UART top in Verilator behind the virtual serial link
(simulated time; one Verilator build, a minute or two). Each fills the A scratchpad
with WRITEs of up to ``max_payload`` bytes, reads it back with READs and checks it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable like benchmarks/run.py does.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.host.driver import Device
from hwgen.host.emulated_device import EmulatedDevice, emulated_info

__all__ = ["emulated_rows", "main", "simulated_rows"]


def _rows(backend: str, outcome: dict, baud: int) -> list[tuple]:
    """(backend, direction, payload bytes, seconds, bytes/s, ceiling, ratio, checked) per direction."""
    ceiling = baud / 10
    ok = "yes" if not outcome["mismatches"] else "NO"
    out = []
    for direction, key in (("WRITE (to device)", "write_s"), ("READ (to host)", "read_s")):
        rate = outcome["payload_bytes"] / outcome[key]
        out.append((backend, direction, outcome["payload_bytes"], outcome[key], rate, ceiling, rate / ceiling, ok))
    return out


def emulated_rows(baud: int, rows: int, cols: int, a_depth: int, max_payload: int, seed: int = 0) -> list[tuple]:
    """Throughput through the driver on the emulated device at ``baud`` (simulated time)."""
    from hwgen.sim.virtual_serial import throughput_workload

    info = emulated_info(rows, cols, a_depth=a_depth, max_payload=max_payload)
    outcome = throughput_workload(Device(EmulatedDevice(info, baud=baud)), seed)
    return _rows(f"emulated, {baud:,} Bd", outcome, baud)


def simulated_rows(baud: int, rows: int, cols: int, a_depth: int, max_payload: int, clk_freq: int, seed: int = 0):
    """Throughput through the driver on the UART top in Verilator (simulated time at ``clk_freq``)."""
    from hwgen.emulation.units.systolic_config import ArrayConfig
    from hwgen.sim.virtual_serial import build_uart_top, run_driver_top

    with tempfile.TemporaryDirectory(prefix="hwgen_host_link_") as tmp:
        memories = {"w_depth": max(rows, 16), "a_depth": a_depth, "o_depth": 16, "max_payload": max_payload}
        session, info = build_uart_top(ArrayConfig(rows=rows, cols=cols), tmp, clk_freq, baud, **memories)
        run = run_driver_top(
            session, info, clk_freq, baud, [{"name": "throughput", "workload": "throughput", "seed": seed}]
        )
        if not run.scenarios:
            raise RuntimeError(f"the simulation wrote no report; see {run.log}")
        real_baud = 1e12 / (run.divisor * run.clock_period_ps)
        label = f"RTL top (Verilator), {real_baud:,.0f} Bd"
        return _rows(label, run.scenario("throughput")["outcome"], real_baud)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--a-depth", type=int, default=256, help="A words moved each way")
    parser.add_argument("--max-payload", type=int, default=1024)
    parser.add_argument("--sim", action="store_true", help="also run the UART top in Verilator")
    parser.add_argument("--clk-freq", type=int, default=12_000_000, help="clock of the simulated top (Hz)")
    args = parser.parse_args(argv)
    shape = (args.rows, args.cols, args.a_depth, args.max_payload)
    console = Console(width=120)
    rows = emulated_rows(args.baud, *shape)
    if args.sim:
        with console.status("building the UART top in Verilator and simulating the transfers..."):
            rows += simulated_rows(args.baud, *shape, args.clk_freq)
    table = Table(title=f"Host-link payload throughput ({args.a_depth} A words, max_payload {args.max_payload})")
    for col in ("backend", "direction", "payload B", "sim. s", "B/s", "baud/10", "ratio", "checked"):
        table.add_column(col, justify="right")
    for backend, direction, nbytes, seconds, rate, ceiling, ratio, ok in rows:
        table.add_row(
            backend, direction, f"{nbytes:,}", f"{seconds:.4f}", f"{rate:,.0f}", f"{ceiling:,.0f}", f"{ratio:.3f}", ok
        )
    console.print(table)
    return 0 if all(row[-1] == "yes" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
