"""The registry entries of hwgen's architectures: one :class:`Unit` each, with its config and pure models.

Adding a unit is one entry here (plus one module per layer: its pure config and plan
in this package, its hardware in ``hwgen.dataflow``, its bench in ``hwgen.sim``); see
``docs/adding-a-unit.md``.
"""

from __future__ import annotations

import numpy as np

from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import SparseChainConfig, dense_dot, nm_dot
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, plan_tree_gemm
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.emulation.units.contract import Unit, register_unit
from hwgen.emulation.units.fp_pe_config import LATENCY as FP_PE_LATENCY
from hwgen.emulation.units.fp_pe_config import FpPEConfig
from hwgen.emulation.units.pim_plan import gemm_cycles, gemm_golden
from hwgen.emulation.units.sparse_dsp_plan import gemv_beats, stream_cycles
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.emulation.units.top_config import TopConfig

__all__ = ["assemble_tiles", "fp_pe_multiplier"]


def assemble_tiles(outputs, origins, shape: tuple[int, int]) -> np.ndarray:
    """The ``m x n`` result from tile outputs placed at their ``(row, col)`` origins, edges cut off."""
    m, n = shape
    rows = max(o0 + out.shape[0] for (o0, _), out in zip(origins, outputs, strict=True))
    cols = max(o1 + out.shape[1] for (_, o1), out in zip(origins, outputs, strict=True))
    full = np.zeros((rows, cols), dtype=np.asarray(outputs[0]).dtype)
    for (o0, o1), out in zip(origins, outputs, strict=True):
        full[o0 : o0 + out.shape[0], o1 : o1 + out.shape[1]] = out
    return full[:m, :n]


def _systolic_golden(cfg: ArrayConfig, a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    plan = plan_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    return plan.assemble(plan.tile_outputs(a, b))


def _systolic_cycles(cfg: ArrayConfig, m: int, k: int, n: int) -> int:
    return plan_gemm(cfg, m, k, n).cycles()


def _bitslice_golden(cfg: BitSliceConfig, a, b, a_bits: int = 8, w_bits: int = 8) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    plan = plan_fusion_gemm(cfg, a.shape[0], a.shape[1], b.shape[1], a_bits, w_bits)
    return assemble_tiles(plan.tile_outputs(a, b), plan.tiles, (plan.m, plan.n))


def _bitslice_cycles(cfg: BitSliceConfig, m: int, k: int, n: int, a_bits: int = 8, w_bits: int = 8) -> int:
    return plan_fusion_gemm(cfg, m, k, n, a_bits, w_bits).cycles


def _addertree_golden(cfg: AdderTreeConfig, a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    plan = plan_tree_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    outputs = [np.asarray(out).reshape(1, -1) for out in plan.tile_outputs(a, b)]
    return assemble_tiles(outputs, plan.tiles, (plan.m, plan.n))


def _addertree_cycles(cfg: AdderTreeConfig, m: int, k: int, n: int) -> int:
    return plan_tree_gemm(cfg, m, k, n).cycles


#: Largest number of products the floating-point PE golden model holds at once (rows of ``a`` are batched to fit).
_FP_PE_BATCH = 1 << 22


def fp_pe_multiplier(cfg: FpPEConfig):
    """The floating-point PE's multiplier: ``"exact"`` (``fp_mac``) or the L-Mul with the config's policies."""
    from hwgen.emulation import LMul, get_format

    return LMul(get_format(cfg.in_fmt), **cfg.policies) if cfg.kind == "lmul" else "exact"


def _fp_pe_golden(cfg: FpPEConfig, a, b) -> np.ndarray:
    """``a @ b`` as the PE streams it: one ``fp_dot`` over K per output, in the accumulator format.

    ``a`` and ``b`` hold values of ``cfg.in_fmt`` (float64, NaN, Inf and -0 included); the
    result holds values of ``cfg.acc_fmt`` (float64, NaN the PE's canonical positive NaN),
    which ``acc_fmt.encode`` turns back into the PE's output codes.
    """
    from hwgen.emulation import get_format
    from hwgen.emulation.fp_mac_model import fp_dot

    in_fmt, acc_fmt = get_format(cfg.in_fmt), get_format(cfg.acc_fmt)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    (m, k), n = a.shape, b.shape[1]
    a_codes = in_fmt.encode(a.reshape(-1)).reshape(m, k)
    b_codes = in_fmt.encode(b.T.reshape(-1)).reshape(n, k)
    mul, rows = fp_pe_multiplier(cfg), max(1, _FP_PE_BATCH // max(1, n * k))
    codes = np.empty((m, n), np.int64)
    for i in range(0, m, rows):
        block = a_codes[i : i + rows]
        pairs = np.broadcast_to(block[:, None, :], (block.shape[0], n, k))
        codes[i : i + rows] = fp_dot(pairs, np.broadcast_to(b_codes, pairs.shape), in_fmt, acc_fmt, mul)
    return acc_fmt.decode(codes.reshape(-1), np.float64).reshape(m, n)


def _fp_pe_cycles(cfg: FpPEConfig, m: int, k: int, n: int) -> int:
    """The ``m * n`` dot products of length ``k`` streamed back to back: one beat per cycle, then the latency."""
    return m * n * k + FP_PE_LATENCY


def _nm_column(w: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Compressed form of one output's weights ``w`` over K (zero-padded to whole blocks) for ``nm_dot``.

    Each block keeps its non-zeros, then its lowest zero positions, ``n`` in all, ascending.
    """
    blocks = np.zeros(-(-w.size // m) * m, np.int64)
    blocks[: w.size] = w
    blocks = blocks.reshape(-1, m)
    counts = (blocks != 0).sum(axis=1)
    if counts.max(initial=0) > n:
        block = int(np.argmax(counts > n))
        raise ValueError(f"K block {block} holds {counts[block]} non-zero weights; allowed: at most n={n} of m={m}")
    pos = np.sort(np.argsort(blocks == 0, axis=1, kind="stable")[:, :n], axis=1)
    return np.take_along_axis(blocks, pos, axis=1).reshape(-1), pos.reshape(-1)


def _sparse_golden(cfg: SparseChainConfig, a, b, mode: int = 0) -> np.ndarray:
    """``a @ b`` on the chain in mode ``mode`` (code): each row of ``a`` is one GEMV ``y = b.T x``.

    Every result the chain emits is its int32-wrapped dot product (the packed split is
    exact within the guard band the config enforces), so each output is the mode's
    reference dot product: ``dense_dot``, or ``nm_dot`` on the compressed N:M weights.
    ValueError if an operand is out of its format or ``b`` is not N:M along K.
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    n, m = cfg.nm(mode)  # ConfigError for a mode the chain lacks
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"operands {a.shape} @ {b.shape} are not allowed; allowed: (m, k) @ (k, n)")
    for name, x, fmt in (("activations", a, cfg.act_format), ("weights", b, cfg.weight_format)):
        if x.size and (x.min() < fmt.min_value or x.max() > fmt.max_value):
            raise ValueError(f"{name} out of range for {fmt.name}; allowed: {fmt.min_value}..{fmt.max_value}")
    out = np.zeros((a.shape[0], b.shape[1]), np.int64)
    for j in range(b.shape[1]):
        if (n, m) == (1, 1):
            out[:, j] = [dense_dot(b[:, j], row, cfg.acc_format) for row in a]
            continue
        values, indices = _nm_column(b[:, j], n, m)
        acts = np.zeros((a.shape[0], values.size // n * m), np.int64)
        acts[:, : a.shape[1]] = a
        out[:, j] = [nm_dot(values, indices, row, n, m, cfg.acc_format) for row in acts]
    return out


def _sparse_cycles(cfg: SparseChainConfig, m: int, k: int, n: int, mode: int = 0) -> int:
    """``m`` GEMVs ``y = b.T x`` (``n`` outputs over ``k``) in mode ``mode``, streamed back to back.

    ``stream_cycles(cfg, ceil(m / tokens) * gemv_beats(cfg, n, k, mode))``: the GEMV's
    beats once per activation row (per pair of rows when packed), then the pipeline depth once.
    """
    return stream_cycles(cfg, -(-m // cfg.tokens) * gemv_beats(cfg, n, k, mode))


register_unit(
    Unit(
        "systolic",
        "systolic array: INT8, or FP8/bf16 with exact or L-Mul products; ws, is or os",
        ArrayConfig,
        golden=_systolic_golden,
        cycles=_systolic_cycles,
    )
)
register_unit(
    Unit(
        "bitslice",
        "bit-slice PE or Bit Fusion-like array, run-time precision",
        BitSliceConfig,
        golden=_bitslice_golden,
        cycles=_bitslice_cycles,
    )
)
register_unit(
    Unit(
        "addertree",
        "multiplier + adder-tree dot-product array",
        AdderTreeConfig,
        golden=_addertree_golden,
        cycles=_addertree_cycles,
    )
)
register_unit(
    Unit(
        "lmul",
        "L-Mul (integer-add) floating-point dot-product PE",
        FpPEConfig,
        fixed={"kind": "lmul"},
        defaults={"in_fmt": "float8_e4m3fn"},
        golden=_fp_pe_golden,
        cycles=_fp_pe_cycles,
    )
)
register_unit(
    Unit(
        "fp-mac",
        "exact floating-point MAC dot-product PE",
        FpPEConfig,
        fixed={"kind": "fp_mac"},
        defaults={"in_fmt": "float8_e4m3fn"},
        golden=_fp_pe_golden,
        cycles=_fp_pe_cycles,
    )
)
register_unit(
    Unit(
        "sparse-dsp",
        "FlightLLM-style sparse DSP chain (dense and N:M modes)",
        SparseChainConfig,
        golden=_sparse_golden,
        cycles=_sparse_cycles,
    )
)
register_unit(
    Unit(
        "pim",
        "GDDR6-AiM-style processing-in-memory channel",
        PimConfig,
        golden=gemm_golden,  # m GEMVs y = W x, W = b.T, over `channels` channels, from the channel model
        cycles=gemm_cycles,
    )
)
register_unit(
    Unit(
        "top",
        "accelerator top: UART or stream host link, command processor, scratchpads, systolic array (ws/is)",
        TopConfig,
    )
)
