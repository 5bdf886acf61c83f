"""N:M magnitude pruning and the sparse DSP chain's weight/activation streams for a GEMV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.sparse_chain import SparseChainConfig, WeightBeat

__all__ = [
    "NMWeights",
    "act_stream",
    "compress_nm",
    "decode_nm_stream",
    "encode_nm_stream",
    "expand_nm",
    "gather_outputs",
    "prune_gemm_weights",
    "prune_nm",
]

#: Most beats :func:`act_stream` builds (a list of views: 8 bytes each).
MAX_BEATS = 1 << 22
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class NMWeights:
    """Compressed N:M matrix: ``n`` kept values per block of ``m`` columns, with their positions.

    Attributes
    ----------
    values, indices : numpy.ndarray of int64, shape (rows, cols // m * n)
        Entry ``j`` of a row is the ``j % n``-th kept weight of block ``j // n``;
        indices ascend within a block.
    n, m : int
    shape : tuple of int
        Shape of the dense matrix.
    """

    values: np.ndarray
    indices: np.ndarray
    n: int
    m: int
    shape: tuple[int, int]


def _check_nm(n: int, m: int, cols: int) -> None:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m={m!r} is not allowed; allowed: an integer >= 1")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= m:
        raise ValueError(f"n={n!r} is not allowed; allowed: an integer from 1 to m={m}")
    if cols % m:
        raise ValueError(f"columns={cols} is not allowed; allowed: a multiple of m={m} (pad the matrix)")


def _int64(field: str, a, ndim: int) -> np.ndarray:
    """``a`` as int64 if it is an ``ndim``-D integer array whose values int64 holds (no wrap, no truncation)."""
    a = np.asarray(a)
    if a.ndim != ndim or a.dtype.kind not in "iu":
        raise ConfigError(field, f"array of shape {a.shape}, dtype {a.dtype}", f"a {ndim}-D integer array")
    if a.dtype.kind == "u" and a.size and a.max() > _INT64_MAX:
        raise ConfigError(field, int(a.max()), f"integers up to {_INT64_MAX} (int64)")
    return a.astype(np.int64)


def _matrix(weights) -> np.ndarray:
    return _int64("weights", weights, 2)


def _count(field: str, value, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(field, value, f"an integer >= {lo}")
    return int(value)


def _kept_positions(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Positions (ascending) of the ``n`` largest-magnitude entries of each block; ties keep the lower index."""
    blocks = w.reshape(w.shape[0], w.shape[1] // m, m)
    order = np.argsort(-np.abs(blocks), axis=-1, kind="stable")
    return np.sort(order[..., :n], axis=-1)


def prune_nm(weights, n: int, m: int) -> np.ndarray:
    """Zero all but the ``n`` largest-magnitude weights of every block of ``m`` consecutive columns.

    Ties in magnitude keep the lower column, so the result is deterministic.

    Parameters
    ----------
    weights : array_like of int, shape (rows, cols)
    n, m : int
        Keep ``n`` of ``m``; ``cols`` must be a multiple of ``m``.

    Returns
    -------
    numpy.ndarray of int64, same shape

    Raises
    ------
    ValueError
        If the matrix is not 2-D integer or ``n``, ``m`` do not fit it.
    """
    w = _matrix(weights)
    _check_nm(n, m, w.shape[1])
    blocks = w.reshape(w.shape[0], w.shape[1] // m, m)
    keep = np.zeros(blocks.shape, bool)
    np.put_along_axis(keep, _kept_positions(w, n, m), True, axis=-1)
    return np.where(keep, blocks, 0).reshape(w.shape)


def prune_gemm_weights(b, n: int, m: int) -> np.ndarray:
    """N:M-prune the ``k x n_out`` weights of a GEMM ``a @ b`` along ``k``, as the chain runs it.

    The chain computes ``y = W x`` with ``W = b.T``: each output's dot product over ``k``
    keeps ``n`` of every ``m`` consecutive weights (:func:`prune_nm` on ``W``). ``k`` need
    not be a multiple of ``m``: the last block is zero-padded for the pruning only, as
    :func:`encode_nm_stream` pads it.

    Parameters
    ----------
    b : array_like of int, shape (k, n_out)
    n, m : int
        Keep ``n`` of ``m``.

    Returns
    -------
    numpy.ndarray of int64, shape (k, n_out)

    Raises
    ------
    ConfigError
        If ``b`` is not a 2-D integer array.
    ValueError
        If ``n``, ``m`` are not a valid N:M.
    """
    w = _matrix(b).T
    _check_nm(n, m, 0)
    return prune_nm(_padded(w, 1, m), n, m)[:, : w.shape[1]].T.copy()


def compress_nm(pruned, n: int, m: int) -> NMWeights:
    """Compress an N:M-sparse matrix into values and block indices.

    A block with fewer than ``n`` non-zeros is padded with zero weights at its lowest
    free positions.

    Raises
    ------
    ValueError
        If a block holds more than ``n`` non-zeros.
    """
    w = _matrix(pruned)
    _check_nm(n, m, w.shape[1])
    blocks = w.reshape(w.shape[0], w.shape[1] // m, m)
    counts = (blocks != 0).sum(axis=-1)
    if counts.max(initial=0) > n:
        row, block = np.argwhere(counts > n)[0]
        raise ValueError(f"row {row} block {block} has {counts[row, block]} non-zeros; allowed: at most n={n}")
    pos = _kept_positions(w, n, m)
    values = np.take_along_axis(blocks, pos, axis=-1)
    kept = w.shape[1] // m * n
    return NMWeights(values.reshape(w.shape[0], kept), pos.reshape(w.shape[0], kept), n, m, tuple(w.shape))


def expand_nm(nm: NMWeights) -> np.ndarray:
    """Dense matrix of a compressed one (inverse of :func:`compress_nm`).

    Raises
    ------
    ConfigError
        If ``nm`` is not an NMWeights whose arrays fit its ``shape``, ``n`` and ``m``.
    """
    values, indices = _check_nm_weights(nm)
    rows, cols = nm.shape
    out = np.zeros((rows, cols // nm.m, nm.m), np.int64)
    blocks = (rows, cols // nm.m, nm.n)
    np.put_along_axis(out, indices.reshape(blocks), values.reshape(blocks), axis=-1)
    return out.reshape(nm.shape)


def _shape(shape) -> tuple[int, int]:
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise ConfigError("shape", shape, "a (rows, cols) pair of integers >= 0")
    return _count("shape[0]", shape[0]), _count("shape[1]", shape[1])


def _check_nm_weights(nm) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(nm, NMWeights):
        raise ConfigError("nm", nm, "an NMWeights")
    rows, cols = _shape(nm.shape)
    _check_nm(nm.n, nm.m, cols)
    values, indices = _int64("values", nm.values, 2), _int64("indices", nm.indices, 2)
    want = (rows, cols // nm.m * nm.n)
    for field, a in (("values", values), ("indices", indices)):
        if a.shape != want:
            raise ConfigError(f"{field}.shape", a.shape, f"{want} for shape={nm.shape}, n={nm.n}, m={nm.m}")
    if indices.size and (indices.min() < 0 or indices.max() >= nm.m):
        raise ConfigError("indices", "out of range", f"positions 0..{nm.m - 1} in a block")
    return values, indices


def _padded(w: np.ndarray, row_mult: int, col_mult: int) -> np.ndarray:
    rows = -(-w.shape[0] // row_mult) * row_mult
    cols = -(-w.shape[1] // col_mult) * col_mult
    out = np.zeros((rows, cols), np.int64)
    out[: w.shape[0], : w.shape[1]] = w
    return out


def encode_nm_stream(cfg: SparseChainConfig, pruned, mode: int) -> list[WeightBeat]:
    """Weight beats of the GEMV ``y = W x`` in mode ``mode`` (code, see ``cfg.mode_code``).

    Rows are taken ``s = cfg.segments(mode)`` at a time (one per segment), columns
    ``cfg.span(mode)`` at a time (``length`` in the default layout); ``last`` marks each
    row group's final column block. Rows and columns are zero-padded.

    Raises
    ------
    ValueError
        If a block of ``pruned`` is not N:M-sparse for the mode or a weight does not fit.
    """
    n, m = cfg.nm(mode)
    w = _matrix(pruned)
    fmt = cfg.weight_format
    if w.size and (w.min() < fmt.min_value or w.max() > fmt.max_value):
        raise ValueError(f"weights out of range for {fmt.name}; allowed: {fmt.min_value}..{fmt.max_value}")
    lanes, span, per_block = cfg.segments(mode), cfg.span(mode), cfg.segment(mode)
    nm = compress_nm(_padded(w, lanes, span), n, m)
    beats = []
    n_cb = nm.shape[1] // span
    for r0 in range(0, nm.shape[0], lanes):
        for cb in range(n_cb):
            cut = slice(cb * per_block, (cb + 1) * per_block)
            beats.append(
                WeightBeat(
                    mode,
                    nm.values[r0 : r0 + lanes, cut].reshape(-1),
                    nm.indices[r0 : r0 + lanes, cut].reshape(-1),
                    cb == n_cb - 1,
                )
            )
    return beats


def decode_nm_stream(cfg: SparseChainConfig, beats: list[WeightBeat], shape: tuple[int, int]) -> np.ndarray:
    """Dense ``shape`` matrix a weight stream encodes (inverse of :func:`encode_nm_stream`).

    Raises
    ------
    ValueError
        If the beats mix modes or do not cover ``shape``.
    """
    shape = _shape(shape)
    if not beats:
        raise ValueError("no beats to decode")
    if not all(isinstance(b, WeightBeat) for b in beats):
        raise ConfigError("beats", beats, "a list of WeightBeat")
    mode = beats[0].mode
    if any(b.mode != mode for b in beats):
        raise ValueError("beats mix modes; allowed: one mode per stream")
    n, m = cfg.nm(mode)
    lanes, span = cfg.segments(mode), cfg.span(mode)
    n_cb, groups = -(-shape[1] // span), -(-shape[0] // lanes)
    if len(beats) != groups * n_cb:
        raise ValueError(f"{len(beats)} beats do not cover shape {shape}; allowed: {groups * n_cb}")
    rows = [[] for _ in range(groups * lanes)]
    for i, beat in enumerate(beats):
        g = i // n_cb
        vals, idx = beat.value.reshape(lanes, -1), beat.index.reshape(lanes, -1)
        for k in range(lanes):
            rows[g * lanes + k].append((vals[k], idx[k]))
    values = np.array([np.concatenate([v for v, _ in r]) for r in rows])
    indices = np.array([np.concatenate([i for _, i in r]) for r in rows])
    dense = expand_nm(NMWeights(values, indices, n, m, (groups * lanes, n_cb * span)))
    return dense[: shape[0], : shape[1]]


def act_stream(cfg: SparseChainConfig, x, rows: int, mode: int) -> list[np.ndarray]:
    """Activation beats matching :func:`encode_nm_stream`: ``(tokens, window)`` column blocks of ``x``.

    Each beat carries ``cfg.span(mode)`` columns of ``x`` in its first positions and
    zeros in the rest of the window.

    Parameters
    ----------
    x : array_like of int, shape (tokens, cols)
        One activation vector per token (two when the chain is packed).
    rows : int
        Rows of the weight matrix: the column blocks repeat once per row group.

    Raises
    ------
    ConfigError
        If ``x`` is not ``(tokens, cols)`` integers of the activation format, or ``rows``
        is not an integer >= 0 giving at most :data:`MAX_BEATS` beats.
    """
    x = _int64("x", x, 2)
    if x.shape[0] != cfg.tokens:
        raise ConfigError("x.shape", x.shape, f"({cfg.tokens}, cols)")
    fmt = cfg.act_format
    if x.size and (x.min() < fmt.min_value or x.max() > fmt.max_value):
        raise ConfigError("x", "out of range", f"{fmt.name} values {fmt.min_value}..{fmt.max_value}")
    span = cfg.span(mode)
    n_cb = -(-x.shape[1] // span)
    groups = -(-_count("rows", rows) // cfg.segments(mode))
    if groups * n_cb > MAX_BEATS:
        raise ConfigError("rows", rows, f"an integer >= 0 giving at most {MAX_BEATS} beats of {n_cb} column blocks")
    cols = np.zeros((cfg.tokens, n_cb * span), np.int64)
    cols[:, : x.shape[1]] = x
    xp = np.zeros((cfg.tokens, n_cb, cfg.window), np.int64)
    xp[:, :, :span] = cols.reshape(cfg.tokens, n_cb, span)
    blocks = [xp[:, c] for c in range(n_cb)]
    return blocks * groups


def gather_outputs(cfg: SparseChainConfig, outs: list[np.ndarray], rows: int, mode: int) -> np.ndarray:
    """``y`` of shape ``(tokens, rows)`` from the ``o_out`` beats of a GEMV stream.

    Raises
    ------
    ConfigError
        If a beat is not a ``(tokens, lanes)`` integer array or ``rows`` is not an integer >= 0.
    ValueError
        If the beats hold fewer than ``rows`` results.
    """
    rows = _count("rows", rows)
    lanes = cfg.segments(mode)
    if not isinstance(outs, list | tuple):
        raise ConfigError("outs", outs, "a list of o_out beats")
    beats = [_int64(f"outs[{i}]", o, 2) for i, o in enumerate(outs)]
    for i, o in enumerate(beats):
        if o.shape != (cfg.tokens, cfg.lanes):
            raise ConfigError(f"outs[{i}].shape", o.shape, f"({cfg.tokens}, {cfg.lanes})")
    y = np.concatenate([o[:, :lanes] for o in beats], axis=1) if beats else np.zeros((cfg.tokens, 0))
    if y.shape[1] < rows:
        raise ValueError(f"{len(outs)} output beats hold {y.shape[1]} rows; allowed: at least {rows}")
    return y[:, :rows].astype(np.int64)
