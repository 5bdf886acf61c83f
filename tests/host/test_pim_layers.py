"""The ``pim`` unit runs mapped GEMV layers: golden == emulate_gemm code for code, one cycle formula, decode calls."""

import numpy as np
import pytest

from hwgen.emulation import int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import get_format
from hwgen.emulation.pim_model import QUICK_TIMING, PimConfig
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.pim_plan import gemm_cycles, gemv_cycles, plan_gemv, run_gemvs
from hwgen.host.decoder import DecoderConfig, capture_decode_call
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.pim_mapping import plan_gemv as host_plan_gemv
from hwgen.host.targets import PimTarget, parse_target
from hwgen.host.unit_layers import UnitBackend

PIM = get_unit("pim")
#: A small channel whose DRAM rows hold 16 values, so GEMVs of a few dozen columns span several chunks.
SMALL = PimConfig(banks=4, rows=32, cols=4, lanes=4, timing=QUICK_TIMING)


def _call(rng, m, k, n, a_fmt=int8, b_fmt=int8, acc=int32, name="random") -> GemmCall:
    a = a_fmt.encode(rng.integers(a_fmt.min_value, a_fmt.max_value + 1, (m, k)))
    b = b_fmt.encode(rng.integers(b_fmt.min_value, b_fmt.max_value + 1, (k, n)))
    return GemmCall(name, a, b, a_fmt, b_fmt, acc, "exact", "sequential")


@pytest.fixture(scope="module")
def decode_q():
    return capture_decode_call("layer0.attn.q", "w=int8,a=int8", tokens=8)


def test_host_mapping_reexports_the_units_plan():
    assert host_plan_gemv is plan_gemv


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_golden_is_the_wrapped_product_over_chunks_and_channels(channels):
    rng = np.random.default_rng(channels)
    for m, k, n in ((1, 37, 10), (3, 16, 7), (2, 1, 1), (1, 48, 25)):
        a = rng.integers(-128, 128, (m, k))
        b = rng.integers(-128, 128, (k, n))
        a[0, 0] = b[0, 0] = -128
        got = PIM.golden(SMALL, a, b, channels=channels)
        assert got.shape == (m, n)
        np.testing.assert_array_equal(got, a @ b, err_msg=f"{m}x{k}x{n} on {channels} channels")


def test_golden_wraps_in_the_accumulator():
    cfg = PimConfig(banks=2, rows=8, cols=4, lanes=4, acc="int16", timing=QUICK_TIMING)
    a, b = np.full((1, 40), -128), np.full((40, 3), -128)  # 40 * 2**14 = 655360 wraps to 0 in int16
    b[:, 1] = 127
    got = PIM.golden(cfg, a, b)
    np.testing.assert_array_equal(got, get_format("int16").fit(a @ b))
    assert got[0, 0] == 0 and got[0, 1] == get_format("int16").fit(np.int64(-128 * 127 * 40))


def test_golden_values_come_from_the_command_streams():
    """Each GEMV's RD_MAC beats, assembled, are the golden row (the model runs the host's commands)."""
    rng = np.random.default_rng(3)
    a, b = rng.integers(-128, 128, (2, 37)), rng.integers(-128, 128, (37, 9))
    layout = plan_gemv(SMALL, 9, 37, 2)
    runs = [run_gemvs(layout, b.T, a, c) for c in range(2)]
    for i in range(2):
        assert all(r.cycles == gemv_cycles(layout) for r in (runs[0][i], runs[1][i]))
        np.testing.assert_array_equal(layout.assemble([runs[0][i].outputs, runs[1][i].outputs]), a[i] @ b)


@pytest.mark.parametrize("text", ["pim:16ch", "pim:2ch:4b", "pim:3ch:8b"])
def test_target_cycles_are_the_units(text):
    target = parse_target(text)
    for m, k, n in ((1, 128, 128), (1, 512, 128), (4, 33, 17), (1, 1, 1)):
        want = m * gemv_cycles(plan_gemv(target.config, n, k, target.channels))
        assert target.cycles(m, k, n) == want == PIM.cycles(target.config, m, k, n, channels=target.channels)
        assert gemm_cycles(target.config, m, k, n, target.channels) == want


@pytest.mark.parametrize(
    "layer", ["layer0.attn.q", "layer0.attn.out", "layer1.ffn.up", "layer1.ffn.down", "layer0.attn.qk", "logits"]
)
def test_decode_layers_on_the_emulator_equal_emulate_gemm(layer):
    call = capture_decode_call(layer, "w=int8,a=int8", tokens=6, context=7)
    run = UnitBackend(parse_target("pim:16ch"), "emulator").run_layer(call)
    np.testing.assert_array_equal(np.asarray(run.codes, np.int64), np.asarray(emulate_gemm(call), np.int64))
    m, k = call.a_codes.shape
    assert run.measured_cycles == run.predicted_cycles == [PimTarget(16).cycles(m, k, call.b_codes.shape[1])]


def test_random_int8_and_int4_calls_match_code_for_code():
    rng = np.random.default_rng(11)
    int4 = get_format("int4")
    backend = UnitBackend(parse_target("pim:2ch:4b"))
    for call in (_call(rng, 1, 200, 24), _call(rng, 3, 40, 9), _call(rng, 2, 17, 5, int4, int8), _call(rng, 1, 5, 3)):
        got = backend.run_layer(call).codes
        np.testing.assert_array_equal(np.asarray(got, np.int64), np.asarray(emulate_gemm(call), np.int64))


def test_layer_unit_names_the_channel_and_its_channels(decode_q):
    layer = PimTarget(2, 4).layer_unit(decode_q)
    assert layer.unit is PIM and layer.config == PimConfig(banks=4) and layer.run == {"channels": 2}


def test_layer_unit_rejects_formats_the_channel_does_not_compute_exactly():
    rng = np.random.default_rng(0)
    target = PimTarget(2, 4)
    int16, fp8 = get_format("int16"), get_format("float8_e4m3fn")
    bad = [
        _call(rng, 1, 8, 4, int16, int8),
        _call(rng, 1, 8, 4, acc=int16),
        capture_decode_call("layer0.attn.q", "w=float8_e4m3fn,a=float8_e4m3fn", tokens=2),
    ]
    for call in bad:
        with pytest.raises(ConfigError, match=r"formats.*int32 accumulator") as err:
            target.layer_unit(call)
        assert call.a_format.name in str(err.value) and call.acc_format.name in str(err.value)
    assert fp8.name in str(err.value)


def test_layer_unit_rejects_a_w_that_does_not_fit_the_banks(decode_q):
    call = capture_decode_call("logits", "w=int8,a=int8", tokens=2)  # 512 outputs: 64 rows per bank on 8 banks
    with pytest.raises(ConfigError, match="rows per bank"):
        PimTarget(2, 4).layer_unit(call)


def test_capture_decode_call_shapes():
    cfg = DecoderConfig()
    d, f, hd = cfg.d_model, cfg.d_ff, cfg.head_dim
    for layer, shape in (
        ("layer0.attn.q", ((1, d), (d, d))),
        ("layer1.ffn.up", ((1, d), (d, f))),
        ("layer1.ffn.down", ((1, f), (f, d))),
        ("layer0.attn.qk", ((1, hd), (hd, 10))),  # 9 cached positions and the new token
        ("layer0.attn.av", ((1, 10), (10, hd))),
        ("logits", ((1, d), (d, cfg.vocab))),
    ):
        call = capture_decode_call(layer, "w=int8,a=int8", tokens=5, context=9)
        assert (call.a_codes.shape, call.b_codes.shape) == shape, layer
        assert call.name == layer and call.index == 0 and call.acc_format.name == "int32"


def test_capture_decode_call_is_the_first_decode_step_by_default():
    first = capture_decode_call("layer0.attn.qk", "w=int8,a=int8", tokens=3)
    later = capture_decode_call("layer0.attn.qk", "w=int8,a=int8", tokens=3, context=4)
    assert first.b_codes.shape[1] == 4 and later.b_codes.shape[1] == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": "layer9.attn.q"}, r"layer0\.attn\.q"),
        ({"layer": "layer0.attn.q", "policy": None}, "policy"),
        ({"layer": "layer0.attn.q", "policy": "float32"}, "policy"),
        ({"layer": "layer0.attn.q", "tokens": 0}, "tokens"),
        ({"layer": "layer0.attn.q", "tokens": 4, "context": 3}, "context"),
        ({"layer": "layer0.attn.q", "context": 256}, "context"),
        ({"layer": "layer0.attn.q", "cfg": "big"}, "cfg"),
    ],
)
def test_capture_decode_call_errors(kwargs, match):
    kwargs = {"policy": "w=int8,a=int8", "tokens": 2, **kwargs}
    with pytest.raises(ConfigError, match=match):
        capture_decode_call(**kwargs)
