"""``hwgen run --backend rtl --layer L`` on the stream units' own RTL: bit-exact with the emulator, cycles = the model.

The layer's operands stream through the unit's generated Verilog; the result is decoded
from the output beats the RTL produced and compared code for code with the emulator's
GEMM; the measured cycles (first accepted beat to last output) must equal the unit's
cycle model.
"""

import numpy as np
import pytest

import hwgen.sim  # noqa: F401  (registers the rtl layer runner)
from hwgen.emulation import get_format
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import UnitBackend, UnitLayer
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim
INT8, INT32 = get_format("int8"), get_format("int32")


def _call(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (k, n))
    a.flat[0], b.flat[0] = -128, -128
    return GemmCall("layer0.attn.q", INT8.encode(a), INT8.encode(b), INT8, INT8, INT32, "exact", "sequential")


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


@pytest.mark.parametrize(
    ("text", "simulator"),
    [
        ("systolic:3x4:os", "icarus"),
        ("bitslice:2x3", "icarus"),
        ("addertree:3x4", "icarus"),
        ("addertree:2x8", "verilator"),
    ],
)
def test_unit_runs_a_layer_on_its_rtl_bit_exact_and_cycle_exact(tmp_path, text, simulator):
    _need(simulator)
    call = _call(5, 37, 7)
    run = UnitBackend(parse_target(text), "rtl", simulator=simulator, work_dir=tmp_path).run_layer(call)
    assert np.array_equal(run.codes, np.asarray(emulate_gemm(call), np.int64))
    assert run.measured_cycles == run.predicted_cycles


def test_a_wrong_cycle_model_is_caught(tmp_path, monkeypatch):
    _need("icarus")
    monkeypatch.setattr(UnitLayer, "cycles", lambda self, m, k, n: 1)
    run = UnitBackend(parse_target("addertree:2x4"), "rtl", simulator="icarus", work_dir=tmp_path).run_layer(
        _call(2, 9, 3)
    )
    assert run.predicted_cycles == [1] and run.measured_cycles != [1] and run.cycle_error > 0


def test_the_result_is_read_from_the_rtl_not_copied_from_the_golden_model(tmp_path, monkeypatch):
    """Golden tiles that lie change the bench's expectations (it reports mismatches), not the result read back."""
    _need("icarus")
    from hwgen.emulation.units.addertree_plan import TreePlan

    monkeypatch.setattr(
        TreePlan, "tile_outputs", lambda self, a, b: [np.zeros(self.cfg.rows, np.int64)] * len(self.tiles)
    )
    call = _call(2, 9, 3, seed=4)
    run = UnitBackend(parse_target("addertree:2x4"), "rtl", simulator="icarus", work_dir=tmp_path).run_layer(call)
    assert np.array_equal(run.codes, np.asarray(emulate_gemm(call), np.int64))
    assert np.any(run.codes != 0)


def test_hwgen_run_prints_the_layer_check(tmp_path, monkeypatch, capsys):
    from hwgen.cli.main import main

    _need("icarus")
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--target", "bitslice:2x2", "--layer", "layer0.attn.q", "--backend", "rtl", "--simulator", "icarus"]
    code = main([*argv, "--columns", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "layer0.attn.q 12x384x4 on rtl: bit-exact vs the emulator" in out and "(0.00% error)" in out
