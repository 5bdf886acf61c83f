"""Mapped GEMM layers on each target's own unit (emulator runner): the unit's result and cycles, boundary checks."""

import subprocess
import sys

import numpy as np
import pytest

from hwgen.emulation import get_format
from hwgen.emulation.errors import ConfigError
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import LAYER_RUNNERS, UnitBackend, layer_runner, register_layer_runner

INT8, INT4, INT32 = get_format("int8"), get_format("int4"), get_format("int32")
TARGETS = (
    "systolic:4x4:ws",
    "systolic:3x5:is",
    "systolic:4x3:os",
    "systolic:2x2:auto",
    "bitslice:2x3",
    "addertree:3x4",
)


def _call(rng, m, k, n, fmt=INT8, acc=INT32, mul="exact", corners=True):
    lo, hi = fmt.min_value, fmt.max_value
    a, b = rng.integers(lo, hi + 1, (m, k)), rng.integers(lo, hi + 1, (k, n))
    if corners:
        a.flat[0], b.flat[0], a.flat[-1], b.flat[-1] = lo, lo, hi, lo  # the largest products
    return GemmCall("layer", fmt.encode(a), fmt.encode(b), fmt, fmt, acc, mul, "sequential")


@pytest.mark.parametrize("text", TARGETS)
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 37, 11), (1, 64, 9), (9, 3, 2)])
def test_emulator_runner_is_the_units_own_result_and_cycles(text, shape):
    call = _call(np.random.default_rng(sum(shape)), *shape)
    target = parse_target(text)
    run = UnitBackend(target).run_layer(call)
    assert np.array_equal(run.codes, np.asarray(emulate_gemm(call), np.int64))  # codes, not values
    flow = target.pick_dataflow(*shape) if text.startswith("systolic") else None
    want = target.cycles(*shape, flow) if flow else target.cycles(*shape)
    assert run.measured_cycles == run.predicted_cycles == [want]


def test_bitslice_runs_narrow_operands_at_their_precision():
    call = _call(np.random.default_rng(3), 4, 21, 5, fmt=INT4)
    target = parse_target("bitslice:2x2")
    run = UnitBackend(target).run_layer(call)
    assert np.array_equal(run.codes, np.asarray(emulate_gemm(call), np.int64))
    assert run.predicted_cycles == [target.cycles(4, 21, 5, w_bits=4, a_bits=4)]
    assert run.predicted_cycles[0] < target.cycles(4, 21, 5)  # 4-bit operands fuse more lanes per beat


def test_whole_model_hook_runs_what_the_unit_can_and_leaves_the_rest_to_the_emulator():
    backend = UnitBackend(parse_target("addertree:2x4"))
    rng = np.random.default_rng(5)
    assert backend.gemm_hook(_call(rng, 2, 5, 3)) is not None
    f32 = get_format("float32")
    assert backend.gemm_hook(_call(rng, 2, 5, 3, acc=f32)) is None
    assert len(backend.runs) == 1


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("addertree:2x4", {"acc": get_format("int16")}, "int32 accumulator"),
        ("systolic:4x4:os", {"mul": "lmul"}, "exact products"),
        ("bitslice:2x2:unsigned", {}, "radix4"),
    ],
)
def test_a_layer_the_unit_cannot_compute_is_refused_by_name(text, kwargs, match):
    call = _call(np.random.default_rng(1), 2, 3, 2, **kwargs)
    with pytest.raises(ConfigError, match=match):
        UnitBackend(parse_target(text)).run_layer(call)


def test_runner_registry_checks_its_inputs():
    assert "emulator" in LAYER_RUNNERS
    with pytest.raises(ConfigError, match="non-empty backend name"):
        register_layer_runner("", lambda **_: None)
    with pytest.raises(ConfigError, match="callable"):
        register_layer_runner("x", 3)
    with pytest.raises(ConfigError, match="emulator"):
        layer_runner("nosuch")
    with pytest.raises(ConfigError, match="single target"):
        UnitBackend("systolic:4x4")


def test_rtl_runner_without_hwgen_sim_says_how_to_get_it():
    code = (
        "from hwgen.host.unit_layers import layer_runner\n"
        "from hwgen.emulation.errors import ConfigError\n"
        "try:\n    layer_runner('rtl')\nexcept ConfigError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "import hwgen.sim" in out


@pytest.mark.parametrize(
    ("model", "target", "formats", "extra"),
    [
        ("minilm", "addertree:4x8", "w=int8,a=int8,acc=int32", {"sentences": ["a cat sat"]}),
        ("minilm", "sparse:8:2:4", "w=int8,a=int8,acc=int32", {"sentences": ["a cat sat"]}),
        ("minilm", "fp-mac:e4m3", "w=float8_e4m3fn,a=float8_e4m3fn,acc=float32", {"sentences": ["a cat sat"]}),
        ("decoder", "prefill=systolic:8x8:ws,decode=pim:16ch", "w=int8,a=int8,acc=int32", {"tokens": 8, "context": 8}),
    ],
)
def test_run_api_runs_a_mapped_layer_on_the_targets_unit(model, target, formats, extra):
    from hwgen.host import run

    check = run(model, target, formats, layer="layer0.attn.q", columns=8, **extra).layer_run
    assert check.bit_exact and check.measured_cycles == check.predicted_cycles > 0
