"""Utilisation and Fmax of the accelerator top (UART link) as board bitstreams on the iCEBreaker and the ULX3S.

Run ``python -m benchmarks.fpga_boards`` (about 20 minutes on two idle cores; ``--only ice``
picks designs or boards whose name contains the text). Every row is a full
``hwgen fpga build``: amaranth-boards pins and clock, Yosys, nextpnr and
icepack/ecppack. A design that does not fit a board is a row saying which resource
overflowed; ``--json FILE`` also writes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Run as a script: make the ``benchmarks`` package importable.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.fpga.bitstream import build_accelerator_bitstream
from hwgen.fpga.boards import BOARDS
from hwgen.fpga.report import SynthesisError

__all__ = ["DESIGNS", "BoardRow", "main", "measure"]

#: (label, array config) of the measured accelerator tops: those issue 7 lists, and the 2x2 that fits an iCE40UP5K.
DESIGNS = (
    ("systolic 2x2 int8", ArrayConfig(rows=2, cols=2)),
    ("systolic 4x4 int8", ArrayConfig(rows=4, cols=4)),
    ("systolic 8x8 int8", ArrayConfig(rows=8, cols=8)),
    ("L-Mul 4x4 fp8 e4m3", ArrayConfig(rows=4, cols=4, dtype="float8_e4m3fn", acc="float32", mul="lmul")),
)
#: UART rate of every build (it changes only the baud divider).
BAUD = 115_200


@dataclass(frozen=True)
class BoardRow:
    """One design on one board; ``fits`` False leaves the figures None and says why in ``note``."""

    design: str
    board: str
    fits: bool
    luts: int | None = None
    carry: int | None = None
    ffs: int | None = None
    bram: int | None = None
    dsp: int | None = None
    logic_cells: str | None = None
    fmax_mhz: float | None = None
    clock_mhz: float | None = None
    timing_met: bool | None = None
    bitstream_bytes: int | None = None
    seconds: float = 0.0
    note: str = ""


# nextpnr bel type of the logic cells whose use the table shows, per family.
_LOGIC_BEL = {"ice40": "ICESTORM_LC", "ecp5": "TRELLIS_COMB"}


def measure(label: str, cfg: ArrayConfig, board: str, work: Path) -> BoardRow:
    """Build ``cfg``'s accelerator top for ``board`` in ``work`` and return its row."""
    start = time.monotonic()
    try:
        result = build_accelerator_bitstream(cfg, board, work, baud=BAUD)
    except SynthesisError as exc:
        return BoardRow(label, board, False, seconds=round(time.monotonic() - start, 1), note=exc.cause)
    r = result.report
    logic = r.utilisation.get(_LOGIC_BEL[r.family], {})
    return BoardRow(
        label,
        board,
        True,
        luts=r.luts,
        carry=r.carry,
        ffs=r.ffs,
        bram=r.bram,
        dsp=r.dsp,
        logic_cells=f"{logic.get('used', 0)}/{logic.get('available', 0)}",
        fmax_mhz=r.fmax_mhz,
        clock_mhz=r.clock_mhz_target,
        timing_met=r.timing_met,
        bitstream_bytes=result.bitstream.stat().st_size,
        seconds=round(time.monotonic() - start, 1),
    )


def _table(rows: list[BoardRow]) -> Table:
    table = Table(title=f"Accelerator top (UART {BAUD} baud) as board bitstreams")
    columns = ("design", "board", "LUT4", "carry", "FF", "BRAM", "DSP", "logic cells", "Fmax", "clock", "timing")
    for column in (*columns, "build s", "note"):
        table.add_column(column, justify="left" if column in ("design", "board", "note") else "right")
    for row in rows:
        seconds = f"{row.seconds:.0f}"
        if not row.fits:
            table.add_row(row.design, row.board, *["-"] * 9, seconds, f"[red]{row.note}[/red]")
            continue
        timing = "[green]met[/green]" if row.timing_met else "[red]missed[/red]"
        figures = (row.luts, row.carry, row.ffs, row.bram, row.dsp, row.logic_cells)
        fmax, clock = f"{row.fmax_mhz:.1f} MHz", f"{row.clock_mhz:g} MHz"
        table.add_row(row.design, row.board, *(str(v) for v in figures), fmax, clock, timing, seconds, "")
    return table


def main(argv: list[str] | None = None) -> list[BoardRow]:
    """Build every design for every board, print the table and return its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="keep designs or boards whose name contains this text")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR (default: a temporary folder)")
    args = parser.parse_args(argv)
    jobs = [
        (label, cfg, board)
        for label, cfg in DESIGNS
        for board in BOARDS
        if not args.only or args.only in label or args.only in board
    ]
    console = Console()
    # Piped into a file, the table keeps its columns instead of wrapping at 80 characters.
    wide = console if console.is_terminal else Console(width=200)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for i, (label, cfg, board) in enumerate(jobs, 1):
            with console.status(f"[{i}/{len(jobs)}] {label} on {board}"):
                rows.append(measure(label, cfg, board, root / board / cfg.top_name))
    wide.print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
