"""Compute targets the mapper tiles GEMMs onto, parsed from short text; their cycles are their units' models."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from hwgen.emulation.bitslice import SliceCoding
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.lmul import LMul
from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import MAX_LENGTH, MAX_WINDOW, SparseChainConfig
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.addertree_plan import AdderTreeConfig
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.emulation.units.fp_pe_config import FpPEConfig
from hwgen.emulation.units.pim_plan import MAX_CHANNELS
from hwgen.emulation.units.systolic_config import DATAFLOWS as ARRAY_DATAFLOWS
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import TOP_DATAFLOWS

__all__ = [
    "DATAFLOWS",
    "TARGET_FORMS",
    "AdderTreeTarget",
    "BitSliceTarget",
    "FpPETarget",
    "MixedTarget",
    "PimTarget",
    "SparseTarget",
    "SystolicTarget",
    "Target",
    "parse_target",
]

#: Dataflows of the systolic array (the unit's) and ``auto``, which picks the fastest per layer.
DATAFLOWS = (*ARRAY_DATAFLOWS, "auto")
#: The target texts :func:`parse_target` accepts.
TARGET_FORMS = (
    "systolic:RxC[:ws|is|os|auto] (e.g. systolic:16x16:ws)",
    "bitslice:RxC[:radix4|unsigned] (e.g. bitslice:4x4)",
    "addertree:RxL (R dot units of L multipliers; e.g. addertree:8x16)",
    "fp-mac:FMT or lmul:FMT (one float dot-product PE, FMT e4m3, e5m2 or bf16, float32 sums; e.g. lmul:e4m3)",
    "sparse:L[:N:M[:S]] (sparse DSP chain of L slices, N:M mode, S results per beat; e.g. sparse:16:2:4)",
    "pim:Cch[:Bb] (C PIM channels of B banks; e.g. pim:16ch)",
    "prefill=TARGET,decode=TARGET (e.g. prefill=systolic:16x16:ws,decode=pim:16ch)",
)
# Longest run of digits a number in a target text may have (int() refuses more than 4300).
_MAX_DIGITS = 9


class Target:
    """What every single target offers the mapper and the performance model (no ``isinstance`` on kinds).

    Subclasses set ``pes`` and ``cycles(m, k, n)`` (their unit's cycle model) and may
    override the rest.
    """

    #: True for a target whose array the accelerator top hosts (it then answers ``top_dataflow``).
    hosts_on_top = False

    @property
    def top_dataflow(self) -> str | None:
        """The dataflow the accelerator top runs this target in, or None if the top cannot run it."""
        return None

    def for_phase(self, phase: str):
        """The target that runs ``phase`` (``"prefill"`` or ``"decode"``): a single target runs both."""
        if phase not in ("prefill", "decode"):
            raise ConfigError("phase", phase, "prefill, decode")
        return self

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Multiply-accumulates per cycle at full rate (operand widths matter for bit-slice only)."""
        return self.pes

    def schedule(self, m: int, k: int, n: int, on_top: bool = False) -> tuple[str | None, int]:
        """``(dataflow, cycles)`` of one ``m x k x n`` product (dataflow None where the target has none).

        ``on_top``: the product runs as a program on the accelerator top (systolic only).
        """
        return None, self.cycles(m, k, n)

    def ideal_traffic(self, acts: float, weights: float, outs: float) -> tuple[float, float]:
        """(host bytes, array bytes) of one product whose operands move once: all of them cross the link."""
        total = acts + weights + outs
        return total, total

    def layer_unit(self, call):
        """The unit, config and run options that compute the mapped GEMM ``call`` (a :class:`UnitLayer`).

        Raises
        ------
        ConfigError
            If the target's unit cannot run ``call``'s formats, or runs no mapped layers yet.
        """
        runs = "systolic, bitslice, addertree, lmul, fp-mac, sparse, pim"
        raise ConfigError("target", str(self), f"a target whose unit runs mapped layers: {runs}")


@dataclass(frozen=True)
class SystolicTarget(Target):
    """A ``rows x cols`` systolic array in one dataflow (or ``auto``: the fastest per layer).

    Cycles are the ``systolic`` unit's (``hwgen.emulation.units.systolic_plan``).

    Raises
    ------
    ConfigError
        If rows/cols are outside the array's bounds (``ArrayConfig``) or the dataflow is unknown.
    """

    rows: int = 16
    cols: int = 16
    dataflow: str = "ws"
    kind: str = field(default="systolic", init=False)

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise ConfigError("dataflow", self.dataflow, ", ".join(DATAFLOWS))
        self.array()  # ArrayConfig validates rows and cols

    hosts_on_top = True

    @property
    def top_dataflow(self) -> str | None:
        """The target's dataflow if the top runs it (``ws``, ``is`` or ``auto``); None for ``os``."""
        return self.dataflow if self.dataflow in (*TOP_DATAFLOWS, "auto") else None

    def array(self, dataflow: str | None = None) -> ArrayConfig:
        """The unit's config of this array in ``dataflow`` (default: the target's; ``auto`` stands as ``ws``)."""
        flow = self.dataflow if dataflow is None else dataflow
        return ArrayConfig(self.rows, self.cols, "ws" if flow == "auto" else flow)

    @property
    def pes(self) -> int:
        """Multipliers (PEs) of the array."""
        return self.rows * self.cols

    def cycles(self, m: int, k: int, n: int, dataflow: str | None = None) -> int:
        """Cycles of one ``m x k x n`` product in ``dataflow`` (default: the target's; not ``auto``)."""
        flow = self.dataflow if dataflow is None else dataflow
        if flow == "auto":
            raise ValueError("cycles of dataflow 'auto' are not defined; allowed: ws, is, os (pick one first)")
        if flow not in ARRAY_DATAFLOWS:
            raise ConfigError("dataflow", flow, ", ".join(ARRAY_DATAFLOWS))
        m, k, n = _check_shape(m=m, k=k, n=n)
        return get_unit("systolic").cycles(self.array(flow), m, k, n)

    def pick_dataflow(self, m: int, k: int, n: int, candidates: tuple[str, ...] = ARRAY_DATAFLOWS) -> str:
        """The target's dataflow, or for ``auto`` the candidate with the fewest cycles (ties: the first).

        Parameters
        ----------
        m, k, n : int
            The product's shape.
        candidates : tuple of str
            Dataflows ``auto`` may choose from (the accelerator top runs ``TOP_DATAFLOWS``).
        """
        if self.dataflow != "auto":
            return self.dataflow
        if not isinstance(candidates, tuple | list) or not candidates or not set(candidates) <= set(ARRAY_DATAFLOWS):
            raise ConfigError("candidates", candidates, f"a non-empty tuple of {', '.join(ARRAY_DATAFLOWS)}")
        return min(candidates, key=lambda f: self.cycles(m, k, n, f))

    def schedule(self, m: int, k: int, n: int, on_top: bool = False) -> tuple[str, int]:
        """``(dataflow, cycles)``: on the accelerator top ``auto`` chooses among the dataflows it runs."""
        flow = self.pick_dataflow(m, k, n, TOP_DATAFLOWS if on_top else ARRAY_DATAFLOWS)
        return flow, self.cycles(m, k, n, flow)

    def layer_unit(self, call):
        """The ``systolic`` unit in the target's dataflow (``auto``: the fastest) for an int8 GEMM, int32 sums."""
        from hwgen.host.unit_layers import UnitLayer, integer_operands

        integer_operands(call, widths=(8,))
        (m, k), n = np.shape(call.a_codes), np.shape(call.b_codes)[1]
        flow = self.pick_dataflow(m, k, n)
        return UnitLayer(get_unit("systolic"), ArrayConfig(self.rows, self.cols, flow, "int8", "int32"))

    def __str__(self) -> str:
        return f"systolic:{self.rows}x{self.cols}:{self.dataflow}"


@dataclass(frozen=True)
class BitSliceTarget(Target):
    """A ``rows x cols`` Bit Fusion-like array: each unit does ``fused_lanes(a_bits, w_bits)`` MACs per beat.

    Cycles are the ``bitslice`` unit's (``hwgen.emulation.units.bitslice_plan.FusionPlan``).
    """

    rows: int = 4
    cols: int = 4
    encoding: str = "radix4"
    kind: str = field(default="bitslice", init=False)

    def __post_init__(self):
        self.config  # noqa: B018  (BitSliceConfig validates rows, cols and the encoding)

    @property
    def config(self) -> BitSliceConfig:
        """The unit's config: 2-bit slices, 8-bit ports."""
        return BitSliceConfig(self.rows, self.cols, self.encoding)

    @property
    def coding(self) -> SliceCoding:
        """The digit coding of the serial operand (radix-4 or unsigned 2-bit slices, 8-bit ports)."""
        return self.config.coding

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        return self.rows * self.cols

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Multiply-accumulates per cycle at full rate: ``pes * fused_lanes(a_bits, w_bits)``."""
        return self.pes * plan_fusion_gemm(self.config, 1, 1, 1, a_bits, w_bits).lanes

    def cycles(self, m: int, k: int, n: int, w_bits: int = 8, a_bits: int = 8) -> int:
        """Cycles of one ``m x k x n`` product at these precisions (``FusionPlan.cycles``)."""
        m, k, n = _check_shape(m=m, k=k, n=n)
        return get_unit("bitslice").cycles(self.config, m, k, n, a_bits=a_bits, w_bits=w_bits)

    def layer_unit(self, call):
        """The ``bitslice`` array at the call's operand widths (2..8 bits, radix-4 coding), int32 sums."""
        from hwgen.host.unit_layers import UnitLayer, integer_operands

        if self.encoding != "radix4":
            raise ConfigError("target", str(self), "bitslice:RxC:radix4 for signed layer operands")
        a_bits, w_bits = integer_operands(call, widths=(8,))
        return UnitLayer(get_unit("bitslice"), self.config, {"a_bits": max(2, a_bits), "w_bits": max(2, w_bits)})

    def __str__(self) -> str:
        return f"bitslice:{self.rows}x{self.cols}:{self.encoding}"


@dataclass(frozen=True)
class AdderTreeTarget(Target):
    """``rows`` dot units of ``lanes`` multipliers and an adder tree each, sharing one activation vector.

    Cycles are the ``addertree`` unit's (``hwgen.emulation.units.addertree_plan.TreePlan``).
    """

    rows: int = 8
    lanes: int = 16
    kind: str = field(default="addertree", init=False)

    def __post_init__(self):
        self.config  # noqa: B018  (AdderTreeConfig validates rows and lanes)

    @property
    def config(self) -> AdderTreeConfig:
        """The unit's config: int8 operands, int32 sums."""
        return AdderTreeConfig(self.rows, self.lanes, "int8", "int32")

    @property
    def pes(self) -> int:
        """Multipliers of the target."""
        return self.rows * self.lanes

    def cycles(self, m: int, k: int, n: int) -> int:
        """Cycles of one ``m x k x n`` product (``TreePlan.cycles``)."""
        m, k, n = _check_shape(m=m, k=k, n=n)
        return get_unit("addertree").cycles(self.config, m, k, n)

    def layer_unit(self, call):
        """The ``addertree`` array for an int8 GEMM with int32 sums."""
        from hwgen.host.unit_layers import UnitLayer, integer_operands

        integer_operands(call, widths=(8,))
        return UnitLayer(get_unit("addertree"), self.config)

    def __str__(self) -> str:
        return f"addertree:{self.rows}x{self.lanes}"


def _mul_name(mul) -> str:
    """``'exact'``, or an LMul as its format and the policies that differ from the defaults."""
    if not isinstance(mul, LMul):
        return repr(mul)
    fields = [f.name for f in dataclasses.fields(LMul) if f.name != "fmt"]
    changed = [f"{k}={getattr(mul, k)!r}" for k in fields if getattr(mul, k) != getattr(LMul(mul.fmt), k)]
    return f"LMul({', '.join([mul.fmt.name, *changed])})"


#: Operand formats of the floating-point PE targets (``lmul:FMT``, ``fp-mac:FMT``) by their short names.
FP_PE_FORMATS = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "bf16": "bfloat16"}
#: Units of the floating-point PE targets, and the ``kind`` of their config.
FP_PE_UNITS = {"fp-mac": "fp_mac", "lmul": "lmul"}
#: Orders of a call's K-sum that equal the PE's (sequential from +0, one rounding per product).
FP_PE_ORDERS = ("sequential", "chunked with chunk 1")


@dataclass(frozen=True)
class FpPETarget(Target):
    """One floating-point dot-product PE (``fp-mac``: exact products; ``lmul``: L-Mul), float32 accumulator.

    The PE streams the ``m * n`` dot products of a GEMM back to back, one product per cycle;
    cycles are the unit's (``get_unit(unit).cycles``).

    Parameters
    ----------
    unit : {"fp-mac", "lmul"}
    fmt : {"e4m3", "e5m2", "bf16"}
        Operand format (``float8_e4m3fn``, ``float8_e5m2``, ``bfloat16``).
    """

    unit: str = "fp-mac"
    fmt: str = "e4m3"

    def __post_init__(self):
        if self.unit not in FP_PE_UNITS:
            raise ConfigError("unit", self.unit, ", ".join(FP_PE_UNITS))
        if self.fmt not in FP_PE_FORMATS:
            raise ConfigError("fmt", self.fmt, ", ".join(FP_PE_FORMATS))

    @property
    def kind(self) -> str:
        """The unit's name (``fp-mac`` or ``lmul``)."""
        return self.unit

    @property
    def config(self) -> FpPEConfig:
        """The unit's config: the target's operand format, float32 accumulator, the hardware's L-Mul policies."""
        return FpPEConfig(FP_PE_UNITS[self.unit], FP_PE_FORMATS[self.fmt], "float32")

    @property
    def pes(self) -> int:
        """Multipliers of the target (one PE)."""
        return 1

    def cycles(self, m: int, k: int, n: int) -> int:
        """Cycles of one ``m x k x n`` product: ``m * n`` dot products of length ``k`` back to back."""
        m, k, n = _check_shape(m=m, k=k, n=n)
        return get_unit(self.unit).cycles(self.config, m, k, n)

    def layer_unit(self, call):
        """The PE for a GEMM of the target's format, a float32 accumulator and the PE's products and K order.

        The PE's result then equals :func:`~hwgen.host.ir_exec.emulate_gemm` code for code,
        except that a NaN result is the PE's canonical NaN (``0x7fc00000``) where the
        emulator may give another NaN code (IEEE 754 leaves a NaN's sign open).

        Raises
        ------
        ConfigError
            Naming the call's formats, multiplier or order and what the PE computes.
        """
        from hwgen.emulation import get_format
        from hwgen.emulation.units.catalog import fp_pe_multiplier
        from hwgen.host.unit_layers import UnitLayer

        cfg = self.config
        fmt, mul = get_format(cfg.in_fmt), fp_pe_multiplier(cfg)
        names = ", ".join(f"{k}={getattr(v, 'name', v)}" for k, v in (("a", call.a_format), ("w", call.b_format)))
        names += f", acc={getattr(call.acc_format, 'name', call.acc_format)}, mul={_mul_name(call.mul)}"
        wanted = f"{fmt.name} operands, a float32 accumulator and mul={_mul_name(mul)} on {self} for layer {call.name}"
        ok = call.a_format == fmt and call.b_format == fmt and call.acc_format == get_format(cfg.acc_fmt)
        if not ok or type(call.mul) is not type(mul) or call.mul != mul:
            raise ConfigError("formats", names, wanted)
        if self.unit == "fp-mac" and fmt.name == "bfloat16":
            # emulate_gemm rounds bf16 products to float32 first where they may leave its range; the PE fuses them.
            raise ConfigError("target", str(self), f"fp-mac:e4m3 or fp-mac:e5m2 for layer {call.name} (exact products)")
        if not (call.order == "sequential" or (call.order == "chunked" and call.chunk == 1)):
            order = call.order if call.order != "chunked" else f"chunked with chunk {call.chunk}"
            raise ConfigError("order", order, f"{', '.join(FP_PE_ORDERS)} (the PE's K order) for layer {call.name}")
        return UnitLayer(get_unit(self.unit), cfg)

    def __str__(self) -> str:
        return f"{self.unit}:{self.fmt}"


@dataclass(frozen=True)
class SparseTarget(Target):
    """A sparse DSP chain of ``length`` slices running N:M-pruned GEMVs (``n_keep:m_block``; 1:1 is dense).

    ``results`` is the mode's results per beat ``s`` (0: the default ``m_block // n_keep``);
    ``results = n_keep`` is FlightLLM's N results per cycle, over an activation window of
    ``length * m_block // n_keep**2``.
    """

    length: int = 16
    n_keep: int = 1
    m_block: int = 1
    results: int = 0
    kind: str = field(default="sparse", init=False)

    def __post_init__(self):
        for name in ("n_keep", "m_block"):
            _check_dim(name, getattr(self, name), MAX_LENGTH)
        if isinstance(self.results, bool):
            raise ConfigError("results", self.results, "an integer (0: the mode's default)")
        if self.dense and self.results not in (0, 1):
            raise ConfigError("results", self.results, "0 or 1 for the dense mode (one result per beat)")
        self.config_for()  # SparseChainConfig validates the length and the N:M mode against it

    @property
    def mode(self) -> tuple[int, ...]:
        """The chain's mode: ``(n, m)`` or, with ``results``, ``(n, m, s)``."""
        nm = (self.n_keep, self.m_block)
        return (*nm, self.results) if self.results else nm

    def config_for(self, modes=None) -> SparseChainConfig:
        """The chain's emulation config: group size 2 (1 if a segment is odd), the window its modes need."""
        if modes is None:
            modes = () if self.dense else (self.mode,)
        # Validate the modes on the loosest chain first, then size the groups and window to them.
        loose = SparseChainConfig(length=self.length, group_size=1, sparse_modes=modes, window=MAX_WINDOW)
        codes = range(len(loose.modes))
        group = 2 if all(loose.segment(c) % 2 == 0 for c in codes) else 1
        window = max(loose.span(c) for c in codes)
        return SparseChainConfig(length=self.length, group_size=group, sparse_modes=modes, window=window)

    @property
    def dense(self) -> bool:
        """True for the dense mode (no N:M pruning)."""
        return (self.n_keep, self.m_block) == (1, 1)

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        return self.length

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Dense-equivalent MACs per cycle: N:M skips ``1 - N/M`` of the work (operand widths do not matter)."""
        return self.length * self.m_block // self.n_keep

    def cycles(self, m: int, k: int, n: int) -> int:
        """``m`` GEMVs of ``n`` outputs over ``k``, streamed back to back: the ``sparse-dsp`` unit's cycles.

        ``stream_cycles(cfg, m * gemv_beats(cfg, n, k, mode))`` in the target's mode
        (``hwgen.emulation.units.sparse_dsp_plan``): ``m`` times the GEMV's beats, then
        the chain's pipeline depth once.
        """
        m, k, n = _check_shape(m=m, k=k, n=n)
        cfg = self.config_for()
        return get_unit("sparse-dsp").cycles(cfg, m, k, n, mode=len(cfg.modes) - 1)

    def layer_unit(self, call):
        """The ``sparse-dsp`` chain in the target's mode for an int8 GEMM with int32 sums.

        Each row of ``a`` is one GEMV ``y = W x`` with ``W = b.T``. An N:M mode runs the
        call's weights N:M-pruned along K (``hwgen.host.nm_sparsity.prune_gemm_weights``,
        as the host builds the weight stream): the layer's ``call`` is then the pruned
        GEMM, the emulator's reference. The dense mode runs the call as is.

        Raises
        ------
        ConfigError
            Naming the call's formats unless they are signed integers of at most 8 bits,
            exact products and an int32 accumulator.
        """
        import dataclasses

        from hwgen.host.nm_sparsity import prune_gemm_weights
        from hwgen.host.unit_layers import UnitLayer, integer_operands

        integer_operands(call, widths=(8,))
        cfg = self.config_for()
        run = {"mode": len(cfg.modes) - 1}
        if self.dense:
            return UnitLayer(get_unit("sparse-dsp"), cfg, run)
        pruned = prune_gemm_weights(call.b_format.decode(np.asarray(call.b_codes)), self.n_keep, self.m_block)
        codes = np.asarray(call.b_format.encode(pruned)).astype(np.asarray(call.b_codes).dtype)
        return UnitLayer(get_unit("sparse-dsp"), cfg, run, dataclasses.replace(call, b_codes=codes))

    def __str__(self) -> str:
        results = f":{self.results}" if self.results else ""
        return f"sparse:{self.length}:{self.n_keep}:{self.m_block}{results}"


@dataclass(frozen=True)
class PimTarget(Target):
    """``channels`` PIM channels (AiM-style GEMV in DRAM), each a :class:`PimConfig` of ``banks`` banks."""

    channels: int = 16
    banks: int = 16
    kind: str = field(default="pim", init=False)

    def __post_init__(self):
        _check_dim("channels", self.channels, MAX_CHANNELS)
        self.config  # noqa: B018  (PimConfig validates the banks)

    @property
    def config(self) -> PimConfig:
        """One channel's :class:`PimConfig` (default geometry and timing, ``banks`` banks)."""
        return PimConfig(banks=self.banks)

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        return self.channels * self.banks * self.config.lanes

    def cycles(self, m: int, k: int, n: int) -> int:
        """``m`` GEMVs ``y = W x`` (``W`` is ``n x k``): the ``pim`` unit's cycles on ``channels`` channels.

        Each GEMV is timed by the channel's event model from an idle channel
        (``hwgen.emulation.units.pim_plan.gemm_cycles``).

        Raises
        ------
        ConfigError
            If ``W`` does not fit the banks' rows (``hwgen.emulation.units.pim_plan.plan_gemv``).
        """
        m, k, n = _check_shape(m=m, k=k, n=n)
        return get_unit("pim").cycles(self.config, m, k, n, channels=self.channels)

    def layer_unit(self, call):
        """The ``pim`` unit on ``channels`` channels for a GEMM of signed integers of at most 8 bits, int32 sums.

        The channel computes in int8 lanes with a wrapping int32 MAC register, so such a
        call's result is bit-exact (:func:`hwgen.host.unit_layers.integer_operands`).

        Raises
        ------
        ConfigError
            Naming the call's formats if they are not those, or if ``W`` does not fit the banks.
        """
        from hwgen.host.unit_layers import UnitLayer, integer_operands

        cfg = self.config
        integer_operands(call, widths=(cfg.dtype_format.width,), acc=cfg.acc)
        k, n = np.shape(call.b_codes)
        self.cycles(1, int(k), int(n))  # W must fit the banks
        return UnitLayer(get_unit("pim"), cfg, {"channels": self.channels})

    def ideal_traffic(self, acts: float, weights: float, outs: float) -> tuple[float, float]:
        """Weights live in the DRAM banks: only ``x`` and ``y`` cross the link; the array reads all three."""
        return acts + outs, acts + weights + outs

    def __str__(self) -> str:
        return f"pim:{self.channels}ch:{self.banks}b"


@dataclass(frozen=True)
class MixedTarget:
    """Prefill on one target, token-by-token decode on another."""

    prefill: Target
    decode: Target
    kind: str = field(default="mixed", init=False)

    def __post_init__(self):
        for phase in ("prefill", "decode"):
            if not isinstance(getattr(self, phase), Target):
                raise ConfigError(
                    phase, getattr(self, phase), "a SystolicTarget, BitSliceTarget, SparseTarget or PimTarget"
                )

    def for_phase(self, phase: str):
        """The target of ``phase`` (``"prefill"`` or ``"decode"``)."""
        if phase not in ("prefill", "decode"):
            raise ConfigError("phase", phase, "prefill, decode")
        return self.prefill if phase == "prefill" else self.decode

    def __str__(self) -> str:
        return f"prefill={self.prefill},decode={self.decode}"


def _check_dim(name: str, value, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
        raise ConfigError(name, value, f"an integer from 1 to {hi}")


def _check_shape(**dims) -> tuple[int, ...]:
    """Each dimension a positive integer (a bool, float or string is no size), as Python ints."""
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(name, value, "an integer >= 1")
    return tuple(int(v) for v in dims.values())


def _bad(text: str):
    return ConfigError("target", text, "; ".join(TARGET_FORMS))


def _parse_single(text: str):
    # Only short runs of ASCII digits are numbers here: int() also takes other scripts' digits, "_" and
    # whitespace, and str.isdigit() takes superscripts int() refuses.
    if not text.isascii() or re.search(rf"\d{{{_MAX_DIGITS + 1}}}", text):
        raise _bad(text)
    kind, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "systolic" and len(parts) in (1, 2) and (m := re.fullmatch(r"(\d+)x(\d+)", parts[0])):
        return SystolicTarget(int(m[1]), int(m[2]), parts[1] if len(parts) == 2 else "ws")
    if kind == "bitslice" and len(parts) in (1, 2) and (m := re.fullmatch(r"(\d+)x(\d+)", parts[0])):
        return BitSliceTarget(int(m[1]), int(m[2]), parts[1] if len(parts) == 2 else "radix4")
    if kind == "addertree" and len(parts) == 1 and (m := re.fullmatch(r"(\d+)x(\d+)", parts[0])):
        return AdderTreeTarget(int(m[1]), int(m[2]))
    if kind in FP_PE_UNITS and len(parts) == 1 and parts[0] in FP_PE_FORMATS:
        return FpPETarget(kind, parts[0])
    if kind == "sparse" and len(parts) in (1, 3, 4) and all(p.isdigit() for p in parts):
        nm = tuple(int(p) for p in parts[1:]) if len(parts) > 1 else (1, 1)
        return SparseTarget(int(parts[0]), *nm)
    if kind == "pim" and len(parts) in (1, 2) and (m := re.fullmatch(r"(\d+)ch", parts[0])):
        banks = re.fullmatch(r"(\d+)b", parts[1]) if len(parts) == 2 else None
        if len(parts) == 2 and banks is None:
            raise _bad(text)
        return PimTarget(int(m[1]), int(banks[1]) if banks else 16)
    raise _bad(text)


def parse_target(text: str):
    """Parse a target description (see :data:`TARGET_FORMS`).

    Parameters
    ----------
    text : str
        E.g. ``"systolic:16x16:ws"``, ``"sparse:16:2:4"``, ``"pim:16ch"`` or
        ``"prefill=systolic:16x16:ws,decode=pim:16ch"``.

    Returns
    -------
    SystolicTarget, BitSliceTarget, SparseTarget, PimTarget or MixedTarget

    Raises
    ------
    ConfigError
        If the text is none of the allowed forms, or a field is out of range; the
        message lists the allowed forms or the field's range.
    """
    text = str(text).strip().lower()
    if "=" not in text:
        return _parse_single(text)
    phases = {}
    for part in text.split(","):
        phase, eq, sub = part.partition("=")
        if not eq or phase not in ("prefill", "decode") or phase in phases:
            raise _bad(text)
        phases[phase] = _parse_single(sub)
    if set(phases) != {"prefill", "decode"}:
        raise _bad(text)
    return MixedTarget(phases["prefill"], phases["decode"])
