"""Smoke test: the benchmark runner runs end to end at a tiny size."""

import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_runner_prints_ratio_table():
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--size", "10000", "--repeats", "1"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ratio" in proc.stdout
    assert "float32->e4m3fn codes" in proc.stdout
    assert "e4m3fn codes->float32" in proc.stdout
    assert "NO" not in proc.stdout  # hwgen and the baseline agree bit for bit


def test_runner_only_selects_one_entry():
    proc = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--size",
            "1000",
            "--repeats",
            "1",
            "--only",
            "e4m3fn codes->float32",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "e4m3fn codes->float32" in proc.stdout
    assert "float32->e4m3fn codes" not in proc.stdout
