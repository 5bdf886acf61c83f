"""FpMacPE and LMulPE as Verilog in cocotb: all FP8 operand pairs, random dot products, cycle checks."""

import pytest

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.fp_pe_config import FpPEConfig
from hwgen.sim.cocotb_runner import run_cocotb
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

#: All 65,536 pairs as length-1 dot products and random dot products at full rate (results and
#: cycles checked), then random dot products under random source idling and sink back-pressure.
FULL_SUITES = [
    {"name": "exhaustive", "kind": "exhaustive", "valid_prob": 1.0, "ready_prob": 1.0},
    {
        "name": "random",
        "kind": "random",
        "count": 300,
        "max_k": 24,
        "corner_prob": 0.2,
        "valid_prob": 1.0,
        "ready_prob": 1.0,
    },
    {
        "name": "backpressure",
        "kind": "random",
        "count": 200,
        "max_k": 12,
        "corner_prob": 0.2,
        "valid_prob": 0.7,
        "ready_prob": 0.5,
    },
]
RANDOM_SUITES = FULL_SUITES[1:]


def _run(tmp_path, simulator, kind, in_fmt, suites, seed, **policies):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")
    build = build_unit(FpPEConfig(kind, in_fmt, "float32", dict(policies)), tmp_path / "rtl")
    job = {"kind": kind, "in_fmt": in_fmt, "acc_fmt": "float32", "policies": policies, "seed": seed, "suites": suites}
    run = run_cocotb(build.verilog, build.manifest_data["top"], "hwgen.sim.fp_pe_bench", job, simulator, tmp_path)
    assert run.passed, run.log.read_text()[-3000:]
    assert [s["name"] for s in run.report] == [s["name"] for s in suites]
    for suite, spec in zip(run.report, suites, strict=True):
        assert suite["mismatches"] == []
        assert suite["latency_checked"] == (spec["ready_prob"] == 1.0)
        if spec["kind"] == "exhaustive":
            assert suite["dots"] == 65536
            assert suite["cycles"] == 65536 + 2  # one MAC per cycle plus the 2-cycle latency


@pytest.mark.parametrize("in_fmt", ["float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("kind", ["fp_mac", "lmul"])
def test_exhaustive_fp8_verilator(tmp_path, kind, in_fmt):
    _run(tmp_path, "verilator", kind, in_fmt, FULL_SUITES, seed=len(kind) + len(in_fmt))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fp_mac", "lmul"])
def test_bf16_verilator(tmp_path, kind):
    _run(tmp_path, "verilator", kind, "bfloat16", RANDOM_SUITES, seed=16)


@pytest.mark.slow
def test_lmul_policies_verilator(tmp_path):
    _run(
        tmp_path,
        "verilator",
        "lmul",
        "float8_e4m3fn",
        FULL_SUITES,
        seed=4,
        zero="raw",
        subnormal="raw",
        underflow="keep",
        overflow="saturate",
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fp_mac", "lmul"])
def test_random_icarus(tmp_path, kind):
    _run(tmp_path, "icarus", kind, "float8_e5m2", RANDOM_SUITES, seed=9)
