"""The generated Verilog in cocotb: random GEMMs bit-exact with the emulator, cycles equal to the formula."""

import pytest

from hwgen.dataflow.config import ArrayConfig
from hwgen.sim.regression import DEFAULT_GEMMS, run_regression
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


# One default-size array and two odd shapes per simulator: the build dominates the time.
CASES = [
    ("verilator", "ws", 8, 8, DEFAULT_GEMMS),
    ("verilator", "os", 8, 8, DEFAULT_GEMMS),
    ("verilator", "is", 3, 5, ((7, 11, 12), (1, 3, 5))),
    ("icarus", "ws", 8, 8, DEFAULT_GEMMS),
    ("icarus", "is", 8, 8, DEFAULT_GEMMS),
    ("icarus", "os", 1, 1, ((2, 3, 2),)),
    ("icarus", "os", 5, 2, ((4, 9, 3), (1, 24, 20))),
    ("icarus", "ws", 1, 1, ((2, 3, 2),)),
]


@pytest.mark.parametrize(("simulator", "dataflow", "rows", "cols", "gemms"), CASES)
def test_full_rate_regression(tmp_path, simulator, dataflow, rows, cols, gemms):
    _need(simulator)
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=dataflow)
    report = run_regression(cfg, tmp_path, simulator, gemms, seed=rows + cols)
    assert report.passed, report.log.read_text()[-3000:]
    for g in report.gemms:
        assert g["mismatches"] == []
        assert g["cycles"] == g["expected_cycles"]


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_random_backpressure_regression(tmp_path, simulator):
    _need(simulator)
    report = run_regression(
        ArrayConfig(rows=4, cols=4),
        tmp_path,
        simulator,
        ((9, 10, 7), (1, 4, 4)),
        seed=7,
        valid_prob=0.7,
        ready_prob=0.5,
    )
    assert report.passed, report.log.read_text()[-3000:]
    assert all(g["expected_cycles"] is None for g in report.gemms)
