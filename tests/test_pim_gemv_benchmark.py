"""Smoke test: the PIM GEMV benchmark script runs and prints both tables."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "pim_gemv.py"


def test_pim_gemv_script_prints_tables():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "256", "--k", "512", "--channels", "1", "2"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2,858" in proc.stdout and "2,860" in proc.stdout and "ISR_EOC" in proc.stdout
    assert "systolic 16x16" in proc.stdout and "PIM 2 channel" in proc.stdout
