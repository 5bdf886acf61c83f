"""Mapped GEMM layers on the L-Mul and FP-MAC PEs' Verilog: bit-exact with the host and cycle-exact with the model."""

import numpy as np
import pytest

import hwgen.sim  # noqa: F401  (registers the rtl layer runner and the benches' layer jobs)
from hwgen.emulation import LMul, get_format
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.fp_pe_config import FpPEConfig
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import UnitBackend
from hwgen.sim.fp_pe_bench import corner_codes
from hwgen.sim.toolchain import find_simulator
from hwgen.sim.unit_layers import fp_pe_layer

pytestmark = pytest.mark.sim

F32 = get_format("float32")
FORMATS = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "bf16": "bfloat16"}


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """One build folder for the module: a unit config builds once per simulator."""
    return tmp_path_factory.mktemp("fp_pe_layers")


def _simulator(name: str) -> str:
    if find_simulator(name) is None:
        pytest.skip(f"{name} is not installed")
    return name


def _call(target: str, m: int, k: int, n: int, seed: int) -> GemmCall:
    """Random finite operands with finite corner codes (±0, subnormals, ±max), and one NaN: row 0 is NaN."""
    unit, short = target.split(":")
    fmt = get_format(FORMATS[short])
    rng = np.random.default_rng(seed)
    corners = corner_codes(fmt)
    finite = corners[np.isfinite(fmt.decode(corners, np.float64))]
    a, b = rng.integers(0, 1 << fmt.width, (m, k)), rng.integers(0, 1 << fmt.width, (k, n))
    for x in (a, b):
        x[rng.random(x.shape) < 0.25] = rng.choice(finite)
        x[~np.isfinite(fmt.decode(x.reshape(-1), np.float64)).reshape(x.shape)] = 0
    a[0, -1] = fmt.nan_code
    mul = LMul(fmt) if unit == "lmul" else "exact"
    return GemmCall(f"{target} {m}x{k}x{n}", a, b, fmt, fmt, F32, mul, "sequential")


def _same_codes(got, want) -> None:
    """Code for code; where the host has a NaN the PE must give its canonical NaN (IEEE leaves the sign open)."""
    got, want = np.asarray(got, np.int64), np.asarray(want, np.int64)
    nan = np.isnan(F32.decode(want.reshape(-1), np.float64)).reshape(want.shape)
    assert np.array_equal(got[~nan], want[~nan])
    assert np.all(got[nan] == F32.nan_code)


@pytest.mark.parametrize(
    "target,simulator",
    [("fp-mac:e4m3", "icarus"), ("lmul:e4m3", "icarus"), ("lmul:bf16", "icarus"), ("fp-mac:e5m2", "verilator")],
)
def test_layer_is_bit_and_cycle_exact(target, simulator, work_dir):
    call = _call(target, 3, 7, 4, seed=len(target))
    backend = UnitBackend(parse_target(target), "rtl", simulator=_simulator(simulator), work_dir=work_dir)
    run = backend.run_layer(call)
    _same_codes(run.codes, emulate_gemm(call))
    assert run.measured_cycles == run.predicted_cycles == [3 * 7 * 4 + 2]
    assert backend.runs == [run]


def test_wrong_cycle_model_is_detected(work_dir, monkeypatch):
    """A cycle model one cycle short predicts what the RTL does not measure."""
    unit = get_unit("fp-mac")
    right = unit.cycles
    monkeypatch.setattr(unit, "cycles", lambda cfg, m, k, n: right(cfg, m, k, n) - 1)
    call = _call("fp-mac:e4m3", 2, 5, 3, seed=9)
    run = UnitBackend(parse_target("fp-mac:e4m3"), "rtl", simulator=_simulator("icarus"), work_dir=work_dir).run_layer(
        call
    )
    assert run.measured_cycles == [2 * 5 * 3 + 2] and run.predicted_cycles == [2 * 5 * 3 + 1]
    assert run.cycle_error > 0


def test_read_decodes_the_pe_codes_not_the_golden():
    """The read returns what the bench reports the PE sent, and refuses a NaN code the PE never makes."""
    cfg = FpPEConfig("fp_mac", "float8_e4m3fn")
    task = fp_pe_layer(cfg, np.ones((1, 2)), np.ones((2, 2)))
    suite = task.job["suites"][0]
    assert suite["kind"] == "dots" and suite["a"] == [[0x38, 0x38]] * 2
    one, two = int(F32.encode(np.array([1.0]))[0]), int(F32.encode(np.array([2.0]))[0])
    values, cycles = task.read([{"outputs": [one, two], "span": 6}])
    assert values.tolist() == [[1.0, 2.0]] and cycles == 6  # golden would be [[2.0, 2.0]]
    with pytest.raises(ValueError, match="NaN code 0xffc00000"):
        task.read([{"outputs": [0xFFC00000, two], "span": 6}])
    with pytest.raises(ValueError, match="2 output codes expected"):
        task.read([{"outputs": [one], "span": 6}])
