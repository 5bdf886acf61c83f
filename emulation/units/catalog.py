"""The registry entries of hwgen's architectures: one :class:`Unit` each, with its config and pure models.

Adding a unit is one entry here (plus one module per layer: its pure config and plan
in this package, its hardware in ``hwgen.dataflow``, its bench in ``hwgen.sim``); see
``docs/adding-a-unit.md``.
"""

from __future__ import annotations

import numpy as np

from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.emulation.units.addertree_plan import AdderTreeConfig, plan_tree_gemm
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.emulation.units.contract import Unit, register_unit
from hwgen.emulation.units.fp_pe_config import FpPEConfig
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.emulation.units.top_config import TopConfig

__all__ = ["assemble_tiles"]


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
    )
)
register_unit(
    Unit(
        "fp-mac",
        "exact floating-point MAC dot-product PE",
        FpPEConfig,
        fixed={"kind": "fp_mac"},
        defaults={"in_fmt": "float8_e4m3fn"},
    )
)
register_unit(Unit("sparse-dsp", "FlightLLM-style sparse DSP chain (dense and N:M modes)", SparseChainConfig))
register_unit(Unit("pim", "GDDR6-AiM-style processing-in-memory channel", PimConfig))
register_unit(
    Unit(
        "top",
        "accelerator top: UART or stream host link, command processor, scratchpads, systolic array (ws/is)",
        TopConfig,
    )
)
