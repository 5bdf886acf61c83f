"""Stream payloads of sparse-chain GEMVs and the bit-exact check of the chain's outputs.

Shared by the Amaranth-simulator test and the cocotb bench so both drive the same
bits and judge them the same way. Payload bit order follows the Amaranth layouts in
``hwgen.dataflow.sparse_chain`` (fields in declaration order, lane 0 lowest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.emulation import ops
from hwgen.emulation.sparse_chain import SparseChainConfig, WeightBeat, run_chain
from hwgen.host.nm_sparsity import act_stream, encode_nm_stream, gather_outputs, prune_nm
from hwgen.sim.packing import pack_lanes, unpack_lanes

__all__ = [
    "GIVEN",
    "KINDS",
    "GemvCase",
    "act_payload",
    "check_outputs",
    "make_case",
    "out_codes",
    "weight_payload",
]

#: Operand kinds: seeded random with corners, and the two extremes of the packed guard band.
KINDS = ("random", "worst_pos", "worst_neg")
#: Kind of a case whose operands are given (a mapped layer's pruned weights and activations), not generated.
GIVEN = "given"


def weight_payload(cfg: SparseChainConfig, beat: WeightBeat) -> int:
    """``i_weight`` payload integer: values, then indices, then mode, then ``last``."""
    wfmt, n = cfg.weight_format, cfg.length
    value = pack_lanes(wfmt.encode(beat.value), wfmt.width)
    index = pack_lanes(np.asarray(beat.index, np.uint64), cfg.index_bits)
    pos = n * wfmt.width
    pos_mode = pos + n * cfg.index_bits
    return value | (index << pos) | (int(beat.mode) << pos_mode) | (int(beat.last) << (pos_mode + cfg.mode_bits))


def act_payload(cfg: SparseChainConfig, acts) -> int:
    """``i_act`` payload integer: token 0's ``window`` activations lowest."""
    fmt = cfg.act_format
    return pack_lanes(fmt.encode(np.asarray(acts).reshape(-1)), fmt.width)


def out_codes(cfg: SparseChainConfig, payload: int) -> np.ndarray:
    """``o_out`` payload as ``(tokens, lanes)`` int32 codes."""
    acc = cfg.acc_format
    return unpack_lanes(payload, acc.width, cfg.tokens * cfg.lanes).reshape(cfg.tokens, cfg.lanes)


@dataclass(frozen=True)
class GemvCase:
    """One GEMV ``y = W x`` through the chain, with every stream beat and the expected results."""

    mode: int
    kind: str
    weights: np.ndarray  # pruned, (rows, cols)
    x: np.ndarray  # (tokens, cols)
    weight_beats: list[WeightBeat]
    act_beats: list[np.ndarray]
    expected: list[np.ndarray]  # o_out beats, (tokens, lanes) int32 values

    @property
    def rows(self) -> int:
        return self.weights.shape[0]

    def payloads(self, cfg: SparseChainConfig) -> tuple[list[int], list[int]]:
        """``i_weight`` and ``i_act`` payload integers."""
        return [weight_payload(cfg, b) for b in self.weight_beats], [act_payload(cfg, a) for a in self.act_beats]


def _operands(cfg, kind: str, rows: int, cols: int, rng: np.random.Generator):
    wf, af = cfg.weight_format, cfg.act_format
    if kind == "random":
        w = rng.integers(wf.min_value, wf.max_value + 1, size=(rows, cols))
        x = rng.integers(af.min_value, af.max_value + 1, size=(cfg.tokens, cols))
        w.flat[0], x.flat[0], x.flat[-1] = wf.min_value, af.min_value, af.max_value
        return w, x
    # Every product at one end of its range, token 0 at the other end from token 1.
    w = np.full((rows, cols), wf.min_value)
    lo_first = kind == "worst_pos"
    x = np.array([[af.min_value if (t == 0) == lo_first else af.max_value] * cols for t in range(cfg.tokens)])
    return w, x


def make_case(
    cfg: SparseChainConfig, mode: int, rows: int, cols: int, rng: np.random.Generator, kind="random", operands=None
):
    """Random (or worst-case) matrix pruned to the mode's N:M, its streams and the golden outputs.

    ``cols`` must be a multiple of the mode's ``m``. Kind ``"given"`` takes ``operands``,
    ``(weights, x)`` of shapes ``(rows, cols)`` and ``(tokens, cols)``, as they are: the
    host pruned the weights (any ``cols``), and a block that is not N:M is a ValueError.
    """
    if kind not in (*KINDS, GIVEN) or (kind == GIVEN) != (operands is not None):
        raise ValueError(f"kind={kind!r} is not allowed; allowed: {', '.join(KINDS)}, or {GIVEN} with operands")
    n, m = cfg.nm(mode)
    if kind == GIVEN:
        pruned, x = (np.asarray(v, np.int64) for v in operands)
        if pruned.shape != (rows, cols) or x.shape != (cfg.tokens, cols):
            raise ValueError(f"operands {pruned.shape}, {x.shape}; allowed: {(rows, cols)}, {(cfg.tokens, cols)}")
    else:
        w, x = _operands(cfg, kind, rows, cols, rng)
        pruned = prune_nm(w, n, m)
    beats = encode_nm_stream(cfg, pruned, mode)
    acts = act_stream(cfg, x, rows, mode)
    return GemvCase(mode, kind, pruned, x, beats, acts, run_chain(cfg, beats, acts))


def check_outputs(cfg: SparseChainConfig, case: GemvCase, payloads: list[int]) -> list[str]:
    """Compare ``o_out`` payloads with the golden model code by code, and the GEMV with ``matmul_int``.

    Returns
    -------
    list of str
        Up to 20 mismatch descriptions; empty when every bit agrees.
    """
    acc = cfg.acc_format
    problems = (
        [] if len(payloads) == len(case.expected) else [f"got {len(payloads)} outputs, want {len(case.expected)}"]
    )
    got_values = []
    for i, (payload, want) in enumerate(zip(payloads, case.expected, strict=False)):
        got = out_codes(cfg, payload)
        got_values.append(acc.decode(got))
        if not np.array_equal(got, acc.encode(want).astype(np.uint64)):
            problems.append(f"output {i}: got codes {got.tolist()}, want {acc.encode(want).tolist()}")
    if not problems:
        y = gather_outputs(cfg, got_values, case.rows, case.mode)
        ref = ops.matmul_int(case.x, case.weights.T, acc)
        if not np.array_equal(y, ref):
            problems.append(f"GEMV result {y.tolist()} differs from matmul_int {ref.tolist()}")
    return problems[:20]
