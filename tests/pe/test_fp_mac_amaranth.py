"""FpMacPE and LMulPE in the Amaranth simulator: bit-exact with fp_dot, latency, policies."""

import random

import numpy as np
import pytest
from _unit_products import unit_products
from amaranth.sim import Simulator

from hwgen.emulation import LMul, bfloat16, float8_e4m3fn, float8_e5m2, float32
from hwgen.emulation.fp_mac_model import exact_products, fp_dot
from hwgen.emulation.units.fp_pe_config import LATENCY
from hwgen.pe.fp_mac import FpMacPE
from hwgen.pe.lmul_pe import LMulPE, LMulUnit
from hwgen.sim.fp_pe_bench import corner_codes


def _dots(fmt, rng, count, max_k):
    corners = corner_codes(fmt)
    out = []
    for _ in range(count):
        k = int(rng.integers(1, max_k + 1))
        pair = [rng.integers(0, 1 << fmt.width, k) for _ in range(2)]
        for v in pair:
            mask = rng.random(k) < 0.25
            v[mask] = rng.choice(corners, int(mask.sum()))
        out.append(pair)
    return out


def _run(dut, fmt, dots, valid_prob, ready_prob, seed):
    w = fmt.width
    beats, lasts = [], []
    for a, b in dots:
        for j in range(len(a)):
            beats.append(int(a[j]) | int(b[j]) << w | (j == 0) << (2 * w) | (j == len(a) - 1) << (2 * w + 1))
        lasts.append(len(beats) - 1)
    outs, out_cycles, taken = [], [], []
    flow = random.Random(seed)

    async def bench(ctx):
        offering, cycle = False, 0
        while len(outs) < len(dots):
            assert cycle < 20 * len(beats) + 100, "PE stopped producing results"
            if not offering and len(taken) < len(beats) and flow.random() < valid_prob:
                offering = True
                ctx.set(dut.i_in.payload.as_value(), beats[len(taken)])
            ctx.set(dut.i_in.valid, offering)
            accept = flow.random() < ready_prob
            ctx.set(dut.o_acc.ready, accept)
            _, _, i_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i_in.ready, dut.o_acc.valid, dut.o_acc.payload.as_value()
            )
            if offering and i_ready:
                taken.append(cycle)
                offering = False
            if accept and o_valid:
                outs.append(o_payload)
                out_cycles.append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outs, np.array(out_cycles) - np.array(taken)[lasts]


def _expected(dots, fmt, mul):
    return [int(fp_dot(a[None], b[None], fmt, float32, mul)[0]) for a, b in dots]


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda f: FpMacPE(f, float32), float8_e4m3fn),
        (lambda f: FpMacPE(f, float32), bfloat16),
        (lambda f: LMulPE(f, float32), float8_e5m2),
        (lambda f: LMulPE(f, float32), bfloat16),
    ],
    ids=["mac-e4m3", "mac-bf16", "lmul-e5m2", "lmul-bf16"],
)
def test_full_rate_bit_exact_and_latency(make, fmt):
    dut = make(fmt)
    dots = _dots(fmt, np.random.default_rng(fmt.width), 40, 9)
    outs, delays = _run(dut, fmt, dots, 1.0, 1.0, seed=1)
    mul = dut.lmul if isinstance(dut, LMulPE) else "exact"
    assert outs == _expected(dots, fmt, mul)
    assert set(delays.tolist()) == {LATENCY}


def test_backpressure_bit_exact():
    dut = LMulPE(float8_e4m3fn, float32)
    dots = _dots(float8_e4m3fn, np.random.default_rng(3), 30, 6)
    outs, _ = _run(dut, float8_e4m3fn, dots, 0.6, 0.4, seed=2)
    assert outs == _expected(dots, float8_e4m3fn, LMul(float8_e4m3fn))


@pytest.mark.parametrize(
    "policies",
    [{}, {"zero": "raw", "subnormal": "raw", "underflow": "keep"}, {"overflow": "saturate"}, {"overflow": "inf"}],
    ids=["default", "raw-keep", "saturate", "inf"],
)
@pytest.mark.parametrize("fmt", [float8_e4m3fn, float8_e5m2], ids=lambda f: f.name)
def test_lmul_unit_policies(fmt, policies):
    lmul = LMul(fmt, **policies)
    rng = np.random.default_rng(7)
    corners = corner_codes(fmt)
    a = np.concatenate([rng.integers(0, 256, 600), np.repeat(corners, corners.size)])
    b = np.concatenate([rng.integers(0, 256, 600), np.tile(corners, corners.size)])
    got = unit_products(LMulUnit(lmul), a, b)
    want = exact_products(a, b, fmt, lmul)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got[~np.isnan(want)]), np.signbit(want[~np.isnan(want)]))


@pytest.mark.parametrize(("field", "value"), [("definition", "formula"), ("subnormal", "normalize")])
def test_unsupported_policies_raise(field, value):
    with pytest.raises(ValueError, match=field):
        LMulPE(float8_e4m3fn, float32, **{field: value})


@pytest.mark.parametrize(
    ("kind", "in_fmt", "policies"),
    [("fp_mac", "float8_e4m3fn", {}), ("lmul", "float8_e5m2", {}), ("lmul", "bfloat16", {"overflow": "saturate"})],
)
def test_build_writes_lint_clean_verilog_and_manifest(tmp_path, kind, in_fmt, policies):
    from hwgen.cli.build_cmd import lint
    from hwgen.dataflow.hardware import build_unit
    from hwgen.emulation.units.fp_pe_config import FpPEConfig
    from hwgen.sim.toolchain import find_simulator

    build = build_unit(FpPEConfig(kind, in_fmt, "float32", dict(policies)), tmp_path)
    assert build.manifest_data["config"] == {"kind": kind, "in_fmt": in_fmt, "acc_fmt": "float32", "policies": policies}
    assert build.manifest_data["latency"] == LATENCY
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    clean, messages = lint(build.verilog, build.lint_waivers)
    assert clean, messages
