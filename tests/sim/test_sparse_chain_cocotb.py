"""The sparse DSP chain's Verilog in cocotb: random N:M GEMVs in every mode, worst cases, exact cycles."""

import pytest

from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.sim.sparse_chain_bench import run_sparse_chain_regression
from hwgen.sim.sparse_chain_vectors import KINDS
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim


def _need(simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")


def _cases(cfg, rows=5, blocks=2):
    """Every mode and operand kind, back to back: the mode switches mid-stream."""
    return [
        {"mode": code, "rows": rows, "cols": blocks * cfg.length, "kind": kind}
        for code in range(len(cfg.modes))
        for kind in KINDS
    ]


# Verilator's C++ build costs about a minute, so it gets one small chain; Icarus builds in seconds.
CASES = [
    ("verilator", SparseChainConfig(length=8, group_size=1)),
    ("icarus", SparseChainConfig(length=16, group_size=2, packed=True)),
    ("icarus", SparseChainConfig(length=16, group_size=8, sparse_modes=((4, 8), (2, 4)), packed=True)),
    ("icarus", SparseChainConfig(length=8, group_size=2, sparse_modes=((2, 4), (1, 4)), weight_bits=4, packed=True)),
]


@pytest.mark.parametrize(("simulator", "cfg"), CASES, ids=lambda x: getattr(x, "top_name", x))
def test_full_rate_every_mode_bit_exact_at_formula_cycles(tmp_path, simulator, cfg):
    _need(simulator)
    run = run_sparse_chain_regression(cfg, tmp_path, _cases(cfg), simulator, seed=cfg.length)
    assert run.passed, run.log.read_text()[-3000:]
    assert len(run.report["cases"]) == len(cfg.modes) * len(KINDS)
    for case in run.report["cases"]:
        assert case["mismatches"] == []
        assert case["cycles"] == case["expected_cycles"]
    assert run.report["total_cycles"] == run.report["expected_total_cycles"]


def test_random_backpressure_icarus(tmp_path):
    _need("icarus")
    cfg = SparseChainConfig(length=8, group_size=1)
    run = run_sparse_chain_regression(
        cfg, tmp_path, _cases(cfg, rows=3), "icarus", seed=3, valid_prob=0.6, ready_prob=0.5
    )
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["expected_total_cycles"] is None
    assert all(c["mismatches"] == [] for c in run.report["cases"])


# N results per beat: a mode (n, m, n) with window = length * m // n**2 (2:4 -> 2, 1:8 -> 1, 4:8 -> 4).
N_RESULTS = SparseChainConfig(
    length=16, group_size=2, window=128, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1), (4, 8, 4))
)


def test_n_results_per_beat_verilator(tmp_path):
    _need("verilator")
    cfg = N_RESULTS
    # One column block per row group (cols = span): every beat is an output beat carrying N rows.
    # Then a ragged GEMV (padded rows and columns) per mode; the modes switch mid-stream.
    cases = [
        {"mode": code, "rows": 6, "cols": cfg.span(code), "kind": kind}
        for code in range(len(cfg.modes))
        for kind in KINDS
    ]
    cases += [
        {"mode": code, "rows": 7, "cols": 2 * cfg.span(code) - cfg.nm(code)[1], "kind": "random"}
        for code in (4, 0, 3, 1, 2)
    ]
    run = run_sparse_chain_regression(cfg, tmp_path, cases, "verilator", seed=5)
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["total_outputs"] == run.report["expected_total_outputs"]
    for want, got in zip(cases, run.report["cases"], strict=True):
        n = cfg.nm(want["mode"])[0]
        assert got["mismatches"] == [] and got["cycles"] == got["expected_cycles"]
        assert got["results_per_output"] == n  # N results per output beat ...
        blocks = -(-want["cols"] // cfg.span(want["mode"]))
        assert got["outputs"] == -(-want["rows"] // n)
        assert got["beats"] == got["outputs"] * blocks  # ... and one output beat per `blocks` beats
        assert got["cycles"] == got["beats"] + 11
    assert run.report["total_cycles"] == run.report["expected_total_cycles"]
