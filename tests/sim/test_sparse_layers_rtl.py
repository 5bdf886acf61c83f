"""Mapped GEMM layers on the sparse DSP chain's Verilog: bit-exact with the pruned call, cycles equal the model."""

import numpy as np
import pytest

import hwgen.sim  # noqa: F401  (registers the rtl layer runner and attaches the benches)
from hwgen.emulation import int8, int32
from hwgen.emulation.units import get_unit
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import UnitBackend
from hwgen.sim.cocotb_runner import SimulationError
from hwgen.sim.regression import run_bench
from hwgen.sim.toolchain import find_simulator
from hwgen.sim.unit_layers import sparse_dsp_layer

pytestmark = pytest.mark.sim


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _call(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (k, n))
    a[0, 0], b[0, 0] = -128, -128
    return GemmCall("layer", int8.encode(a), int8.encode(b), int8, int8, int32, "exact", "sequential")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("sparse_layers")  # one build per chain config and simulator, shared


def _run_and_check(text, shape, simulator, work):
    target = parse_target(text)
    call = _call(*shape, seed=sum(shape))
    run = UnitBackend(target, "rtl", simulator=simulator, work_dir=work).run_layer(call)
    layer = target.layer_unit(call)
    reference = layer.call if layer.call is not None else call
    np.testing.assert_array_equal(np.asarray(run.codes, np.int64), np.asarray(emulate_gemm(reference), np.int64))
    assert run.measured_cycles == run.predicted_cycles == [target.cycles(*shape)]
    return run


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("sparse:8:2:4", (3, 13, 5)),  # ragged K and N, 2 results per beat
        ("sparse:8:2:4", (1, 24, 4)),  # one GEMV, whole blocks
        ("sparse:8", (2, 11, 3)),  # dense
        ("sparse:8:1:4:1", (2, 20, 3)),  # one result per beat over a 32-wide window
    ],
)
def test_layer_bit_exact_with_pruned_call_at_model_cycles_icarus(work, text, shape):
    _need("icarus")
    _run_and_check(text, shape, "icarus", work)


def test_layer_bit_exact_at_model_cycles_verilator(work):
    _need("verilator")
    _run_and_check("sparse:8:2:4", (2, 17, 6), "verilator", work)


def test_result_is_read_from_the_rtl_outputs(work):
    """The layer's result is decoded from the o_out beats the RTL sent: change one and the result changes."""
    _need("icarus")
    target = parse_target("sparse:8:2:4")
    layer = target.layer_unit(_call(2, 9, 3, seed=1))
    a, b = int8.decode(layer.call.a_codes), int8.decode(layer.call.b_codes)
    task = sparse_dsp_layer(layer.config, a, b, **layer.run)
    folder = work / f"sparse-dsp-{layer.config.top_name}-icarus"  # the rtl runner's build of this config
    result, _ = run_bench(layer.config, folder, "icarus", "hwgen.sim.sparse_chain_bench", task.job)
    got, cycles = task.read(result.report)
    golden = get_unit("sparse-dsp").golden(layer.config, a, b, **layer.run)
    np.testing.assert_array_equal(got, golden)
    assert result.passed and cycles == target.cycles(2, 9, 3)
    result.report["outputs"][1][0][0] ^= 1  # row 0, outputs 2: lane 0 of its second beat
    tampered, _ = task.read(result.report)
    assert np.argwhere(tampered != golden).tolist() == [[0, 2]]
    del result.report["outputs"][-1]
    with pytest.raises(ValueError, match="no complete result"):
        task.read(result.report)


def test_unpruned_weights_in_an_n_m_mode_fail_on_the_rtl_runner(work):
    """Weights the host did not prune cannot be streamed in an N:M mode: the run fails, it returns nothing."""
    _need("icarus")
    layer = parse_target("sparse:8:2:4").layer_unit(_call(1, 8, 2, seed=2))
    runner = UnitBackend(parse_target("sparse:8:2:4"), "rtl", simulator="icarus", work_dir=work).runner
    dense = np.full((8, 2), 3, np.int64)
    with pytest.raises(SimulationError, match="no complete result"):
        runner(layer, np.ones((1, 8), np.int64), dense)
