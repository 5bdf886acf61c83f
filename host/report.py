"""Model analysis (map every layer, price it) and the report's plots: roofline, utilisation, accuracy vs energy."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.host.mapper import device_info, map_workloads
from hwgen.host.perf_model import DEFAULT_BANDWIDTH, LayerPerf, Quant, model_perf
from hwgen.host.targets import MixedTarget, Target

__all__ = [
    "analyse",
    "perf_records",
    "plot_accuracy_energy",
    "plot_roofline",
    "plot_utilisation",
    "top_info",
    "write_json",
]


def top_info(target, quant=None, depths=None, max_payload=None):
    """The accelerator top's :class:`~hwgen.emulation.isa.DeviceInfo` for a systolic target (None otherwise).

    A mixed target uses its prefill part. The top holds operands of one integer or float
    dtype: ``quant.w`` (an MX format prices as its element).
    """
    from hwgen.emulation.formats import float32, int32
    from hwgen.emulation.int_format import IntFormat
    from hwgen.host.mapper import DEFAULT_DEPTHS

    if not isinstance(target, Target | MixedTarget):
        raise ConfigError("target", target, "a parsed target (hwgen.host.targets.parse_target)")
    single = target.for_phase("prefill")
    if not single.hosts_on_top:
        return None
    q = quant or Quant()
    value = getattr(q.w, "element", q.w)
    acc = int32 if isinstance(value, IntFormat) else float32
    if depths is None:
        # The top answers a whole scratchpad in one response (at most 65535 bytes): a wide array's
        # default O scratchpad shrinks to fit, as one would build it.
        w_depth, a_depth, o_depth = DEFAULT_DEPTHS
        o_bytes = single.cols * -(-acc.width // 8)
        depths = (w_depth, a_depth, min(o_depth, 0xFFFF // o_bytes))
    return device_info(single, value, acc, depths, max_payload)


def analyse(workloads, target, policy=None, info=None, phase=None, bandwidth=DEFAULT_BANDWIDTH, progress=None):
    """Map ``workloads`` onto ``target`` and price every layer.

    Parameters
    ----------
    workloads : list of Gemm or Elementwise
    target : a target from :func:`hwgen.host.targets.parse_target`
    policy : Policy, optional
        Formats of each GEMM (``for_layer``); int8 x int8 -> int32 when None.
    info : DeviceInfo, optional
        The accelerator top the systolic layers' programs are planned for.
    phase : str, optional
        ``"prefill"`` or ``"decode"`` for a mixed target.
    progress : callable, optional
        ``progress(done, total)`` while mapping.

    Returns
    -------
    list of LayerPerf

    Raises
    ------
    ConfigError
        If a layer does not fit the target.
    """
    mapped = map_workloads(workloads, target, info, phase, progress)
    return model_perf(mapped, policy, bandwidth)


def perf_records(perfs: list[LayerPerf]) -> list[dict]:
    """JSON-serialisable rows of the per-layer table (energy in pJ by part and in total)."""
    rows = []
    for p in perfs:
        row = asdict(p)
        row["energy"] = {**asdict(p.energy), "total": p.energy.total}
        rows.append(row)
    return rows


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roofline(perfs: list[LayerPerf], path, bandwidth: float = DEFAULT_BANDWIDTH, title: str = "") -> Path:
    """Roofline (operations per cycle vs operations per host byte) with one point per GEMM layer."""
    plt = _pyplot()
    gemms = [p for p in perfs if p.kind == "gemm"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    peak = max(p.peak for p in gemms)
    lo = min(p.intensity for p in gemms) / 2
    hi = max(max(p.intensity for p in gemms), peak / bandwidth) * 2
    ax.plot([lo, peak / bandwidth, hi], [lo * bandwidth, peak, peak], "k-", label=f"roof: {bandwidth:g} B/cycle, peak")
    for p in gemms:  # predicted rate: compute and link overlap (double buffering), the slower one sets the time
        rate = 2 * p.macs / max(p.cycles, p.host_bytes / bandwidth)
        ax.scatter(p.intensity, rate, s=18, color="C1" if p.bound == "memory" else "C0")
    ax.scatter([], [], color="C0", label="compute-bound layer (predicted rate)")
    ax.scatter([], [], color="C1", label="memory-bound layer (predicted rate)")
    ax.set(xscale="log", yscale="log", xlabel="operations per host byte", ylabel="operations per cycle")
    ax.set_title(title or "Roofline per layer")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_utilisation(perfs: list[LayerPerf], path, title: str = "") -> Path:
    """Bar chart of each GEMM layer's utilisation of the target's multipliers.

    Two bars per layer when the layer has a top program: the array's full-rate schedule,
    and the accelerator top executing the program's ``RUN`` commands one after another.
    """
    plt = _pyplot()
    gemms = [p for p in perfs if p.kind == "gemm"]
    fig, ax = plt.subplots(figsize=(max(7, 0.18 * len(gemms)), 4))
    tops = [100 * p.utilisation * p.cycles / p.top_cycles if p.top_cycles else 0 for p in gemms]
    width = 0.4 if any(tops) else 0.8
    xs = [i - width / 2 if any(tops) else i for i in range(len(gemms))]
    ax.bar(xs, [100 * p.utilisation for p in gemms], width, color="C0", label="array, full-rate schedule")
    if any(tops):
        ax.bar([x + width for x in xs], tops, width, color="C2", label="accelerator top, RUN commands")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(gemms)), [p.name for p in gemms], rotation=90, fontsize=6)
    ax.set(ylabel="utilisation (%)", ylim=(0, 100))
    ax.set_title(title or "Per-layer utilisation")
    return _save(fig, path)


def plot_accuracy_energy(points: list[dict], path, title: str = "") -> Path:
    """Scatter of embedding cosine vs float32 against energy per inference, one point per format policy.

    ``points`` are dicts with ``label``, ``cosine`` and ``energy_uj``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, pt in enumerate(points):
        ax.scatter(pt["energy_uj"], pt["cosine"], color=f"C{i % 10}")
        ax.annotate(pt["label"], (pt["energy_uj"], pt["cosine"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="energy per inference (µJ, Horowitz 45 nm table)", ylabel="mean cosine vs float32")
    ax.set_title(title or "Accuracy vs energy")
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_json(data, path) -> Path:
    """Write ``data`` as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path
