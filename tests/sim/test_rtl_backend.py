"""The rtl backend: programs on the accelerator top's Verilog equal the emulator bit for bit; cycles within 2%."""

import dataclasses
import json

import numpy as np
import pytest

from hwgen.emulation import int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.host.backends import BACKENDS, EmulatorBackend, get_backend
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.sim.rtl_backend import RtlBackend
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim


def test_importing_hwgen_sim_registers_rtl():
    assert BACKENDS["rtl"] is RtlBackend
    with pytest.raises(ConfigError, match="options"):
        get_backend("rtl", bogus=1)


@pytest.fixture(scope="module")
def rtl(tmp_path_factory):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    memories = {"w_depth": 16, "a_depth": 32, "o_depth": 32}  # the CLI test below asks for the same top
    return get_backend("rtl", rows=4, cols=4, memories=memories, work_dir=tmp_path_factory.mktemp("rtl_backend"))


def _same_on_emulator(rtl, call):
    """Run ``call`` on the RTL and as the same program on the emulator; return both runs."""
    emulator = EmulatorBackend(rtl.info, programs=True, dataflow=rtl.dataflow)
    return rtl.run_layer(call), emulator.run_layer(call)


def test_ragged_int8_programs_match_emulator_and_cycles(rtl):
    """Ragged M/K/N, several K-tiles (ACCUMULATE), chunks beyond the A/O halves, both host mappings."""
    rng = np.random.default_rng(7)
    for flow, (m, k, n) in (("ws", (21, 11, 6)), ("is", (5, 9, 19))):
        rtl.dataflow = flow
        a = int8.encode(rng.integers(-128, 128, (m, k)))
        b = int8.encode(rng.integers(-128, 128, (k, n)))
        call = GemmCall("random", a, b, int8, int8, int32, "exact", "sequential")
        got, emu = _same_on_emulator(rtl, call)
        np.testing.assert_array_equal(np.asarray(got.codes, np.int64), np.asarray(emu.codes, np.int64))
        np.testing.assert_array_equal(np.asarray(got.codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
        assert len(got.measured_cycles) > 4 and got.cycle_error <= 0.02
        assert rtl.last_run.counters["total_run_cycles"] == sum(got.measured_cycles)
    rtl.dataflow = "ws"


def test_real_minilm_layer_slice_is_bit_exact_on_rtl(rtl):
    """layer0.attn.q of MiniLM quantised to INT8 (a short sentence, 8 output columns): RTL == emulator."""
    from hwgen.host.minilm import embed

    calls = []
    embed(["A cat."], "w=int8,a=int8,acc=int32", lambda c: calls.append(c) if c.name == "layer0.attn.q" else None)
    call = dataclasses.replace(calls[0], b_codes=np.asarray(calls[0].b_codes)[:, :8])
    assert call.a_codes.shape[1] == 384
    got, emu = _same_on_emulator(rtl, call)
    np.testing.assert_array_equal(np.asarray(got.codes, np.int64), np.asarray(emu.codes, np.int64))
    np.testing.assert_array_equal(np.asarray(got.codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
    measured, predicted = sum(got.measured_cycles), sum(got.predicted_cycles)
    assert abs(predicted - measured) <= 0.02 * measured


def test_cli_runs_a_mapped_layer_on_rtl(tmp_path, monkeypatch, capsys):
    from hwgen.cli.main import main

    monkeypatch.chdir(tmp_path)
    argv = ["run", "--target", "systolic:4x4:ws", "--backend", "rtl", "--layer", "layer0.attn.k", "--text", "Hi.",
            "--scratchpad", "16,32,32", "--columns", "4", "--json", "out.json"]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((tmp_path / "out.json").read_text())["layer_run"]
    assert run["backend"] == "rtl" and run["bit_exact"] and run["cycle_error"] <= 0.02
    assert "bit-exact" in capsys.readouterr().out
