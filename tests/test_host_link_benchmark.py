"""Smoke test: the host-link throughput benchmark runs on the emulated device and reports a plausible ratio."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "host_link.py"


def test_host_link_script_prints_throughput_below_the_baud_ceiling():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--baud", "9600", "--a-depth", "64", "--max-payload", "128"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"emulated, 9,600 Bd .*?(\d+) .*?960 .*?(0\.\d{3}) .*? yes", proc.stdout)
    assert len(rows) == 2, proc.stdout
    for _, ratio in rows:
        assert 0.5 < float(ratio) < 1.0  # frame overhead costs something; nothing beats the line
