"""The float adder: lint-clean Verilog, bit-exact with the emulator (Amaranth sim and cocotb)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.cli.build_cmd import lint
from hwgen.emulation import bfloat16, float8_e4m3fn, float8_e5m2, float16, float32
from hwgen.emulation.errors import FormatError
from hwgen.emulation.fp_mac_model import fp_add
from hwgen.rtl.fp_add import FpAdd, FpAdder, code_layout, unpacked_layout
from hwgen.rtl.verilog_writer import LINT_WAIVERS, generate_verilog
from hwgen.sim.cocotb_runner import run_cocotb
from hwgen.sim.fp_add_bench import adder_vectors
from hwgen.sim.toolchain import find_simulator


def _amaranth_sums(fmt, a, b):
    dut = FpAdder(fmt)
    got = []

    async def bench(ctx):
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            ctx.set(dut.a.as_value(), x)
            ctx.set(dut.b.as_value(), y)
            got.append(ctx.get(dut.result.as_value()))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got)


@pytest.mark.parametrize("fmt", [float8_e5m2, float16, bfloat16, float32], ids=lambda f: f.name)
def test_amaranth_matches_emulator(fmt):
    a, b = adder_vectors(fmt, 1500, seed=fmt.width)
    np.testing.assert_array_equal(_amaranth_sums(fmt, a, b), fp_add(a, b, fmt))


def test_ieee_rules_float32():
    one, inf, nan = 0x3F800000, 0x7F800000, float32.nan_code
    a = np.array([one, 0x80000000, 0x80000000, inf, 0x7F7FFFFF, 0x00000001])
    b = np.array([one | 0x80000000, 0x80000000, 0, inf | 0x80000000, 0x7F7FFFFF, 0x80000001])
    # x + (-x) = +0, (-0) + (-0) = -0, (-0) + (+0) = +0, Inf - Inf = NaN, max + max = Inf, tiny cancellation = +0
    want = [0, 0x80000000, 0, nan, inf, 0]
    assert _amaranth_sums(float32, a, b).tolist() == want
    assert fp_add(a, b, float32).tolist() == want


def test_layout_exp_offset_and_normalized_sig_are_honoured():
    # y as an L-Mul product carries it: a biased exponent (offset -30) and a 1.m-or-0 significand.
    x_layout, y_layout = unpacked_layout(11, 7), unpacked_layout(4, 7, exp_offset=-30, sig_normalized=True)
    dut = FpAdd(float16, x_layout, y_layout)
    rng = np.random.default_rng(5)
    n = 1500
    xs, xe, xsign = rng.integers(0, 1 << 11, n), rng.integers(-30, 6, n), rng.integers(0, 2, n)
    ys, ye, ysign = rng.integers(8, 16, n), rng.integers(0, 41, n), rng.integers(0, 2, n)
    ys[::7] = 0  # zero products (the exponent field then holds junk)
    got = []

    async def bench(ctx):
        for i in range(n):
            ctx.set(dut.x, {"sig": int(xs[i]), "exp": int(xe[i]), "sign": int(xsign[i])})
            ctx.set(dut.y, {"sig": int(ys[i]), "exp": int(ye[i]), "sign": int(ysign[i])})
            got.append(ctx.get(dut.result.as_value()))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    # Both operands span at most 2**-30 .. 2**15: their float64 sum is exact, so one cast rounds once.
    x = np.where(xsign == 1, -1.0, 1.0) * np.ldexp(xs.astype(float), xe)
    y = np.where(ysign == 1, -1.0, 1.0) * np.ldexp(ys.astype(float), ye - 30)
    want = (x + y).astype(np.float16).view(np.uint16)
    assert np.array_equal(np.array(got), want)


def test_unpacked_layout_facts_are_part_of_the_shape():
    plain = unpacked_layout(4, 7)
    assert plain == unpacked_layout(4, 7) and hash(plain) == hash(unpacked_layout(4, 7))
    assert plain != unpacked_layout(4, 7, exp_offset=-3)
    assert plain != unpacked_layout(4, 7, sig_normalized=True)
    assert code_layout(float16).exp_offset == -(float16.bias + float16.man_bits)


def test_rejects_formats_without_ieee_specials():
    with pytest.raises(FormatError, match="acc_fmt"):
        FpAdder(float8_e4m3fn)


@pytest.mark.parametrize("fmt", [float32, float8_e5m2], ids=lambda f: f.name)
def test_verilog_lint_clean(tmp_path, fmt):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    gen = generate_verilog(FpAdder(fmt), "fp_add")
    (tmp_path / "fp_add.v").write_text(gen.text)
    (tmp_path / "fp_add.vlt").write_text(LINT_WAIVERS)
    clean, messages = lint(tmp_path / "fp_add.v", tmp_path / "fp_add.vlt")
    assert clean, messages


@pytest.mark.sim
def test_cocotb_float32_200k(tmp_path):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    gen = generate_verilog(FpAdder(float32), "fp_add")
    path = tmp_path / "fp_add.v"
    path.write_text(gen.text)
    job = {"fmt": "float32", "count": 200_000, "seed": 11}
    run = run_cocotb(path, "fp_add", "hwgen.sim.fp_add_bench", job, "verilator", tmp_path)
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["vectors"] > 200_000
    assert run.report["mismatches"] == []
