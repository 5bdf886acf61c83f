"""Mapped GEMM layers on the sparse DSP chain's models: N:M-pruned calls bit-exact, cycles one formula."""

import numpy as np
import pytest

from hwgen.emulation import float32, int4, int8, int16, int32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import float8_e4m3fn
from hwgen.emulation.sparse_chain import SparseChainConfig, run_chain
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.sparse_dsp_plan import gemv_beats, latency
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.nm_sparsity import act_stream, encode_nm_stream, gather_outputs, prune_gemm_weights
from hwgen.host.targets import parse_target
from hwgen.host.unit_layers import UnitBackend

UNIT = get_unit("sparse-dsp")
#: Dense, the default N:M layouts (2:4, 1:4, 1:8) and results-per-beat forms (S = 1, S = N, S = M/N given).
TARGETS = (
    "sparse:8",
    "sparse:8:2:4",
    "sparse:8:1:4",
    "sparse:16:1:8",
    "sparse:8:1:4:1",
    "sparse:16:2:8:2",
    "sparse:16:4:16:4",
    "sparse:8:2:4:2",
)
#: Ragged shapes: K not a multiple of M or of the span, N not a multiple of S, one-row GEMV.
SHAPES = ((3, 13, 5), (1, 40, 7), (4, 8, 9), (2, 3, 1))


def _call(m, k, n, seed=0, a_fmt=int8, b_fmt=int8, acc=int32):
    rng = np.random.default_rng(seed)
    a = rng.integers(a_fmt.min_value, a_fmt.max_value + 1, (m, k))
    b = rng.integers(b_fmt.min_value, b_fmt.max_value + 1, (k, n))
    a.flat[0], b.flat[0] = a_fmt.min_value, b_fmt.min_value  # the corner product
    return GemmCall("layer", a_fmt.encode(a), b_fmt.encode(b), a_fmt, b_fmt, acc, "exact", "sequential")


def _codes(x):
    return np.asarray(x, np.int64)


@pytest.mark.parametrize("text", TARGETS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_emulator_equals_emulate_gemm_of_the_pruned_call(text, shape):
    target = parse_target(text)
    call = _call(*shape, seed=sum(shape))
    layer = target.layer_unit(call)
    run = UnitBackend(target).run_layer(call)
    reference = layer.call if layer.call is not None else call
    np.testing.assert_array_equal(_codes(run.codes), _codes(emulate_gemm(reference)))
    assert run.measured_cycles == run.predicted_cycles == [target.cycles(*shape)]


@pytest.mark.parametrize("text", [t for t in TARGETS if t != "sparse:8"])
def test_n_m_modes_run_the_call_pruned_along_k(text):
    target = parse_target(text)
    call = _call(3, 13, 5)
    pruned = target.layer_unit(call).call
    assert pruned is not None and pruned.a_codes is call.a_codes
    b = int8.decode(pruned.b_codes)
    np.testing.assert_array_equal(b, prune_gemm_weights(int8.decode(call.b_codes), target.n_keep, target.m_block))
    blocks = np.zeros((16, 5), np.int64)
    blocks[:13] = b
    nonzeros = (blocks.reshape(-1, target.m_block, 5) != 0).sum(axis=1)
    assert nonzeros.max() <= target.n_keep
    kept = b[b != 0]  # every kept weight is one of the call's, at its place
    np.testing.assert_array_equal(kept, int8.decode(call.b_codes)[b != 0])
    assert not np.array_equal(emulate_gemm(pruned), emulate_gemm(call))  # pruning changed the layer


def test_dense_mode_runs_the_call_as_is():
    layer = parse_target("sparse:8").layer_unit(_call(2, 9, 3))
    assert layer.call is None and layer.run == {"mode": 0} and layer.unit is UNIT


def test_cycles_are_the_units_formula_worked_by_hand():
    # sparse:8:2:4: 2 results per beat, span 8; 4 groups of 2, so D = 7.
    # 3 rows x ceil(5 / 2) row groups x ceil(13 / 8) column blocks = 18 beats, + D = 25.
    target = parse_target("sparse:8:2:4")
    cfg = target.config_for()
    assert latency(cfg) == 7 and target.cycles(3, 13, 5) == 25
    assert UNIT.cycles(cfg, 3, 13, 5, mode=1) == 25
    assert target.layer_unit(_call(3, 13, 5)).cycles(3, 13, 5) == 25
    # Dense: one result per beat over 8 columns: 3 x 5 x 2 = 30 beats + 7.
    assert parse_target("sparse:8").cycles(3, 13, 5) == 37


def test_golden_matches_the_chains_streams_packed_and_unpacked():
    """The unit's golden model equals the chain model itself, run beat by beat on the host's streams."""
    rng = np.random.default_rng(5)
    for packed in (False, True):
        cfg = SparseChainConfig(length=8, group_size=2, sparse_modes=((2, 4), (1, 8, 1)), packed=packed, window=64)
        for mode in range(len(cfg.modes)):
            n, m = cfg.nm(mode)
            a = rng.integers(-128, 128, (3, 21))
            b = prune_gemm_weights(rng.integers(-128, 128, (21, 6)), n, m)
            rows = np.zeros((4, 21), np.int64)
            rows[:3] = a
            want = []
            for r in range(0, 4, cfg.tokens):
                x = rows[r : r + cfg.tokens]
                outs = run_chain(cfg, encode_nm_stream(cfg, b.T, mode), act_stream(cfg, x, 6, mode))
                want.extend(gather_outputs(cfg, outs, 6, mode))
            np.testing.assert_array_equal(UNIT.golden(cfg, a, b, mode=mode), np.array(want)[:3])
            beats = (2 if packed else 3) * gemv_beats(cfg, 6, 21, mode)
            assert UNIT.cycles(cfg, 3, 21, 6, mode=mode) == beats + latency(cfg)


def test_int32_wraps_like_the_accumulator():
    k = 140_000  # 140000 * 16384 > 2**31: the exact sum wraps
    call = GemmCall("wrap", int8.encode(np.full((1, k), -128)), int8.encode(np.full((k, 1), -128)),
                    int8, int8, int32, "exact", "sequential")  # fmt: skip
    run = UnitBackend(parse_target("sparse:8")).run_layer(call)
    assert int32.decode(run.codes)[0, 0] == int32.fit(k * 16384) != k * 16384
    np.testing.assert_array_equal(_codes(run.codes), _codes(emulate_gemm(call)))


def test_narrow_integer_operands_run_exactly():
    call = _call(2, 12, 3, a_fmt=int4, b_fmt=int4)
    target = parse_target("sparse:8:2:4")
    run = UnitBackend(target).run_layer(call)
    np.testing.assert_array_equal(_codes(run.codes), _codes(emulate_gemm(target.layer_unit(call).call)))


@pytest.mark.parametrize(
    ("formats", "named"),
    [
        ((float8_e4m3fn, float8_e4m3fn, float32), "float8_e4m3fn"),
        ((int16, int8, int32), "int16"),
        ((int8, int16, int32), "int16"),
        ((int8, int8, int16), "acc=int16"),
    ],
)
def test_formats_the_chain_cannot_compute_are_named(formats, named):
    a_fmt, b_fmt, acc = formats
    codes = np.zeros((2, 4), np.uint8)
    call = GemmCall("bad", codes, codes.T.copy(), a_fmt, b_fmt, acc, "exact", "sequential")
    with pytest.raises(ConfigError, match=named) as err:
        parse_target("sparse:8:2:4").layer_unit(call)
    assert "int32 accumulator" in str(err.value)


def test_golden_rejects_unpruned_weights_unknown_modes_and_out_of_range_operands():
    cfg = parse_target("sparse:8:2:4").config_for()
    a, b = np.ones((1, 8), np.int64), np.ones((8, 2), np.int64)
    with pytest.raises(ValueError, match="at most n=2 of m=4"):
        UNIT.golden(cfg, a, b, mode=1)
    with pytest.raises(ConfigError, match=r"mode code 0\.\.1"):
        UNIT.golden(cfg, a, b, mode=2)
    with pytest.raises(ValueError, match=r"weights out of range for int8; allowed: -128\.\.127"):
        UNIT.golden(cfg, a, 200 * b)
    with pytest.raises(ValueError, match=r"\(m, k\) @ \(k, n\)"):
        UNIT.golden(cfg, a, b.T)
    with pytest.raises(ValueError, match="n=0"):
        prune_gemm_weights(b, 0, 4)
