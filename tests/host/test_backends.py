"""Backends by name; the emulator's program path equals emulate_gemm bit for bit; the device path via the driver."""

import numpy as np
import pytest

from hwgen.emulation import float8_e4m3fn, float32, int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.host.backends import BACKENDS, Backend, EmulatorBackend, get_backend, register_backend
from hwgen.host.emulated_device import emulated_info
from hwgen.host.ir_exec import GemmCall, emulate_gemm


def _int8_call(m, k, n, seed=0, name="layer0.attn.q"):
    rng = np.random.default_rng(seed)
    a = int8.encode(rng.integers(-128, 128, (m, k)))
    b = int8.encode(rng.integers(-128, 128, (k, n)))
    return GemmCall(name, a, b, int8, int8, int32, "exact", "sequential")


def test_registry_names_and_errors():
    assert {"emulator", "device"} <= set(BACKENDS)  # the host's own; rtl comes with ``import hwgen.sim``
    assert BACKENDS["emulator"] is EmulatorBackend
    assert isinstance(get_backend("emulator"), Backend)
    with pytest.raises(ConfigError, match="backend='fpga' is not allowed; allowed: emulator, device"):
        get_backend("fpga")
    with pytest.raises(ConfigError, match="device URL"):
        get_backend("device")
    with pytest.raises(TypeError):
        BACKENDS["mine"] = EmulatorBackend  # read-only: register_backend adds one


@pytest.mark.parametrize(
    ("name", "factory", "words"),
    [
        ("emulator", EmulatorBackend, ("name='emulator'", "not yet registered", "taken: emulator")),
        ("", EmulatorBackend, ("name=''", "non-blank")),
        (3, EmulatorBackend, ("name=3",)),
        ("mine", "hwgen.host.backends:EmulatorBackend", ("factory=", "callable")),
    ],
)
def test_register_backend_rejects_taken_names_and_non_callables(name, factory, words):
    with pytest.raises(ConfigError) as exc:
        register_backend(name, factory)
    for word in words:
        assert word in str(exc.value)
    assert "mine" not in BACKENDS


def test_rtl_without_hwgen_sim_says_how_to_get_it():
    """A fresh interpreter that never imported hwgen.sim: the error says to import it (or use the CLI)."""
    import subprocess
    import sys

    probe = (
        "from hwgen.host.backends import get_backend\n"
        "try:\n    get_backend('rtl')\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.startswith("ConfigError backend='rtl' is not allowed") and "import hwgen.sim" in out, out
    assert "hwgen command line" in out


@pytest.mark.parametrize("flow", ["ws", "is", "auto"])
@pytest.mark.parametrize("shape", [(7, 33, 5), (1, 64, 20), (20, 3, 1)])
def test_emulator_programs_equal_emulate_gemm(shape, flow):
    backend = EmulatorBackend(
        emulated_info(4, 4, w_depth=16, a_depth=32, o_depth=16, max_payload=64), True, dataflow=flow
    )
    call = _int8_call(*shape)
    codes = backend.gemm_hook(call)
    np.testing.assert_array_equal(np.asarray(codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
    run = backend.runs[-1]
    assert run.measured_cycles == run.predicted_cycles and run.cycle_error == 0


def test_calls_the_top_cannot_run_fall_back_to_the_emulator():
    backend = EmulatorBackend(programs=True)
    rng = np.random.default_rng(1)
    a = float8_e4m3fn.encode(rng.normal(size=(3, 5)))
    b = float8_e4m3fn.encode(rng.normal(size=(5, 2)))
    call = GemmCall("f", a, b, float8_e4m3fn, float8_e4m3fn, float32, "exact", "sequential")
    np.testing.assert_array_equal(backend.gemm_hook(call), emulate_gemm(call))
    assert backend.runs == []  # not sent to the top model


def test_device_backend_through_the_driver_on_an_emulated_link():
    backend = get_backend("device", device="emulated://?rows=4&cols=4&w_depth=8&a_depth=16&o_depth=16")
    assert backend.info.rows == 4
    call = _int8_call(6, 9, 7, seed=2)
    run = backend.run_layer(call)
    np.testing.assert_array_equal(np.asarray(run.codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
    assert run.measured_cycles == run.predicted_cycles


def test_minilm_through_top_programs_equals_the_emulator_bit_for_bit():
    """Every INT8 GEMM of MiniLM as a program on the top's model (16x16, default scratchpads): same embedding bits."""
    from hwgen.emulation import int8 as value
    from hwgen.host.mapper import device_info
    from hwgen.host.minilm import embed
    from hwgen.host.targets import SystolicTarget

    info = device_info(SystolicTarget(16, 16), value, int32)
    programs = EmulatorBackend(info, programs=True)
    policy = "w=int8,a=int8,acc=int32"
    got = embed(["Programs compute it."], policy, programs.gemm_hook)
    want = embed(["Programs compute it."], policy, EmulatorBackend().gemm_hook)
    assert got.tobytes() == want.tobytes()
    assert len(programs.runs) == 6 * (6 + 2 * 12)  # 6 linear + 12 heads x (QK^T, AV) per layer, all on the top
    assert all(r.measured_cycles == r.predicted_cycles for r in programs.runs)
