"""Mapped GEMM layers on the units' RTL: each unit's layer job, and the ``rtl`` layer runner the host plugs in.

``hwgen.sim`` imports this module, which registers :func:`rtl_layer_runner` as the host's
``rtl`` layer runner (:func:`hwgen.host.unit_layers.register_layer_runner`). The runner
builds the unit's Verilog once per config and simulator, streams a layer's operands
through it at full rate with the unit's bench, and reads back the result the RTL produced
and its cycles. The host then compares those with the emulator and the unit's cycle model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import LayerJob, get_unit
from hwgen.host.unit_layers import register_layer_runner
from hwgen.sim.cocotb_runner import SimulationError, flow_job

__all__ = [
    "addertree_layer",
    "bitslice_layer",
    "fp_pe_layer",
    "pim_layer",
    "rtl_layer_runner",
    "sparse_dsp_layer",
    "systolic_layer",
]

#: Where the rtl runner builds units unless told otherwise.
DEFAULT_WORK_DIR = Path("build") / "unit_layers"


def _stream_read(out_layout, tiles, shape, rows: int, cols: int):
    """``read(report)`` of a one-phase stream job: output beats decoded into tiles placed at their origins."""
    from hwgen.emulation.units.catalog import assemble_tiles
    from hwgen.sim.beats import unpack_fields

    def read(report) -> tuple[np.ndarray, int]:
        if not isinstance(report, list) or len(report) != 1 or len(report[0].get("beats", ())) != len(tiles):
            raise ValueError(f"the bench reported no complete result ({len(tiles)} output beats expected)")
        phase = report[0]
        outputs = [np.asarray(unpack_fields(out_layout, beat)["data"]).reshape(rows, cols) for beat in phase["beats"]]
        cycles = phase["out_cycles"][-1] - phase["first_in"] + 1
        return assemble_tiles(outputs, tiles, shape), cycles

    return read


def bitslice_layer(cfg, a, b, a_bits: int = 8, w_bits: int = 8) -> LayerJob:
    """The bit-slice array's job for ``a @ b`` at these precisions, and how to read its tiles back."""
    from hwgen.dataflow.bitslice_array import out_layout
    from hwgen.emulation.units.bitslice_plan import plan_fusion_gemm
    from hwgen.sim.bitslice_vectors import array_phase

    if cfg.unit != "array":
        raise ConfigError("unit", cfg.unit, "array (mapped layers run on the bit-slice array)")
    plan = plan_fusion_gemm(cfg, a.shape[0], a.shape[1], b.shape[1], a_bits, w_bits)
    phase = array_phase(plan, a, b, name=f"layer {plan.m}x{plan.k}x{plan.n}")
    job = {"phases": [phase.to_dict()], **flow_job(1, 1.0, 1.0)}
    return LayerJob(job, _stream_read(out_layout(cfg), plan.tiles, (plan.m, plan.n), cfg.rows, cfg.cols))


def addertree_layer(cfg, a, b) -> LayerJob:
    """The adder-tree array's job for ``a @ b``, and how to read its output vectors back."""
    from hwgen.dataflow.addertree_array import out_layout
    from hwgen.emulation.units.addertree_plan import plan_tree_gemm
    from hwgen.sim.addertree_vectors import tree_phase

    plan = plan_tree_gemm(cfg, a.shape[0], a.shape[1], b.shape[1])
    phase = tree_phase(plan, a, b, f"layer {plan.m}x{plan.k}x{plan.n}")
    job = {"phases": [phase.to_dict()], **flow_job(1, 1.0, 1.0)}
    return LayerJob(job, _stream_read(out_layout(cfg), plan.tiles, (plan.m, plan.n), 1, cfg.rows))


def fp_pe_layer(cfg, a, b) -> LayerJob:
    """The floating-point PE's job for ``a @ b`` (its ``m * n`` dot products back to back), and how to read it back.

    ``a`` and ``b`` hold values of ``cfg.in_fmt`` (as the host's ``UnitBackend`` passes them);
    the read decodes the PE's own output codes to accumulator values (float64) and refuses a
    NaN other than the PE's canonical one, so the host re-encodes exactly the PE's codes.
    """
    from hwgen.emulation import get_format

    in_fmt, acc_fmt = get_format(cfg.in_fmt), get_format(cfg.acc_fmt)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    (m, k), n = a.shape, b.shape[1]
    a_codes = in_fmt.encode(a.reshape(-1)).reshape(m, k)
    b_codes = in_fmt.encode(b.T.reshape(-1)).reshape(n, k)
    suite = {
        "name": f"layer {m}x{k}x{n}",
        "kind": "dots",
        "a": np.repeat(a_codes, n, axis=0).tolist(),
        "b": np.tile(b_codes, (m, 1)).tolist(),
        "valid_prob": 1.0,
        "ready_prob": 1.0,
    }
    job = {**cfg.to_dict(), "suites": [suite], **flow_job(1, 1.0, 1.0)}

    def read(report) -> tuple[np.ndarray, int]:
        if not isinstance(report, list) or len(report) != 1 or len(report[0].get("outputs", ())) != m * n:
            raise ValueError(f"the bench reported no complete result ({m * n} output codes expected)")
        codes = np.asarray(report[0]["outputs"], np.int64)
        values = acc_fmt.decode(codes, np.float64)
        odd = codes[np.isnan(values) & (codes != acc_fmt.nan_code)]
        if odd.size:
            raise ValueError(f"the PE gave NaN code {int(odd[0]):#x}, not its canonical {acc_fmt.nan_code:#x}")
        return values.reshape(m, n), report[0]["span"]

    return LayerJob(job, read)


def systolic_layer(cfg, a, b) -> LayerJob:
    """The systolic array's job for ``a @ b`` (any dataflow), and how to read its result back.

    The systolic bench compares every output beat with the unit's golden codes bit for
    bit (``check_outputs``) and reports the outputs it received as that GEMM's result
    only when all of them agree, so a wrong beat reads as an error, never as a result.
    """
    job = {"config": cfg.to_dict(), "gemms": [[*a.shape, b.shape[1]]], **flow_job(1, 1.0, 1.0)}
    job["operands"] = [{"a": a.tolist(), "b": b.tolist()}]

    def read(report) -> tuple[np.ndarray, int]:
        if not isinstance(report, list) or len(report) != 1:
            raise ValueError("the bench reported no GEMM")
        result = report[0]
        if result["mismatches"]:
            raise ValueError(f"the RTL's outputs differ from the unit's: {result['mismatches'][:3]}")
        return get_unit("systolic").golden(cfg, a, b), result["cycles"]

    return LayerJob(job, read)


def sparse_dsp_layer(cfg, a, b, mode: int = 0) -> LayerJob:
    """The sparse chain's job for ``a @ b`` in mode ``mode`` (code), and how to read its GEMV outputs back.

    Each activation row (pair of rows when packed) is one GEMV ``y = W x`` with ``W = b.T``,
    streamed back to back from the weights as given (N:M-pruned by the host for an N:M
    mode). ``read`` decodes the RTL's ``o_out`` beats into the ``m x n`` result.
    """
    from hwgen.host.nm_sparsity import gather_outputs
    from hwgen.sim.sparse_chain_vectors import GIVEN

    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    (m, k), n, tokens = a.shape, b.shape[1], cfg.tokens
    cfg.nm(mode)  # ConfigError for a mode the chain lacks
    rows = np.zeros((-(-m // tokens) * tokens, k), np.int64)
    rows[:m] = a
    cases = [
        {"mode": mode, "rows": n, "cols": k, "kind": GIVEN, "x": rows[r : r + tokens].tolist()}
        for r in range(0, len(rows), tokens)
    ]
    job = {"config": cfg.to_dict(), "cases": cases, "weights": b.T.tolist(), "keep_outputs": True}
    job.update(flow_job(1, 1.0, 1.0))

    def read(report) -> tuple[np.ndarray, int]:
        counts = [c["outputs"] for c in report.get("cases", ())] if isinstance(report, dict) else []
        outs = report.get("outputs", []) if isinstance(report, dict) else []
        if len(counts) != len(cases) or sum(counts) != len(outs):
            raise ValueError(f"the bench reported no complete result ({len(cases)} GEMVs expected)")
        values, start = [], 0
        for count in counts:
            beats = [cfg.acc_format.decode(np.asarray(o, np.uint64)) for o in outs[start : start + count]]
            values.append(gather_outputs(cfg, beats, n, mode))
            start += count
        return np.concatenate(values)[:m], report["total_cycles"]

    return LayerJob(job, read)


def pim_layer(cfg, a, b, channels: int = 1) -> LayerJob:
    """The PIM job for ``a @ b``: ``m`` GEMVs ``y = W x`` (``W = b.T``) over ``channels`` channels on one RTL channel.

    The host builds every channel's command streams (``hwgen.emulation.units.pim_plan``):
    per channel, one segment writing its share of ``W`` into the banks, then one segment
    per row ``x`` of ``a`` running that GEMV's stream. The channels run one after another
    on the single RTL channel of ``cfg`` (:mod:`hwgen.sim.pim_bench` resets it before each
    segment; the banks keep the weights), each GEMV from an idle channel as the unit's
    cycle model assumes.

    ``read`` decodes the RTL's own RD_MAC beats (not the model's) into each GEMV's partial
    sums, adds the chunks as :meth:`~hwgen.emulation.units.pim_plan.GemvLayout.assemble`
    does and returns ``(values, cycles)``. The channels run in parallel on the device, so
    a GEMV takes the most cycles any of its channels took (first cycle after reset to its
    last RD_MAC beat, inclusive), and the layer the sum over its GEMVs; at full rate the
    model gives every channel the same count, ``gemv_cycles`` of the layout. The weight
    writes are not timed: the weights live in the banks before the layer runs.
    """
    from hwgen.emulation.pim_model import PimOp, PimOutput
    from hwgen.emulation.units.pim_plan import plan_gemv
    from hwgen.sim.pim_bench import command_to_dict

    a, b = np.asarray(a), np.asarray(b)
    m = a.shape[0]
    layout = plan_gemv(cfg, int(b.shape[1]), int(a.shape[1]), channels)
    segments = []
    for c in range(layout.channels):
        segments.append(layout.weight_commands(b.T, c))
        segments += [layout.gemv_commands(x) for x in a]
    job = {
        "config": cfg.to_dict(),
        "segments": [[command_to_dict(cmd) for cmd in seg] for seg in segments],
        **flow_job(1, 1.0, 1.0),
    }

    def beats(segment) -> list[PimOutput]:
        outputs = []
        for (op, _, mac), cycle in zip(segment["beats"], segment["out_cycles"], strict=True):
            codes = np.asarray(mac, np.int64)
            values = codes if cfg.is_float else np.asarray(cfg.acc_format.decode(codes), np.int64)
            outputs.append(PimOutput(cycle, PimOp(op), tuple(int(v) for v in values)))
        return outputs

    def read(report) -> tuple[np.ndarray, int]:
        segs = report.get("segments") if isinstance(report, dict) else None
        if not isinstance(segs, list) or len(segs) != layout.channels * (m + 1):
            raise ValueError(f"the bench reported no complete layer ({layout.channels * (m + 1)} segments expected)")
        if flagged := [i for i, s in enumerate(segs) if s["error_flag"]]:
            raise ValueError(f"the channel raised its error flag in segment {flagged[0]}")
        rows, cycles = [], 0
        for i in range(m):
            gemv = [segs[c * (m + 1) + 1 + i] for c in range(layout.channels)]
            rows.append(layout.assemble([beats(s) for s in gemv]))
            cycles += max(s["cycles"] for s in gemv)
        return np.stack(rows), cycles

    return LayerJob(job, read)


def rtl_layer_runner(simulator: str = "verilator", work_dir=None):
    """The ``rtl`` layer runner: ``runner(layer, a, b) -> (values, cycles)`` from the unit's generated Verilog.

    Parameters
    ----------
    simulator : {"verilator", "icarus"}
    work_dir : path, optional
        Build folder (default ``build/unit_layers``); each unit config builds in its own sub-folder.
    """
    from hwgen.sim.regression import run_bench
    from hwgen.sim.toolchain import SIMULATORS

    if simulator not in SIMULATORS:
        raise ConfigError("simulator", simulator, ", ".join(SIMULATORS))
    root = Path(work_dir) if work_dir is not None else DEFAULT_WORK_DIR

    def run(layer, a, b) -> tuple[np.ndarray, int]:
        bench = layer.unit.regression_bench()
        if bench.layer is None:
            raise ConfigError("target", layer.unit.name, "a unit whose bench runs mapped layers")
        task = bench.layer(layer.config, a, b, **layer.run)
        folder = root / f"{layer.unit.name}-{layer.config.top_name}-{simulator}"
        result, _ = run_bench(layer.config, folder, simulator, bench.module, task.job)
        try:
            return task.read(result.report)
        except ValueError as exc:
            raise SimulationError(f"{layer.unit.name} on {simulator}: {exc}; see {result.log}") from None

    return run


register_layer_runner("rtl", rtl_layer_runner)
