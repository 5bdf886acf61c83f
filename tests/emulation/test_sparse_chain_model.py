"""Sparse DSP chain golden model: config validation, packed-product arithmetic, N:M selection, cycle formula."""

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.sparse_chain import (
    SparseChainConfig,
    WeightBeat,
    chain_beat,
    dense_dot,
    format_modes,
    guard_bias,
    guard_limit,
    nm_dot,
    packed_group_sum,
    parse_modes,
    product_range,
    run_chain,
    select_activations,
    split_packed,
)
from hwgen.emulation.units.sparse_dsp_plan import gemv_beats, gemv_cost, gemv_cycles, latency, stream_cycles

# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"length": 0}, "length"),
        ({"length": 65}, "length"),
        ({"length": True}, "length"),
        ({"group_size": 3}, "group_size"),
        ({"weight_bits": 6}, "weight_bits"),
        ({"packed": 1}, "packed"),
        ({"pack_shift": 7}, "pack_shift"),
        ({"sparse_modes": ((2, 6),)}, "sparse_modes"),
        ({"sparse_modes": ((3, 8),)}, "sparse_modes"),
        ({"sparse_modes": ((4, 4),)}, "sparse_modes"),
        ({"sparse_modes": ((1, 16),)}, "sparse_modes"),  # segment of 1 slice < group_size 2
        ({"sparse_modes": ((2, 4), (2, 4))}, "sparse_modes"),
        ({"sparse_modes": "2:4"}, "sparse_modes"),
        ({"length": 16, "group_size": 16, "packed": True, "sparse_modes": ()}, "group_size"),
    ],
)
def test_bad_fields_are_rejected_by_name(kwargs, field):
    with pytest.raises(ConfigError) as err:
        SparseChainConfig(**kwargs)
    assert err.value.field == field
    assert "allowed" in str(err.value)


def test_config_properties_and_round_trip():
    cfg = SparseChainConfig(length=16, group_size=2, sparse_modes=[[2, 4], [1, 8]], packed=True)
    assert cfg.sparse_modes == ((2, 4), (1, 8))
    assert cfg.modes == ((1, 1), (2, 4), (1, 8))
    assert (cfg.lanes, cfg.candidates, cfg.index_bits, cfg.mode_bits, cfg.tokens) == (8, 8, 3, 2, 2)
    assert cfg.segment_ends(cfg.mode_code(1, 8)) == list(range(8))
    assert cfg.segment_ends(cfg.mode_code(2, 4)) == [3, 7]
    assert SparseChainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError):
        SparseChainConfig.from_dict({"lenght": 8})
    with pytest.raises(ConfigError):
        cfg.mode_code(1, 4)


# --- packed products: (a1 * 2**k + a0) * w ------------------------------------------------------


def test_guard_limits_match_the_hand_computed_bands():
    # int8 x int8 products span -16256..16384; 8 of them span 261121 values <= 2**18.
    int8_cfg = SparseChainConfig(group_size=1, packed=True)
    assert product_range(int8_cfg) == (-16256, 16384)
    assert guard_limit(int8_cfg) == 8
    assert 9 * (16384 + 16256) + 1 > 2**18  # no bias could make 9 fit
    assert guard_limit(SparseChainConfig(group_size=1, packed=True, weight_bits=4)) == 128
    assert guard_limit(SparseChainConfig(group_size=1, packed=True, pack_shift=17)) == 4


def _split(cfg, a1, a0, w):
    return split_packed(cfg, packed_group_sum(cfg, a1, a0, w))


def test_int4_packing_is_exact_for_every_operand_triple():
    cfg = SparseChainConfig(length=4, group_size=1, sparse_modes=(), packed=True, weight_bits=4)
    a1, a0, w = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), np.arange(-8, 8), indexing="ij")
    lo, hi = _split(cfg, a1[..., None], a0[..., None], w[..., None])
    np.testing.assert_array_equal(lo, a0 * w)
    np.testing.assert_array_equal(hi, a1 * w)


def test_int8_packing_is_exact_for_every_single_product():
    cfg = SparseChainConfig(length=4, group_size=1, sparse_modes=(), packed=True)
    a0, w = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    for a1 in (-128, -1, 0, 1, 127):  # the high token only moves by whole multiples of 2**k
        lo, hi = _split(cfg, np.full_like(a0, a1)[..., None], a0[..., None], w[..., None])
        np.testing.assert_array_equal(lo, a0 * w)
        np.testing.assert_array_equal(hi, a1 * w)


@pytest.mark.parametrize("weight_bits", [8, 4])
def test_full_group_packing_is_exact_on_random_and_worst_case_values(weight_bits):
    g = 8 if weight_bits == 8 else 64  # int8 at its guard limit; int4 across a whole 64-slice group
    cfg = SparseChainConfig(length=g, group_size=g, sparse_modes=(), packed=True, weight_bits=weight_bits)
    g, wf = cfg.group_size, cfg.weight_format
    rng = np.random.default_rng(weight_bits)
    a1 = rng.integers(-128, 128, (20000, g))
    a0 = rng.integers(-128, 128, (20000, g))
    w = rng.integers(wf.min_value, wf.max_value + 1, (20000, g))
    # Worst cases: every product at the top or bottom of its range, tokens at opposite ends.
    corners = np.array([-128, 127])
    for x1 in corners:
        for x0 in corners:
            for ww in (wf.min_value, wf.max_value):
                a1 = np.vstack([a1, np.full((1, g), x1)])
                a0 = np.vstack([a0, np.full((1, g), x0)])
                w = np.vstack([w, np.full((1, g), ww)])
    lo, hi = _split(cfg, a1, a0, w)
    np.testing.assert_array_equal(lo, (a0 * w).sum(axis=1))
    np.testing.assert_array_equal(hi, (a1 * w).sum(axis=1))


def test_without_the_guard_bias_eight_worst_case_int8_products_spill():
    # The overflow adjustment is needed: the plain signed 18-bit field cannot hold 8 * 16384.
    k, a0, a1, w = 18, -128, 5, -128
    total = 8 * ((a1 << k) + a0) * w
    field = total & ((1 << k) - 1)
    field -= (field >> (k - 1)) << k
    assert field != 8 * a0 * w
    cfg = SparseChainConfig(length=8, group_size=8, sparse_modes=(), packed=True)
    assert guard_bias(cfg) != 0
    lo, hi = _split(cfg, np.full((1, 8), a1), np.full((1, 8), a0), np.full((1, 8), w))
    assert (lo[0], hi[0]) == (8 * a0 * w, 8 * a1 * w)


# --- selection and the chain ----------------------------------------------------------------------


def _random_beat(cfg, code, rng):
    _, m = cfg.nm(code)
    wf = cfg.weight_format
    value = rng.integers(wf.min_value, wf.max_value + 1, cfg.length)
    index = np.zeros(cfg.length, np.int64) if m == 1 else rng.integers(0, m, cfg.length)
    return WeightBeat(code, value, index, True)


@pytest.mark.parametrize("packed", [False, True])
def test_chain_beat_matches_the_compressed_nm_dot_per_segment(packed):
    cfg = SparseChainConfig(length=16, group_size=2, sparse_modes=((2, 4), (1, 4), (1, 8), (4, 8)), packed=packed)
    rng = np.random.default_rng(3)
    for code, (n, m) in enumerate(cfg.modes):
        for _ in range(20):
            beat = _random_beat(cfg, code, rng)
            acts = rng.integers(-128, 128, (cfg.tokens, cfg.length))
            got = chain_beat(cfg, beat, acts)
            seg = cfg.segment(code)
            for t in range(cfg.tokens):
                for k in range(cfg.lanes):
                    if k < cfg.length // seg:
                        cut = slice(k * seg, (k + 1) * seg)
                        want = nm_dot(beat.value[cut], beat.index[cut], acts[t], n, m)
                    else:
                        want = 0
                    assert got[t, k] == want, (code, t, k)


def test_dense_mode_is_a_plain_dot_product():
    cfg = SparseChainConfig(length=8, group_size=4, sparse_modes=((2, 4),))
    w, a = np.arange(-4, 4), np.arange(8)[None, :] * 3
    got = chain_beat(cfg, WeightBeat(0, w, np.zeros(8, int), True), a)
    assert got[0, 0] == dense_dot(w, a[0]) == int((w * a[0]).sum())
    assert got[0, 1] == 0


def test_selection_picks_block_base_plus_index():
    cfg = SparseChainConfig(length=8, group_size=1, sparse_modes=((2, 4), (1, 8)))
    acts = np.arange(100, 108)[None, :]
    index = np.array([0, 3, 1, 2, 3, 0, 2, 1])
    sel = select_activations(cfg, cfg.mode_code(2, 4), index, acts)
    # 2:4 -> 2 segments of 4 slices; slices 0,1 -> block 0, slices 2,3 -> block 1.
    np.testing.assert_array_equal(sel[0], [100, 103, 105, 106, 103, 100, 106, 105])
    sel = select_activations(cfg, cfg.mode_code(1, 8), index, acts)
    np.testing.assert_array_equal(sel[0], acts[0, index])
    with pytest.raises(ValueError, match="out of range"):
        select_activations(cfg, cfg.mode_code(2, 4), np.full(8, 4), acts)


def test_run_chain_accumulates_until_last_and_wraps_to_int32():
    cfg = SparseChainConfig(length=64, group_size=8, sparse_modes=())
    value, acts = np.full(64, -128), np.full((1, 64), -128)  # 2**20 per beat
    beats = [WeightBeat(0, value, np.zeros(64, int), i == 2**12 - 1) for i in range(2**12)]
    (out,) = run_chain(cfg, beats, [acts] * len(beats))
    assert out[0, 0] == 0  # 2**32 wraps to zero
    beats[-2] = WeightBeat(0, value, np.zeros(64, int), True)
    outs = run_chain(cfg, beats, [acts] * len(beats))
    assert [int(o[0, 0]) for o in outs] == [int(np.int64(2**20 * (2**12 - 1) - 2**32)), 2**20]


def test_run_chain_rejects_a_mode_change_inside_an_output():
    cfg = SparseChainConfig(length=8, group_size=1, sparse_modes=((2, 4),))
    z = np.zeros(8, int)
    beats = [WeightBeat(0, z, z, False), WeightBeat(1, z, z, True)]
    with pytest.raises(ValueError, match="mode changed"):
        run_chain(cfg, beats, [np.zeros((1, 8), int)] * 2)


# --- cycle formula ----------------------------------------------------------------------------------


def test_cycle_formula():
    cfg = SparseChainConfig(length=16, group_size=2)
    assert latency(cfg) == cfg.n_groups + 3 == 11
    assert stream_cycles(cfg, 5) == 16
    assert gemv_beats(cfg, 64, 256, 0) == 64 * 16
    for n, m in cfg.sparse_modes:
        code = cfg.mode_code(n, m)
        assert gemv_beats(cfg, 64, 256, code) * m == gemv_beats(cfg, 64, 256, 0) * n
        assert gemv_cycles(cfg, 64, 256, code) == gemv_beats(cfg, 64, 256, code) + 11
    assert gemv_beats(cfg, 5, 17, cfg.mode_code(1, 8)) == 1 * 2  # ragged edges round up
    cost = gemv_cost(cfg, 64, 256, cfg.mode_code(1, 8))
    assert cost.dense_macs == 64 * 256 and cost.multipliers == 16
    with pytest.raises(ValueError):
        gemv_beats(cfg, 0, 4, 0)


# --- run-time grouping: (n, m, s) modes and the activation window ---------------------------------

WIDE = SparseChainConfig(length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4)))


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"window": 8}, "window", "from 16 to 1024"),  # narrower than the chain
        ({"window": 1025}, "window", "from 16 to 1024"),
        ({"window": True}, "window", "0 (= length)"),
        ({"window": 16.0}, "window", "an integer"),
        ({"sparse_modes": ((1, 4, 1, 1),)}, "sparse_modes", "(n, m, s)"),
        ({"sparse_modes": ((1, 4, 1.0),)}, "sparse_modes", "integer tuples"),
        (
            {"sparse_modes": ((1, 4, 3),), "window": 64},
            "sparse_modes",
            "s (results per beat; here 3) dividing length=16",
        ),
        ({"sparse_modes": ((1, 4, 0),)}, "sparse_modes", "dividing length=16"),
        ({"sparse_modes": ((1, 4, 32),)}, "sparse_modes", "dividing length=16"),
        ({"sparse_modes": ((2, 4, 16),), "group_size": 1}, "sparse_modes", "multiple of n=2"),
        ({"sparse_modes": ((1, 4, 16),)}, "sparse_modes", "of group_size=2"),
        (
            {"sparse_modes": ((1, 8, 1),)},
            "sparse_modes",
            "span (length/s)*m/n=128 is at most window=16",
        ),
        ({"sparse_modes": ((1, 8, 2),), "window": 32}, "sparse_modes", "widen window to 64"),
        (
            {"sparse_modes": ((1, 16),), "length": 8, "group_size": 1},
            "sparse_modes",
            "here 16 = m/n, or give (n, m, s)",
        ),
        ({"sparse_modes": ((2, 4), (2, 4, 2))}, "sparse_modes", "distinct modes"),  # the same layout twice
    ],
)
def test_bad_window_and_grouping_are_rejected_by_name(kwargs, field, words):
    with pytest.raises(ConfigError) as err:
        SparseChainConfig(**kwargs)
    assert err.value.field == field
    assert words in str(err.value), str(err.value)


def test_window_and_grouping_properties():
    default = SparseChainConfig()
    assert default.window == 16 and default == SparseChainConfig(window=16)
    assert default.top_name == "sparse_chain_16g2_w8_2of4_1of4_1of8"  # unchanged names for old configs
    assert [default.segments(c) for c in range(4)] == [1, 2, 4, 8]
    assert [default.span(c) for c in range(4)] == [16] * 4
    cfg = WIDE
    assert cfg.sparse_modes == ((2, 4), (1, 4, 1), (1, 8, 1), (4, 8, 4))  # s = m/n is stored as (n, m)
    assert cfg.top_name == "sparse_chain_16g2_w8_a128_2of4_1of4x1_1of8x1_4of8x4"
    assert [cfg.segments(c) for c in range(5)] == [1, 2, 1, 1, 4]  # N results per beat
    assert [cfg.segment(c) for c in range(5)] == [16, 8, 16, 16, 4]
    assert [cfg.span(c) for c in range(5)] == [16, 16, 64, 128, 8]
    assert (cfg.lanes, cfg.candidates, cfg.mode_bits) == (4, 8, 3)
    assert cfg.segment_ends(4) == [1, 3, 5, 7]
    assert SparseChainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["sparse_modes"][1] == [1, 4, 1]
    assert (cfg.mode_code(1, 8), cfg.mode_code(1, 8, 1), cfg.mode_code(2, 4, 2)) == (3, 3, 1)
    both = SparseChainConfig(window=64, sparse_modes=((1, 4), (1, 4, 1)))
    assert (both.mode_code(1, 4, 4), both.mode_code(1, 4, 1)) == (1, 2)
    with pytest.raises(ConfigError, match="give s"):
        both.mode_code(1, 4)
    with pytest.raises(ConfigError):
        cfg.mode_code(1, 8, 8)


def test_parse_and_format_modes():
    assert parse_modes("2:4:2, 1:4 ,1:8:1") == ((2, 4, 2), (1, 4), (1, 8, 1))
    assert parse_modes("") == ()
    assert format_modes(((2, 4), (1, 8, 1))) == "2:4,1:8:1"
    for bad in ("2:4:2:1", "2", "a:4", "2:-4"):
        with pytest.raises(ConfigError) as err:
            parse_modes(bad)
        assert err.value.field == "sparse_modes" and "N:M:S" in str(err.value)


@pytest.mark.parametrize("packed", [False, True])
def test_n_results_layout_matches_the_compressed_nm_dot_per_segment(packed):
    cfg = SparseChainConfig(
        length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4)), packed=packed
    )
    rng = np.random.default_rng(7)
    for code in range(len(cfg.modes)):
        n, m = cfg.nm(code)
        seg, s = cfg.segment(code), cfg.segments(code)
        for _ in range(20):
            beat = _random_beat(cfg, code, rng)
            acts = rng.integers(-128, 128, (cfg.tokens, cfg.window))
            got = chain_beat(cfg, beat, acts)
            for t in range(cfg.tokens):
                for k in range(cfg.lanes):
                    cut = slice(k * seg, (k + 1) * seg)
                    want = nm_dot(beat.value[cut], beat.index[cut], acts[t], n, m) if k < s else 0
                    assert got[t, k] == want, (code, t, k)


def test_n_results_selection_and_dense_ignore_the_window_tail():
    cfg = SparseChainConfig(length=8, group_size=1, window=32, sparse_modes=((1, 4, 1), (2, 4, 2)))
    acts = np.arange(100, 132)[None, :]
    index = np.array([0, 3, 1, 2, 3, 0, 2, 1])
    # 1:4 with s=1: one segment of 8 slices spanning 32 positions; slice p -> block p.
    sel = select_activations(cfg, cfg.mode_code(1, 4, 1), index, acts)
    np.testing.assert_array_equal(sel[0], 100 + 4 * np.arange(8) + index)
    # 2:4 with s=2 (the default layout): two segments of 4 slices over the first 8 positions.
    sel = select_activations(cfg, cfg.mode_code(2, 4), index, acts)
    np.testing.assert_array_equal(sel[0], [100, 103, 105, 106, 103, 100, 106, 105])
    w = np.arange(-4, 4)
    dense = chain_beat(cfg, WeightBeat(0, w, np.zeros(8, int), True), acts)
    assert dense[0, 0] == dense_dot(w, acts[0, :8])
    with pytest.raises(ValueError, match=r"acts shape \(1, 8\)"):
        select_activations(cfg, 0, index * 0, acts[:, :8])


def test_cycle_formula_of_the_n_results_layout():
    cfg = WIDE
    assert latency(cfg) == 11
    for code in range(len(cfg.modes)):
        n, m = cfg.nm(code)
        assert gemv_beats(cfg, 64, 256, code) == -(-64 // cfg.segments(code)) * -(-256 // cfg.span(code))
        assert gemv_beats(cfg, 64, 256, code) * m == gemv_beats(cfg, 64, 256, 0) * n  # N/M of the dense beats
        cost = gemv_cost(cfg, 64, 256, code)
        assert (cost.results_per_beat, cost.acts_per_beat, cost.mode) == (n, cfg.span(code), cfg.modes[code])
    assert gemv_beats(cfg, 5, 129, cfg.mode_code(1, 8)) == 5 * 2  # ragged edges round up


@pytest.mark.parametrize("bits", [4.0, 8.0, True, [4], "4", np.int64(5)])
def test_weight_bits_must_be_the_int_8_or_4(bits):
    with pytest.raises(ConfigError, match="weight_bits"):
        SparseChainConfig(weight_bits=bits)
