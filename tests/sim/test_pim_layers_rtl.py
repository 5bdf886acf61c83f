"""Decode GEMVs on the PIM channel's RTL: the host's command streams, bit-exact, measured cycles == the model's."""

import copy

import numpy as np
import pytest

from hwgen.emulation import int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import QUICK_TIMING, PimConfig
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.pim_plan import gemv_cycles, plan_gemv, run_gemvs
from hwgen.host.decoder import capture_decode_call
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.pim_mapping import output_codes
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import UnitBackend
from hwgen.sim.toolchain import find_simulator
from hwgen.sim.unit_layers import pim_layer

pytestmark = pytest.mark.sim

#: ``pim:2ch:4b``: two channels of 4 banks, the default 32 x 64 bursts per bank (2048 words: the RTL builds).
TARGET = "pim:2ch:4b"


def _need(simulator: str) -> None:
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("pim_layers")


def _check_on_rtl(call, simulator, work_dir):
    run = UnitBackend(parse_target(TARGET), "rtl", simulator=simulator, work_dir=work_dir).run_layer(call)
    np.testing.assert_array_equal(np.asarray(run.codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
    assert run.measured_cycles == run.predicted_cycles, (run.measured_cycles, run.predicted_cycles)
    return run


def test_decode_gemvs_on_icarus_are_bit_exact_and_cycle_exact(work):
    _need("icarus")
    for layer, context in (("layer0.attn.q", 8), ("layer1.attn.qk", 11)):
        call = capture_decode_call(layer, "w=int8,a=int8", tokens=8, context=context)
        run = _check_on_rtl(call, "icarus", work)
        k, n = call.b_codes.shape
        assert run.predicted_cycles == [parse_target(TARGET).cycles(1, k, n)]


def test_random_multi_row_gemm_on_icarus(work):
    """Three GEMVs with extreme codes; ragged outputs (19 over 8 banks) and a ragged last column burst."""
    _need("icarus")
    rng = np.random.default_rng(5)
    a, b = rng.integers(-128, 128, (3, 37)), rng.integers(-128, 128, (37, 19))
    a[0, :] = b[:, 0] = -128
    call = GemmCall("random", int8.encode(a), int8.encode(b), int8, int8, int32, "exact", "sequential")
    run = _check_on_rtl(call, "icarus", work)
    assert run.measured_cycles[0] == 3 * gemv_cycles(plan_gemv(parse_target(TARGET).config, 19, 37, 2))


def test_decode_gemv_on_verilator(work):
    _need("verilator")
    call = capture_decode_call("layer0.attn.v", "w=int8,a=int8", tokens=4)
    _check_on_rtl(call, "verilator", work)


def _model_report(job, cfg, layout, a, w) -> dict:
    """The report the bench would write if the RTL matched the channel model (for checking ``read``)."""
    segments = []
    for c in range(layout.channels):
        segments.append({"beats": [], "out_cycles": [], "cycles": 0, "error_flag": 0})
        for run in run_gemvs(layout, w, a, c):
            beats = [[int(o.op), [], list(output_codes(cfg, o))] for o in run.outputs]
            segments.append({"beats": beats, "out_cycles": [o.cycle for o in run.outputs], "cycles": run.cycles})
            segments[-1]["error_flag"] = 0
    assert len(segments) == len(job["segments"])
    return {"segments": segments}


def test_read_decodes_the_beats_it_is_given_and_can_fail():
    """``read`` takes values from the reported beats: one wrong RD_MAC code changes exactly that output."""
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, timing=QUICK_TIMING)
    rng = np.random.default_rng(2)
    a, b = rng.integers(-128, 128, (2, 20)), rng.integers(-128, 128, (20, 5))
    task = pim_layer(cfg, a, b, channels=2)
    layout = plan_gemv(cfg, 5, 20, 2)
    report = _model_report(task.job, cfg, layout, a, b.T)
    values, cycles = task.read(report)
    np.testing.assert_array_equal(values, a @ b)
    assert cycles == get_unit("pim").cycles(cfg, 2, 20, 5, channels=2)
    bad = copy.deepcopy(report)
    bad["segments"][1]["beats"][0][2][1] ^= 1  # channel 0, first GEMV, first chunk, bank 1: output 1
    wrong, _ = task.read(bad)
    assert not np.array_equal(wrong, a @ b)
    assert [tuple(i) for i in np.argwhere(wrong != a @ b)] == [(0, 1)]
    bad = copy.deepcopy(report)
    bad["segments"][3]["error_flag"] = 1
    with pytest.raises(ValueError, match="error flag in segment 3"):
        task.read(bad)
    with pytest.raises(ValueError, match="6 segments"):
        task.read({"segments": report["segments"][:-1]})


def test_pim_layer_rejects_a_w_that_does_not_fit():
    with pytest.raises(ConfigError, match="rows per bank"):
        pim_layer(parse_target(TARGET).config, np.zeros((1, 8), int), np.zeros((8, 512), int), channels=2)
