"""Per-layer performance model: cycles, utilisation, memory traffic, energy and roofline position."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import int8, int32
from hwgen.host.energy import HOROWITZ_45NM_PJ, SRAM_PJ_PER_BYTE, EnergyBreakdown, mac_energy
from hwgen.host.mapper import LINK_BYTES_PER_CYCLE, LayerMap
from hwgen.host.workload import Elementwise, checked_sequence

__all__ = ["DEFAULT_BANDWIDTH", "LayerPerf", "Quant", "elementwise_perf", "gemm_perf", "model_perf", "totals"]

#: Host↔device bytes per cycle assumed for the roofline (a 64-bit bus at the array's clock).
DEFAULT_BANDWIDTH = LINK_BYTES_PER_CYCLE
_FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Quant:
    """Formats of one GEMM for pricing: anything with ``w``, ``a``, ``acc``, ``mul`` (e.g. a ``LayerQuant``)."""

    w: object = int8
    a: object = int8
    acc: object = int32
    mul: str = "exact"


@dataclass(frozen=True)
class LayerPerf:
    """Predicted cost of one layer.

    Attributes
    ----------
    name, kind : str
        Layer path and ``"gemm"`` or the elementwise kind.
    shape : str
        ``"BxMxKxN"`` for a GEMM, the element count otherwise.
    target, dataflow : str
    macs, cycles : int
        Useful MACs; cycles on the target (0 for host elementwise work).
    top_cycles : int or None
        Sum of the accelerator top's ``RUN`` cycles for the mapped program (the RTL's counter).
    utilisation : float
    host_bytes, array_bytes : int
        Host↔device bytes, and scratchpad↔array bytes.
    energy : EnergyBreakdown
    intensity : float
        Operations (2 per MAC) per host byte.
    peak, attainable : float
        Operations per cycle: the target's peak and the roofline's ``min(peak, intensity * bandwidth)``.
    bound : str
        ``"compute"`` or ``"memory"`` (which roof the layer sits under), ``"host"`` for host work.
    """

    name: str
    kind: str
    shape: str
    target: str
    dataflow: str
    macs: int
    cycles: int
    top_cycles: int | None
    utilisation: float
    host_bytes: int
    array_bytes: int
    energy: EnergyBreakdown
    intensity: float
    peak: float
    attainable: float
    bound: str


def _bytes(fmt) -> float:
    """Bytes per value, MX block scales (8 bits per block) included."""
    if fmt == "exact":
        return 8.0
    element = getattr(fmt, "element", None)
    if element is not None:
        return element.width / 8 + 1 / fmt.block_size
    return fmt.width / 8


def _bits(fmt) -> int:
    return getattr(fmt, "element", fmt).width


def _ideal_traffic(layer: LayerMap, q) -> tuple[int, int]:
    """(host bytes, array bytes) when no top program exists: every operand moved once."""
    g = layer.gemm
    acts, weights, outs = g.m * g.k * _bytes(q.a), g.k * g.n * _bytes(q.w), g.m * g.n * _bytes(q.acc)
    host, array = layer.target.ideal_traffic(acts, weights, outs)  # where the operands live is the target's
    return round(g.batch * host), round(g.batch * array)


def _check_bandwidth(bandwidth) -> None:
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float) or not 0 < bandwidth < math.inf:
        raise ConfigError("bandwidth", bandwidth, "a finite number of bytes per cycle > 0")


def gemm_perf(layer: LayerMap, quant=None, bandwidth: float = DEFAULT_BANDWIDTH) -> LayerPerf:
    """Cost of one mapped GEMM in formats ``quant`` (default int8 x int8 -> int32).

    Raises
    ------
    ConfigError
        If ``layer`` is not a LayerMap, ``quant`` has no ``w``, ``a``, ``acc``, ``mul``,
        or ``bandwidth`` is not a finite positive number.
    """
    if not isinstance(layer, LayerMap):
        raise ConfigError("layer", layer, "a LayerMap from hwgen.host.mapper.map_gemm")
    if quant is not None and not all(hasattr(quant, f) for f in ("w", "a", "acc", "mul")):
        raise ConfigError("quant", quant, "None, a Quant or a LayerQuant (with w, a, acc, mul)")
    _check_bandwidth(bandwidth)
    q, g = quant or Quant(), layer.gemm
    if layer.top is not None:
        t = layer.top.traffic()
        host, array = g.batch * (t["host_to_device"] + t["device_to_host"]), g.batch * t["array"]
        top_cycles = g.batch * layer.top.run_cycles()
    else:
        (host, array), top_cycles = _ideal_traffic(layer, q), None
    peak_macs = layer.target.peak_macs_per_cycle(_bits(q.w), _bits(q.a))
    energy = EnergyBreakdown.of(g.macs, mac_energy(q.w, q.a, q.acc, q.mul), array, host)
    intensity = 2 * g.macs / max(host, 1)
    peak = 2.0 * peak_macs
    attainable = min(peak, intensity * bandwidth)
    return LayerPerf(
        g.name, "gemm", f"{g.batch}x{g.m}x{g.k}x{g.n}", str(layer.target), layer.dataflow or "-",
        g.macs, layer.cycles, top_cycles, g.macs / (peak_macs * layer.cycles), host, array, energy,
        intensity, peak, attainable, "compute" if attainable >= peak else "memory",
    )  # fmt: skip


def elementwise_perf(work: Elementwise) -> LayerPerf:
    """Host work: each operation priced as a float32 add, each element read and written in SRAM as float32."""
    if not isinstance(work, Elementwise):
        raise ConfigError("work", work, "an Elementwise")
    ops = work.elements * work.ops_per_element
    sram = 2 * _FLOAT32_BYTES * work.elements
    energy = EnergyBreakdown(ops * HOROWITZ_45NM_PJ["fp32_add"], sram * SRAM_PJ_PER_BYTE, 0.0)
    return LayerPerf(
        work.name, work.kind, str(work.elements), "host", "-", 0, 0, None, 0.0, 0, sram, energy,
        0.0, 0.0, 0.0, "host",
    )  # fmt: skip


def model_perf(mapped, policy=None, bandwidth: float = DEFAULT_BANDWIDTH) -> list[LayerPerf]:
    """Cost of every mapped layer; ``policy`` (``for_layer(name)``) gives each GEMM's formats.

    Raises
    ------
    ConfigError
        If ``mapped`` is not a sequence of LayerMap and Elementwise, ``policy`` has no
        ``for_layer``, or as :func:`gemm_perf`.
    """
    allowed = "a sequence of LayerMap and Elementwise (from hwgen.host.mapper.map_workloads)"
    mapped = checked_sequence("mapped", mapped, (LayerMap, Elementwise), allowed)
    if policy is not None and not callable(getattr(policy, "for_layer", None)):
        raise ConfigError("policy", policy, "None or a Policy (with for_layer)")
    _check_bandwidth(bandwidth)
    out = []
    for item in mapped:
        if isinstance(item, Elementwise):
            out.append(elementwise_perf(item))
        else:
            quant = policy.for_layer(item.gemm.name) if policy is not None else None
            out.append(gemm_perf(item, quant, bandwidth))
    return out


def totals(perfs: list[LayerPerf]) -> dict:
    """Whole-model sums: MACs, cycles, top cycles, bytes, energy (pJ), MAC-weighted utilisation."""
    if isinstance(perfs, str | bytes) or not hasattr(perfs, "__iter__"):
        raise ConfigError("perfs", perfs, "a sequence of LayerPerf")
    perfs = list(perfs)
    for p in perfs:
        if not isinstance(p, LayerPerf):
            raise ConfigError("perfs", p, "a sequence of LayerPerf")
    gemms = [p for p in perfs if p.kind == "gemm"]
    cycles = sum(p.cycles for p in gemms)
    tops = [p.top_cycles for p in gemms if p.top_cycles is not None]
    pe_cycles = sum(p.macs / p.utilisation for p in gemms if p.utilisation)
    return {
        "macs": sum(p.macs for p in gemms),
        "cycles": cycles,
        "top_cycles": sum(tops) if len(tops) == len(gemms) and tops else None,
        "host_bytes": sum(p.host_bytes for p in perfs),
        "array_bytes": sum(p.array_bytes for p in perfs),
        "energy_pj": sum(p.energy.total for p in perfs),
        "utilisation": sum(p.macs for p in gemms) / pe_cycles if pe_cycles else 0.0,
    }
