"""The sparse-chain benchmark script runs and its RTL-measured cycles equal the cycle model."""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sparse_chain.py"


def test_sparse_chain_benchmark_table():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "64", "--cols", "128", "--rtl-rows", "4", "--rtl-cols", "32"],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] in ("dense", "2:4", "1:4", "1:8"):
            rows[cells[0]] = cells
    assert set(rows) == {"dense", "2:4", "1:4", "1:8"}
    for cells in rows.values():
        assert cells[-2] == cells[-1]  # RTL cycles == model cycles for the small GEMV
    # 64x128 on 16 slices: 512 dense beats; N:M needs n/m of them (+ D = 11 cycles of latency).
    assert [rows[m][2] for m in ("dense", "2:4", "1:4", "1:8")] == ["523", "267", "139", "75"]
    # The layout table: the same beats and cycles either way; N results per beat (and wider activations) vs M/N.
    layouts = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] in ("default (M/N)", "N results"):
            layouts[cells[0], cells[1]] = cells
    assert len(layouts) == 6
    for mode in ("2:4", "1:4", "1:8"):
        n, m = map(int, mode.split(":"))
        default, wide = layouts["default (M/N)", mode], layouts["N results", mode]
        assert default[2:5] == ["16", "16", str(m // n)]  # window, acts/beat, results/beat
        assert wide[2:5] == ["128", str(16 * m // n**2), str(n)]
        assert default[5:9] == wide[5:9] == rows[mode][1:3] + rows[mode][4:5] + [rows[mode][3]]
        assert default[-2] == default[-1] and wide[-2] == wide[-1]  # RTL cycles == model cycles
