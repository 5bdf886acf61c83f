"""Batch harness: whole GEMMs from memory images, bit-exact outputs, exact cycles, random stalls."""

import numpy as np
import pytest

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm
from hwgen.sim.batch_harness import StreamPort, harness_verilog, stream_ports
from hwgen.sim.batch_run import BatchRunner
from hwgen.sim.systolic_vectors import random_operands
from hwgen.sim.toolchain import find_simulator


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


@pytest.mark.sim
@pytest.mark.parametrize(
    ("simulator", "dataflow"), [("icarus", "ws"), ("icarus", "is"), ("icarus", "os"), ("verilator", "ws")]
)
def test_gemms_bit_exact_with_exact_cycles(tmp_path, simulator, dataflow):
    _need(simulator)
    cfg = ArrayConfig(rows=4, cols=3, dataflow=dataflow)
    runner = BatchRunner(cfg, tmp_path, simulator, depth=512)
    rng = np.random.default_rng(11)
    for shape in [(9, 13, 7), (1, 8, 5), (16, 4, 3)]:
        a, b = random_operands(cfg, *shape, rng)
        result = runner.run(a, b)
        assert result.mismatches == []
        assert result.cycles == result.expected_cycles


@pytest.mark.sim
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_random_stalls_keep_results_exact(tmp_path, dataflow):
    _need("icarus")
    cfg = ArrayConfig(rows=3, cols=4, dataflow=dataflow)
    runner = BatchRunner(cfg, tmp_path, "icarus", depth=256, stall_percent=40)
    a, b = random_operands(cfg, 7, 10, 9, np.random.default_rng(2))
    result = runner.run(a, b)
    assert result.mismatches == []
    assert result.expected_cycles is None
    assert result.cycles > gemm_cycles(plan_gemm(cfg, 7, 10, 9))  # stalls cost cycles, lose nothing


@pytest.mark.sim
@pytest.mark.parametrize(
    ("simulator", "dataflow", "dtype", "mul", "stall_percent"),
    [("verilator", "ws", "float8_e5m2", "exact", 0), ("icarus", "is", "bfloat16", "lmul", 30)],
)
def test_float_gemms_bit_exact(tmp_path, simulator, dataflow, dtype, mul, stall_percent):
    _need(simulator)
    cfg = ArrayConfig(rows=4, cols=3, dataflow=dataflow, dtype=dtype, acc="float32", mul=mul)
    runner = BatchRunner(cfg, tmp_path, simulator, depth=256, stall_percent=stall_percent)
    rng = np.random.default_rng(13)
    for shape in [(9, 4, 7), (1, 3, 5), (3, 10, 4)]:  # the last runs three K-tiles
        a, b = random_operands(cfg, *shape, rng)
        result = runner.run(a, b)
        assert result.mismatches == []
        assert result.passed


def test_harness_text_names_every_stream_and_rejects_two_outputs():
    ports = [
        {"name": "i_a__payload", "direction": "input", "width": 9},
        {"name": "i_a__valid", "direction": "input", "width": 1},
        {"name": "i_a__ready", "direction": "output", "width": 1},
        {"name": "o_y__payload", "direction": "output", "width": 32},
        {"name": "o_y__valid", "direction": "output", "width": 1},
        {"name": "o_y__ready", "direction": "input", "width": 1},
        {"name": "clk", "direction": "input", "width": 1},
    ]
    streams = stream_ports(ports)
    assert streams == [StreamPort("i_a", 9, True), StreamPort("o_y", 32, False)]
    text = harness_verilog("dut_top", streams, 16, 0)
    assert '$readmemh("i_a.hex", i_a_mem)' in text and '$writememh("o_y.out.hex"' in text
    with pytest.raises(ValueError, match="exactly one output stream"):
        harness_verilog("dut_top", [*streams, StreamPort("o_z", 4, False)], 16, 0)


def test_bad_runner_options(tmp_path):
    with pytest.raises(ValueError, match="stall_percent=95"):
        BatchRunner(ArrayConfig(rows=1, cols=1), tmp_path, "icarus", stall_percent=95)
    with pytest.raises(ValueError, match="depth=0"):
        BatchRunner(ArrayConfig(rows=1, cols=1), tmp_path, "icarus", depth=0)
