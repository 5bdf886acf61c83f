"""Compute targets the mapper tiles GEMMs onto, parsed from short text, with their exact cycle formulas."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from hwgen.emulation.bitslice import SliceCoding, fused_lanes
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import MAX_DIM
from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import MAX_WINDOW, SparseChainConfig

__all__ = [
    "BITSLICE_LATENCY",
    "DATAFLOWS",
    "TARGET_FORMS",
    "BitSliceTarget",
    "MixedTarget",
    "PimTarget",
    "SparseTarget",
    "SystolicTarget",
    "os_cycles",
    "parse_target",
    "stationary_cycles",
    "systolic_latency",
]

#: Dataflows of the systolic array; ``auto`` picks the fastest per layer.
DATAFLOWS = ("ws", "is", "os", "auto")
#: Pipeline depth of the Bit Fusion-like array (``hwgen.emulation.units.bitslice_plan.ARRAY_LATENCY``).
BITSLICE_LATENCY = 2
#: The target texts :func:`parse_target` accepts.
TARGET_FORMS = (
    "systolic:RxC[:ws|is|os|auto] (e.g. systolic:16x16:ws)",
    "bitslice:RxC[:radix4|unsigned] (e.g. bitslice:4x4)",
    "sparse:L[:N:M[:S]] (sparse DSP chain of L slices, N:M mode, S results per beat; e.g. sparse:16:2:4)",
    "pim:Cch[:Bb] (C PIM channels of B banks; e.g. pim:16ch)",
    "prefill=TARGET,decode=TARGET (e.g. prefill=systolic:16x16:ws,decode=pim:16ch)",
)
_MAX_DIM = MAX_DIM  # the top's and every systolic array's bound
# Longest run of digits a number in a target text may have (int() refuses more than 4300).
_MAX_DIGITS = 9


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def systolic_latency(rows: int, cols: int, dataflow: str) -> int:
    """Pipeline depth D of the systolic array (``hwgen.emulation.units.systolic_plan.latency``)."""
    return rows + cols + (0 if dataflow == "os" else 1)


def stationary_cycles(rows: int, cols: int, m: int, k: int, n: int, dataflow: str) -> int:
    """Full-rate cycles of one ``m x k x n`` GEMM in the ws/is dataflow (double-buffered stationary tiles).

    The recurrence of ``hwgen.emulation.units.systolic_plan.StationaryPlan.cycles``: with R rows,
    S streamed rows per tile (``m`` for ws, ``n`` for is) and depth D, tile t loads from
    ``W_t = max(W_{t-1} + R, E_{t-2} + D)``, streams from ``A_t = max(E_{t-1} + 1, W_t + R)``
    to ``E_t = A_t + S - 1``; the count is ``E_last + D + 1``.

    Raises
    ------
    ConfigError
        If a dimension is not a positive integer or the dataflow is not ``ws`` or ``is``.
    """
    _check_shape(rows=rows, cols=cols, m=m, k=k, n=n)
    if dataflow not in ("ws", "is"):
        raise ConfigError("dataflow", dataflow, "ws, is")
    streamed, width = (n, m) if dataflow == "is" else (m, n)
    tiles = _cdiv(k, rows) * _cdiv(width, cols)
    depth = systolic_latency(rows, cols, dataflow)
    load, end, prev_end = 0, streamed - 1 + rows, None  # tile 0
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    t = 1
    while t < tiles:
        if t >= 2:
            # From tile 2 on the recurrence is shift-invariant: once its state relative to the last load
            # recurs, the tiles repeat with a fixed period and step, so jump over whole periods.
            state = (end - load, prev_end - load)
            if state in seen:
                t0, load0 = seen.pop(state)
                periods = (tiles - t) // (t - t0)
                shift = periods * (load - load0)
                t, load, end, prev_end = t + periods * (t - t0), load + shift, end + shift, prev_end + shift
                seen.clear()
                if t >= tiles:
                    break
            seen[state] = (t, load)
        load = t * rows if t < 2 else max(load + rows, prev_end + depth)
        start = max(end + 1, load + rows)
        prev_end, end = end, start + streamed - 1
        t += 1
    return end + depth + 1


def os_cycles(rows: int, cols: int, m: int, k: int, n: int) -> int:
    """Full-rate cycles of one GEMM in the output-stationary dataflow (``os_model.OutputStationaryPlan.cycles``).

    Raises
    ------
    ConfigError
        If a dimension is not a positive integer.
    """
    _check_shape(rows=rows, cols=cols, m=m, k=k, n=n)
    tiles = _cdiv(m, rows) * _cdiv(n, cols)
    depth = systolic_latency(rows, cols, "os")
    last = k - 1 + (tiles - 1) * max(k, depth + rows + 1)
    return last + depth + rows + 1


@dataclass(frozen=True)
class SystolicTarget:
    """A ``rows x cols`` systolic array in one dataflow (or ``auto``: the fastest per layer).

    Raises
    ------
    ConfigError
        If rows/cols are outside 1..64 or the dataflow is unknown.
    """

    rows: int = 16
    cols: int = 16
    dataflow: str = "ws"
    kind: str = field(default="systolic", init=False)

    def __post_init__(self):
        _check_dim("rows", self.rows, _MAX_DIM)
        _check_dim("cols", self.cols, _MAX_DIM)
        if self.dataflow not in DATAFLOWS:
            raise ConfigError("dataflow", self.dataflow, ", ".join(DATAFLOWS))

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        """Multipliers (PEs) of the array."""
        return self.rows * self.cols

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Multiply-accumulates per cycle at full rate (operand widths matter for bit-slice only)."""
        return self.pes

    def cycles(self, m: int, k: int, n: int, dataflow: str | None = None) -> int:
        """Cycles of one ``m x k x n`` product in ``dataflow`` (default: the target's; not ``auto``)."""
        flow = self.dataflow if dataflow is None else dataflow
        if flow == "auto":
            raise ValueError("cycles of dataflow 'auto' are not defined; allowed: ws, is, os (pick one first)")
        if flow not in ("ws", "is", "os"):
            raise ConfigError("dataflow", flow, "ws, is, os")
        if flow == "os":
            return os_cycles(self.rows, self.cols, m, k, n)
        return stationary_cycles(self.rows, self.cols, m, k, n, flow)

    def pick_dataflow(self, m: int, k: int, n: int, candidates: tuple[str, ...] = ("ws", "is", "os")) -> str:
        """The target's dataflow, or for ``auto`` the candidate with the fewest cycles (ties: the first).

        Parameters
        ----------
        m, k, n : int
            The product's shape.
        candidates : tuple of str
            Dataflows ``auto`` may choose from (the accelerator top runs ``ws`` and ``is``).
        """
        if self.dataflow != "auto":
            return self.dataflow
        if not isinstance(candidates, tuple | list) or not candidates or not set(candidates) <= {"ws", "is", "os"}:
            raise ConfigError("candidates", candidates, "a non-empty tuple of ws, is, os")
        return min(candidates, key=lambda f: self.cycles(m, k, n, f))

    def __str__(self) -> str:
        return f"systolic:{self.rows}x{self.cols}:{self.dataflow}"


@dataclass(frozen=True)
class BitSliceTarget:
    """A ``rows x cols`` Bit Fusion-like array: each unit does ``fused_lanes(a_bits, w_bits)`` MACs per beat."""

    rows: int = 4
    cols: int = 4
    encoding: str = "radix4"
    kind: str = field(default="bitslice", init=False)

    def __post_init__(self):
        _check_dim("rows", self.rows, 16)
        _check_dim("cols", self.cols, 16)
        self.coding  # noqa: B018  (validates the encoding)

    @property
    def coding(self) -> SliceCoding:
        """The digit coding of the serial operand (radix-4 or unsigned 2-bit slices, 8-bit ports)."""
        return SliceCoding(self.encoding, 2, 8)

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        return self.rows * self.cols

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Multiply-accumulates per cycle at full rate (operand widths matter for bit-slice only)."""
        self._check_bits(w_bits, a_bits)
        return self.pes * fused_lanes(a_bits, w_bits, self.coding)

    def cycles(self, m: int, k: int, n: int, w_bits: int = 8, a_bits: int = 8) -> int:
        """``tiles * ceil(k / lanes) + 2`` (``hwgen.emulation.units.bitslice_plan.FusionPlan.cycles``)."""
        _check_shape(m=m, k=k, n=n)
        self._check_bits(w_bits, a_bits)
        lanes = fused_lanes(a_bits, w_bits, self.coding)
        return _cdiv(m, self.rows) * _cdiv(n, self.cols) * _cdiv(k, lanes) + BITSLICE_LATENCY

    def _check_bits(self, w_bits, a_bits) -> None:
        for name, bits in (("w_bits", w_bits), ("a_bits", a_bits)):
            _check_dim(name, bits, self.coding.max_bits)

    def __str__(self) -> str:
        return f"bitslice:{self.rows}x{self.cols}:{self.encoding}"


@dataclass(frozen=True)
class SparseTarget:
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
        _check_dim("length", self.length, 64)
        for name in ("n_keep", "m_block"):
            _check_dim(name, getattr(self, name), 64)
        if isinstance(self.results, bool):
            raise ConfigError("results", self.results, "an integer (0: the mode's default)")
        if self.dense and self.results not in (0, 1):
            raise ConfigError("results", self.results, "0 or 1 for the dense mode (one result per beat)")
        self.config_for()  # SparseChainConfig validates the N:M mode against the length

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
        """``m`` GEMVs of ``n`` outputs over ``k`` back to back: ``m * ceil(n / s) * ceil(k / span) + D``.

        ``s`` results per beat (``M/N`` by default), ``span = (L / s) * M / N`` columns per
        beat (``L`` by default), ``D = length / group_size + 3``
        (``hwgen.emulation.units.sparse_dsp_plan``).
        """
        _check_shape(m=m, k=k, n=n)
        cfg = self.config_for()
        code = len(cfg.modes) - 1
        beats = _cdiv(n, cfg.segments(code)) * _cdiv(k, cfg.span(code))
        return m * beats + cfg.n_groups + 3

    def __str__(self) -> str:
        results = f":{self.results}" if self.results else ""
        return f"sparse:{self.length}:{self.n_keep}:{self.m_block}{results}"


@dataclass(frozen=True)
class PimTarget:
    """``channels`` PIM channels (AiM-style GEMV in DRAM), each a :class:`PimConfig` of ``banks`` banks."""

    channels: int = 16
    banks: int = 16
    kind: str = field(default="pim", init=False)

    def __post_init__(self):
        _check_dim("channels", self.channels, 256)
        _check_dim("banks", self.banks, 64)

    @property
    def config(self) -> PimConfig:
        """One channel's :class:`PimConfig` (default geometry and timing, ``banks`` banks)."""
        return PimConfig(banks=self.banks)

    @property
    def pes(self) -> int:
        """Multipliers (processing elements) of the target."""
        return self.channels * self.banks * self.config.lanes

    def peak_macs_per_cycle(self, w_bits: int = 8, a_bits: int = 8) -> int:
        """Multiply-accumulates per cycle at full rate (operand widths matter for bit-slice only)."""
        return self.pes

    def cycles(self, m: int, k: int, n: int) -> int:
        """``m`` GEMVs ``y = W x`` (``W`` is ``n x k``), each timed by the channel's event model.

        Raises
        ------
        ConfigError
            If ``W`` does not fit the banks' rows (``hwgen.host.pim_mapping.plan_gemv``).
        """
        from hwgen.host.pim_mapping import gemv_cycles, plan_gemv

        _check_shape(m=m, k=k, n=n)
        return m * gemv_cycles(plan_gemv(self.config, n, k, self.channels))

    def __str__(self) -> str:
        return f"pim:{self.channels}ch:{self.banks}b"


@dataclass(frozen=True)
class MixedTarget:
    """Prefill on one target, token-by-token decode on another."""

    prefill: SystolicTarget | BitSliceTarget | SparseTarget | PimTarget
    decode: SystolicTarget | BitSliceTarget | SparseTarget | PimTarget
    kind: str = field(default="mixed", init=False)

    def __post_init__(self):
        single = (SystolicTarget, BitSliceTarget, SparseTarget, PimTarget)
        for phase in ("prefill", "decode"):
            if not isinstance(getattr(self, phase), single):
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


def _check_shape(**dims) -> None:
    """Each dimension a positive integer (a bool, float or string is no size)."""
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(name, value, "an integer >= 1")


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
