"""``hwgen sim --arch X`` for every registered unit: random vectors, bit-exact results, exact cycle checks.

Each case is a small config through the CLI entry at full rate, so every case's cycles
are checked exactly against the unit's cycle model; then a corrupted golden model and a
corrupted cycle model must each make the regression fail.
"""

import re

import numpy as np
import pytest

from hwgen.cli.main import main
from hwgen.emulation.units import UNITS
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, TreePlan
from hwgen.sim.regression import run_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

#: Small configs of every unit (options as on the command line).
SMALL = {
    "systolic": ["--rows", "2", "--cols", "2", "--gemm", "3x5x4", "--gemm", "1x2x3"],
    "bitslice": ["--rows", "1", "--cols", "2", "--gemm", "2x9x3"],
    "addertree": ["--rows", "2", "--lanes", "2", "--gemm", "3x5x4"],
    "lmul": ["--in-fmt", "float8_e4m3fn"],
    "fp-mac": ["--in-fmt", "float8_e5m2"],
    "sparse-dsp": ["--length", "8", "--group-size", "1"],
    "pim": ["--banks", "2", "--rows", "4", "--cols", "4", "--lanes", "4"],
    "top": [
        "--rows",
        "2",
        "--cols",
        "2",
        "--link",
        "stream",
        "--w-depth",
        "8",
        "--a-depth",
        "16",
        "--o-depth",
        "16",
        "--max-payload",
        "64",
    ],
}
#: Icarus: the stream-linked top reads X from its link right after reset there, so the top runs through its UART.
ICARUS_TOP = [
    "--rows",
    "2",
    "--cols",
    "2",
    "--link",
    "uart",
    "--clk-freq",
    str(4 * 115200),
    "--w-depth",
    "4",
    "--a-depth",
    "8",
    "--o-depth",
    "8",
    "--max-payload",
    "64",
]


def test_every_registered_unit_has_a_small_case():
    assert set(SMALL) == set(UNITS)


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _sim(capsys, simulator, arch, options, work):
    status = main(["sim", "--arch", arch, *options, "--simulator", simulator, "--seed", "5", "--work", str(work)])
    return status, capsys.readouterr().out


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("arch", list(SMALL))
def test_sim_every_unit_passes_with_exact_cycles(tmp_path, capsys, simulator, arch):
    _need(simulator)
    options = ICARUS_TOP if (simulator, arch) == ("icarus", "top") else SMALL[arch]
    status, out = _sim(capsys, simulator, arch, options, tmp_path)
    assert status == 0, out
    assert f"{arch} " in out and f"on {simulator}" in out and "PASS" in out and "FAIL" not in out, out
    checks = re.search(r"(\d+) exact cycle checks", out)
    assert checks and int(checks.group(1)) > 0, out
    assert "utilisation" in out


def test_sim_under_backpressure_passes_without_cycle_checks(tmp_path, capsys):
    _need("icarus")
    status, out = _sim(capsys, "icarus", "addertree", [*SMALL["addertree"], "--backpressure", "0.5"], tmp_path)
    assert status == 0, out
    assert "PASS" in out and " 0 exact cycle checks" in out, out


def test_a_corrupted_golden_model_fails_the_regression(tmp_path, capsys, monkeypatch):
    _need("icarus")
    real = TreePlan.tile_outputs

    def corrupted(self, a, b):
        outs = real(self, a, b)
        outs[-1] = np.asarray(outs[-1]).copy()
        outs[-1][0] ^= 1 << 3
        return outs

    monkeypatch.setattr(TreePlan, "tile_outputs", corrupted)
    report = run_regression(AdderTreeConfig(rows=2, lanes=2), tmp_path, "icarus", [(3, 5, 4)], seed=2)
    assert not report.passed
    assert [c["passed"] for c in report.cases] == [False]
    assert report.cases[0]["mismatches"][0].startswith("beat ")
    status, out = _sim(capsys, "icarus", "addertree", SMALL["addertree"], tmp_path)
    assert status == 1 and "FAIL" in out, out


def test_a_wrong_cycle_model_fails_the_regression(tmp_path, monkeypatch):
    _need("icarus")
    monkeypatch.setattr(TreePlan, "cycles", property(lambda self: len(self.tiles) * self.beats + 99))
    report = run_regression(AdderTreeConfig(rows=2, lanes=2), tmp_path, "icarus", [(3, 5, 4)], seed=2)
    assert not report.passed
    assert "want exactly" in report.cases[0]["mismatches"][-1]
