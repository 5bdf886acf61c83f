"""Smoke tests: the MiniLM speed benchmark and the fidelity study script run on tiny inputs."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(*args):
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, check=False, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_minilm_speed_script_prints_all_three_timings():
    out = _run(BENCH / "minilm_speed.py", "--sentences", "3")
    assert "3 sentences" in out
    for label in ("float32 NumPy", "exact", "sequential"):
        assert label in out
    assert "<= 10 s" in out and "<= 60 s" in out


def test_fidelity_script_writes_the_report(tmp_path):
    out = _run(BENCH / "fidelity.py", "--out", tmp_path, "--sentences", "2", "--pairs", "2000", "--only", "bf16")
    assert "wrote" in out
    data = json.loads((tmp_path / "fidelity.json").read_text())
    labels = [r["label"] for r in data["rows"]]
    assert labels == ["bf16", "bf16, 2:4 pruned weights"]
    assert 0.99 < data["rows"][0]["cosine_mean"] <= 1.0 + 1e-6
    assert (tmp_path / "fidelity.md").read_text().startswith("# MiniLM-L6 fidelity study")
    assert len(data["claims"]) == 8
