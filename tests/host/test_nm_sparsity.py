"""Host N:M pruning and the sparse chain's weight stream: magnitude pruning, round trips, GEMV end to end."""

import numpy as np
import pytest

from hwgen.emulation import int32, ops
from hwgen.emulation.sparse_chain import SparseChainConfig, run_chain
from hwgen.host.nm_sparsity import (
    act_stream,
    compress_nm,
    decode_nm_stream,
    encode_nm_stream,
    expand_nm,
    gather_outputs,
    prune_nm,
)

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
]


@pytest.mark.parametrize("cfg", CHAINS, ids=lambda c: c.top_name)
@pytest.mark.parametrize(("rows", "cols"), [(7, 48), (1, 16), (12, 80)])
def test_stream_round_trip_and_gemv_in_every_mode(cfg, rows, cols):
    rng = np.random.default_rng(rows * cols)
    wf = cfg.weight_format
    for code, (n, m) in enumerate(cfg.modes):
        w = prune_nm(rng.integers(wf.min_value, wf.max_value + 1, (rows, cols)), n, m)
        beats = encode_nm_stream(cfg, w, code)
        assert len(beats) == -(-rows // (m // n)) * -(-cols // cfg.length)
        assert all(b.mode == code and b.value.shape == (cfg.length,) for b in beats)
        np.testing.assert_array_equal(decode_nm_stream(cfg, beats, (rows, cols)), w)
        x = rng.integers(-128, 128, (cfg.tokens, cols))
        outs = run_chain(cfg, beats, act_stream(cfg, x, rows, code))
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
