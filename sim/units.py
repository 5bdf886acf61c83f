"""The regression bench of every registered unit: its cocotb module, its job and how to read its report.

Importing ``hwgen.sim`` imports this module, which attaches one :class:`Bench` per unit
(``attach_bench``); ``hwgen.sim.regression.run_regression`` runs any of them. The job
builders import the vector modules when called, so importing ``hwgen.sim`` stays cheap
and free of cycles with ``hwgen.dataflow``.

Every case row has ``name``, ``passed``, ``cycles``, ``expected_cycles`` (the exact
cycle count the bench checked, or None), ``checks`` (exact cycle checks made),
``ideal_cycles`` (cycles at 100 % utilisation) and ``mismatches``.
"""

from __future__ import annotations

import numpy as np

from hwgen.emulation.units.contract import Bench, attach_bench

__all__ = ["DEFAULT_GEMMS"]

#: GEMMs of the default systolic regression: square, ragged edges in every dimension, decode-shaped M = 1.
DEFAULT_GEMMS = ((16, 16, 16), (13, 21, 11), (1, 24, 20), (9, 5, 3))
#: Default bit-slice GEMMs: ``(m, k, n, a_bits, w_bits)``, mixed run-time precisions.
_BITSLICE_GEMMS = ((4, 40, 4, 8, 8), (3, 33, 5, 2, 2), (2, 17, 3, 4, 8), (1, 9, 2, 8, 2))
#: Default adder-tree GEMMs.
_ADDERTREE_GEMMS = ((4, 16, 8), (3, 13, 5), (1, 40, 4), (5, 3, 2))


def _row(name, passed, cycles, expected, ideal, mismatches=(), checks=None, extra=None) -> dict:
    checks = (expected is not None) if checks is None else checks
    return {
        **(extra or {}),
        "name": name,
        "passed": bool(passed),
        "cycles": int(cycles),
        "expected_cycles": expected,
        "checks": int(checks),
        "ideal_cycles": float(ideal),
        "mismatches": list(mismatches),
    }


def _full_rate(job: dict) -> bool:
    return job["valid_prob"] == 1.0 and job["ready_prob"] == 1.0


def _flow(seed, valid_prob, ready_prob) -> dict:
    return {"seed": seed, "valid_prob": valid_prob, "ready_prob": ready_prob}


# -- systolic ----------------------------------------------------------------------------------------------------
def _systolic_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.emulation.units.systolic_plan import plan_gemm

    shapes = [tuple(g) for g in (gemms or DEFAULT_GEMMS)]
    for shape in shapes:
        plan_gemm(cfg, *shape)
    return {"config": cfg.to_dict(), "gemms": [list(g) for g in shapes], **_flow(seed, valid_prob, ready_prob)}


def _systolic_cases(cfg, job, report):
    if not isinstance(report, list) or len(report) != len(job["gemms"]):
        return None
    pes = cfg.rows * cfg.cols
    return [
        _row(
            f"{g['m']}x{g['k']}x{g['n']}",
            g["passed"],
            g["cycles"],
            g["expected_cycles"],
            g["m"] * g["k"] * g["n"] / pes,
            g["mismatches"],
            extra=g,
        )
        for g in report
    ]


# -- stream units (bit-slice, adder tree): phases from the golden model, cycles checked here --------------------
def _stream_job(phases, expected: list, ideal: list, seed, valid_prob, ready_prob) -> dict:
    checks = [{"expected_cycles": e, "ideal_cycles": i} for e, i in zip(expected, ideal, strict=True)]
    return {"phases": [p.to_dict() for p in phases], "checks": checks, **_flow(seed, valid_prob, ready_prob)}


def _stream_cases(cfg, job, report):
    if not isinstance(report, list) or len(report) != len(job["phases"]):
        return None
    rows = []
    for phase, check in zip(report, job["checks"], strict=True):
        cycles = phase["out_cycles"][-1] - phase["first_in"] + 1 if phase["out_cycles"] else 0
        expected = check["expected_cycles"] if _full_rate(job) else None
        problems = list(phase["mismatches"])
        if expected is not None and cycles != expected:
            problems.append(f"{cycles} cycles, want exactly {expected}")
        rows.append(_row(phase["name"], not problems, cycles, expected, check["ideal_cycles"], problems))
    return rows


def _bitslice_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.emulation.units.bitslice_plan import plan_fusion_gemm
    from hwgen.sim.bitslice_vectors import array_phase, pe_phase, pe_stream_cycles, random_gemm, random_groups

    bits = cfg.max_bits
    cases = [(*g, bits, bits) for g in gemms] if gemms else [g for g in _BITSLICE_GEMMS if max(g[3:]) <= bits]
    rng = np.random.default_rng(seed)
    phases, expected, ideal = [], [], []
    for m, k, n, a_bits, w_bits in cases:
        name = f"{m}x{k}x{n} @{a_bits}x{w_bits}b"
        if cfg.unit == "pe":  # the PE's GEMM: m * n dot products of length k
            a, w = random_groups(rng, m * n, k, a_bits, w_bits)
            phases.append(pe_phase(cfg.coding, cfg.acc_format, a, w, a_bits, w_bits, name))
            expected.append(pe_stream_cycles(cfg.coding, a, a_bits))
            ideal.append(a.size)
        else:
            plan = plan_fusion_gemm(cfg, m, k, n, a_bits, w_bits)
            phases.append(array_phase(plan, *random_gemm(rng, m, k, n, a_bits, w_bits), name=name))
            expected.append(plan.cycles)
            ideal.append(len(plan.tiles) * plan.beats)
    return _stream_job(phases, expected, ideal, seed, valid_prob, ready_prob)


def _addertree_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.emulation.units.addertree_plan import plan_tree_gemm
    from hwgen.sim.addertree_vectors import random_gemm, tree_phase

    rng = np.random.default_rng(seed)
    plans = [plan_tree_gemm(cfg, *g) for g in (gemms or _ADDERTREE_GEMMS)]
    phases = [tree_phase(p, *random_gemm(rng, cfg.dtype_format, p.m, p.k, p.n), f"{p.m}x{p.k}x{p.n}") for p in plans]
    ideal = [len(p.tiles) * p.beats for p in plans]
    return _stream_job(phases, [p.cycles for p in plans], ideal, seed, valid_prob, ready_prob)


# -- floating-point PEs (L-Mul, FP MAC) --------------------------------------------------------------------------
def _fp_pe_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    suite = {"name": "random dots", "kind": "random", "count": 200, "max_k": 16, "corner_prob": 0.2}
    suites = [{**suite, "valid_prob": valid_prob, "ready_prob": ready_prob}]
    return {**cfg.to_dict(), "suites": suites, **_flow(seed, valid_prob, ready_prob)}


def _fp_pe_cases(cfg, job, report):
    from hwgen.emulation.units.fp_pe_config import LATENCY

    if not isinstance(report, list) or len(report) != len(job["suites"]):
        return None
    rows = []
    for suite in report:
        expected = suite["macs"] + LATENCY if _full_rate(job) else None
        problems = list(suite["mismatches"])
        if expected is not None and suite["cycles"] != expected:
            problems.append(f"{suite['cycles']} cycles, want exactly {expected}")
        checks = suite["dots"] * suite["latency_checked"] + (expected is not None)
        name = f"{suite['name']} ({suite['dots']} dots)"
        rows.append(_row(name, not problems, suite["cycles"], expected, suite["macs"], problems, checks))
    return rows


# -- sparse DSP chain ----------------------------------------------------------------------------------------------
def _sparse_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.sim.sparse_chain_vectors import KINDS

    cases = [
        {"mode": code, "rows": 5, "cols": 2 * cfg.length, "kind": kind}
        for code in range(len(cfg.modes))
        for kind in KINDS
    ]
    return {"config": cfg.to_dict(), "cases": cases, **_flow(seed, valid_prob, ready_prob)}


def _sparse_cases(cfg, job, report):
    if not isinstance(report, dict) or len(report.get("cases", [])) != len(job["cases"]):
        return None
    return [
        _row(
            f"{c['mode']} {c['kind']} {c['rows']}x{c['cols']}",
            c["passed"],
            c["cycles"],
            c["expected_cycles"],
            c["beats"],
            c["mismatches"],
        )
        for c in report["cases"]
    ]


# -- PIM channel ---------------------------------------------------------------------------------------------------
def _pim_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.host.pim_mapping import plan_gemv
    from hwgen.sim.pim_bench import command_to_dict

    rng = np.random.default_rng(seed)
    # The largest W of up to 8 rows that fits, of two whole column beats and a ragged one if it can.
    shapes = [(n, k) for k in (2 * cfg.lanes + 3, cfg.lanes, 1) for n in range(8, 0, -1)]
    n, k = next((s for s in shapes if _fits(plan_gemv, cfg, *s)), (1, 1))
    layout = plan_gemv(cfg, n, k)
    fmt = cfg.dtype_format
    if cfg.is_float:
        w, x = rng.standard_normal((n, k)), rng.standard_normal(k)
    else:
        w = rng.integers(fmt.min_value, fmt.max_value + 1, size=(n, k))
        x = rng.integers(fmt.min_value, fmt.max_value + 1, size=k)
        w.flat[0], x[0] = fmt.min_value, fmt.min_value
    program = layout.weight_commands(w, 0) + layout.gemv_commands(x)
    return {
        "config": cfg.to_dict(),
        "program": [command_to_dict(c) for c in program],
        "gemv": [n, k],
        **_flow(seed, valid_prob, ready_prob),
    }


def _fits(plan_gemv, cfg, n: int, k: int) -> bool:
    try:
        plan_gemv(cfg, n, k)
    except ValueError:
        return False
    return True


def _pim_cases(cfg, job, report):
    if not isinstance(report, dict) or "passed" not in report:
        return None
    n, k = job["gemv"]
    expected = report["model_cycles"] if report["full_rate"] else None
    problems = list(report["mismatches"])
    if report["error_flag"]:
        problems.append("the channel raised its error flag")
    if expected is not None and not report["cycles_equal"]:
        problems.append(f"issue/output cycles differ from the model ({report['cycles']} vs {expected} cycles)")
    checks = report["commands"] + report["outputs"] if expected is not None else 0
    name = f"GEMV {n}x{k} ({report['commands']} commands)"
    return [
        _row(name, report["passed"] and not problems, report["cycles"], expected, report["commands"], problems, checks)
    ]


# -- accelerator top -----------------------------------------------------------------------------------------------
def _top_job(cfg, seed, valid_prob, ready_prob, gemms) -> dict:
    from hwgen.emulation.units.uart_rate import uart_divisor

    job = {"config": cfg.array.to_dict(), "memories": cfg.memories, "commands": 40, "max_words": 4}
    if cfg.link == "uart":
        job.update(link="uart", divisor=uart_divisor(cfg.clk_freq, cfg.uart_baud), commands=12, max_words=2)
    return {**job, **_flow(seed, valid_prob, ready_prob)}


def _top_cases(cfg, job, report):
    from hwgen.emulation.accelerator_timing import run_cycles
    from hwgen.emulation.units.top_config import device_info

    if not isinstance(report, dict) or "commands" not in report:
        return None
    info = device_info(cfg.array, **cfg.memories)
    problems = [*report["mismatches"], *report["once_mismatches"]]
    run_total = 0
    for m, cycles in report["run_cycles"]:
        run_total += cycles
        if cycles != run_cycles(info, m):
            problems.append(f"RUN of {m} rows took {cycles} cycles, want exactly {run_cycles(info, m)}")
    name = f"{report['commands']} commands, {report['runs']} RUNs"
    # Exact cycles per RUN (the top's own counter); the link's time is reported, utilisation is RUN time over it.
    return [_row(name, not problems, report["bench_cycles"], None, run_total, problems, report["runs"])]


def _attach_all() -> None:
    from hwgen.sim.unit_layers import (
        addertree_layer,
        bitslice_layer,
        fp_pe_layer,
        pim_layer,
        sparse_dsp_layer,
        systolic_layer,
    )

    stream = "hwgen.sim.stream_bench"
    attach_bench("systolic", Bench("hwgen.sim.systolic_bench", _systolic_job, _systolic_cases, True, systolic_layer))
    attach_bench("bitslice", Bench(stream, _bitslice_job, _stream_cases, gemms=True, layer=bitslice_layer))
    attach_bench("addertree", Bench(stream, _addertree_job, _stream_cases, gemms=True, layer=addertree_layer))
    for name in ("lmul", "fp-mac"):
        attach_bench(name, Bench("hwgen.sim.fp_pe_bench", _fp_pe_job, _fp_pe_cases, layer=fp_pe_layer))
    sparse = Bench("hwgen.sim.sparse_chain_bench", _sparse_job, _sparse_cases, layer=sparse_dsp_layer)
    attach_bench("sparse-dsp", sparse)
    attach_bench("pim", Bench("hwgen.sim.pim_bench", _pim_job, _pim_cases, layer=pim_layer))
    attach_bench("top", Bench("hwgen.sim.top_bench", _top_job, _top_cases))


_attach_all()
