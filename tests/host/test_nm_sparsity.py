"""Host N:M pruning, the sparse chain's weight stream (round trips, GEMV end to end) and its target."""

import numpy as np
import pytest

from hwgen.emulation import int32, ops
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.sparse_chain import SparseChainConfig, run_chain
from hwgen.emulation.units.sparse_dsp_plan import gemv_beats, gemv_cycles, latency
from hwgen.host.nm_sparsity import (
    act_stream,
    compress_nm,
    decode_nm_stream,
    encode_nm_stream,
    expand_nm,
    gather_outputs,
    prune_nm,
)
from hwgen.host.targets import SparseTarget, parse_target

NM = [(2, 4), (1, 4), (1, 8), (4, 8), (2, 16)]


@pytest.mark.parametrize(("n", "m"), NM)
def test_prune_keeps_the_n_largest_magnitudes_per_block(n, m):
    rng = np.random.default_rng(n * 100 + m)
    w = rng.integers(-128, 128, (9, 4 * m))
    pruned = prune_nm(w, n, m)
    blocks, kept = w.reshape(9, -1, m), pruned.reshape(9, -1, m)
    assert ((kept != 0).sum(axis=-1) <= n).all()
    assert np.all((kept == 0) | (kept == blocks))  # kept weights are unchanged
    # Every dropped magnitude is <= every kept magnitude of its block.
    for r in range(9):
        for b in range(blocks.shape[1]):
            mask = np.zeros(m, bool)
            mask[np.argsort(-np.abs(blocks[r, b]), kind="stable")[:n]] = True
            assert np.abs(blocks[r, b][~mask]).max(initial=0) <= np.abs(blocks[r, b][mask]).min()
            np.testing.assert_array_equal(kept[r, b], np.where(mask, blocks[r, b], 0))
    np.testing.assert_array_equal(prune_nm(pruned, n, m), pruned)  # idempotent


def test_prune_ties_keep_the_lower_column():
    w = np.array([[3, -3, 3, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(prune_nm(w, 2, 4), [[3, -3, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(prune_nm(w, 1, 4), [[3, 0, 0, 0, 0, 0, 0, 0]])


def test_prune_and_compress_reject_bad_input():
    with pytest.raises(ValueError, match="multiple of m=4"):
        prune_nm(np.zeros((2, 6), int), 2, 4)
    with pytest.raises(ValueError, match="n=5"):
        prune_nm(np.zeros((2, 8), int), 5, 4)
    with pytest.raises(ValueError, match="2-D integer"):
        prune_nm(np.zeros((2, 8)), 2, 4)
    with pytest.raises(ValueError, match="3 non-zeros"):
        compress_nm(np.array([[1, 2, 3, 0]]), 2, 4)


@pytest.mark.parametrize(("n", "m"), NM)
def test_compress_expand_round_trip(n, m):
    w = prune_nm(np.random.default_rng(m).integers(-8, 8, (5, 2 * m)), n, m)
    w[0, :m] = 0  # an all-zero block pads with zero weights at the lowest positions
    nm = compress_nm(w, n, m)
    assert nm.values.shape == nm.indices.shape == (5, 2 * n)
    assert (nm.indices >= 0).all() and (nm.indices < m).all()
    np.testing.assert_array_equal(nm.indices[0, :n], np.arange(n))
    np.testing.assert_array_equal(expand_nm(nm), w)


CHAINS = [
    SparseChainConfig(length=16, group_size=2),
    SparseChainConfig(length=16, group_size=2, packed=True, weight_bits=4),
    SparseChainConfig(length=32, group_size=4, sparse_modes=((2, 4), (4, 8), (2, 16))),
    # N results per beat: (n, m, n) modes over a window of length * m // n**2.
    SparseChainConfig(length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4))),
    SparseChainConfig(length=16, group_size=4, window=64, sparse_modes=((1, 4, 1), (1, 8, 2)), packed=True),
]


@pytest.mark.parametrize("cfg", CHAINS, ids=lambda c: c.top_name)
@pytest.mark.parametrize(("rows", "cols"), [(7, 48), (1, 16), (12, 80)])
def test_stream_round_trip_and_gemv_in_every_mode(cfg, rows, cols):
    rng = np.random.default_rng(rows * cols)
    wf = cfg.weight_format
    for code in range(len(cfg.modes)):
        n, m = cfg.nm(code)
        w = prune_nm(rng.integers(wf.min_value, wf.max_value + 1, (rows, cols)), n, m)
        beats = encode_nm_stream(cfg, w, code)
        s, span = cfg.segments(code), cfg.span(code)
        assert len(beats) == -(-rows // s) * -(-cols // span)
        assert all(b.mode == code and b.value.shape == (cfg.length,) for b in beats)
        np.testing.assert_array_equal(decode_nm_stream(cfg, beats, (rows, cols)), w)
        x = rng.integers(-128, 128, (cfg.tokens, cols))
        acts = act_stream(cfg, x, rows, code)
        assert len(acts) == len(beats) and all(a.shape == (cfg.tokens, cfg.window) for a in acts)
        assert not any(a[:, span:].any() for a in acts)  # the window past the span carries zeros
        outs = run_chain(cfg, beats, acts)
        assert len(outs) == -(-rows // s)  # s row results per output beat
        y = gather_outputs(cfg, outs, rows, code)
        np.testing.assert_array_equal(y, ops.matmul_int(x, w.T, int32))


def test_encode_rejects_weights_that_do_not_fit_or_are_not_sparse():
    cfg = SparseChainConfig(length=16, group_size=2, weight_bits=4)
    with pytest.raises(ValueError, match="int4"):
        encode_nm_stream(cfg, np.full((2, 16), 8), 0)
    with pytest.raises(ValueError, match="non-zeros"):
        encode_nm_stream(cfg, np.ones((2, 16), int), cfg.mode_code(2, 4))
    beats = encode_nm_stream(cfg, np.ones((2, 16), int), 0)
    with pytest.raises(ValueError, match="cover"):
        decode_nm_stream(cfg, beats, (5, 16))


@pytest.mark.parametrize(("text", "results"), [("sparse:16:1:8:1", 1), ("sparse:16:2:4:2", 2), ("sparse:16:4:8:4", 4)])
def test_sparse_target_with_n_results_per_beat_matches_the_chain_model(text, results):
    target = parse_target(text)
    assert target.results == results and str(target) == text and parse_target(str(target)) == target
    cfg = target.config_for()
    n, m = target.n_keep, target.m_block
    assert cfg.window == max(16, 16 * m // n**2) and cfg.segments(1) == n
    for k, rows in ((4096, 4096), (100, 7), (128, 1)):
        assert target.cycles(1, k, rows) == gemv_cycles(cfg, rows, k, 1)
        assert target.cycles(3, k, rows) == 3 * gemv_beats(cfg, rows, k, 1) + latency(cfg)
    # Same throughput as the default layout on full tiles: N/M of the dense beats.
    assert target.cycles(1, 4096, 4096) == SparseTarget(16, n, m).cycles(1, 4096, 4096)


@pytest.mark.parametrize(("text", "field"), [("sparse:16:1:1:4", "results"), ("sparse:16:1:8:3", "sparse_modes")])
def test_sparse_target_rejects_a_bad_results_count(text, field):
    with pytest.raises(ConfigError) as err:
        parse_target(text)
    assert err.value.field == field
