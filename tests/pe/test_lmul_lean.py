"""The L-Mul datapaths against the emulator (every FP8 operand pair, bf16 samples) and the e4m3 area goal."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from _unit_products import unit_products

from hwgen.emulation import LMul, bfloat16, float8_e4m3fn, float8_e5m2
from hwgen.emulation.fp_mac_model import exact_products
from hwgen.pe.fp_mac import FpMul
from hwgen.pe.lmul_pe import LMulUnit
from hwgen.rtl.verilog_writer import generate_verilog
from hwgen.sim.fp_pe_bench import corner_codes


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "policies"),
    [(float8_e4m3fn, {}), (float8_e5m2, {"overflow": "saturate", "underflow": "keep", "zero": "raw"})],
    ids=["e4m3-default", "e5m2-saturate-keep-raw"],
)
def test_every_operand_pair_matches_the_emulator(fmt, policies):
    lmul = LMul(fmt, **policies)
    codes = np.arange(1 << fmt.width)
    a, b = np.repeat(codes, codes.size), np.tile(codes, codes.size)
    got, want = unit_products(LMulUnit(lmul), a, b), exact_products(a, b, fmt, lmul)
    np.testing.assert_array_equal(got, want)  # exact values; NaN positions equal
    finite = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


@pytest.mark.parametrize(
    "policies", [{}, {"overflow": "saturate"}, {"zero": "raw", "subnormal": "raw", "underflow": "keep"}]
)
def test_bf16_chain_datapath_matches_the_emulator(policies):
    # bf16 takes the carry-chain datapath, whose product exponent is r's biased exponent field.
    lmul = LMul(bfloat16, **policies)
    rng = np.random.default_rng(11)
    corners = corner_codes(bfloat16)
    a = np.concatenate([rng.integers(0, 1 << 16, 1500), np.repeat(corners, corners.size)])
    b = np.concatenate([rng.integers(0, 1 << 16, 1500), np.tile(corners, corners.size)])
    got, want = unit_products(LMulUnit(lmul), a, b), exact_products(a, b, bfloat16, lmul)
    np.testing.assert_array_equal(got, want)
    finite = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


@pytest.mark.synth
def test_e4m3_lmul_unit_is_at_most_35_percent_of_the_exact_multiplier(tmp_path):
    # Same flow as benchmarks/lmul_area.py (ECP5, -nodsp): the issue-4 goal of <= 35 %.
    # Measured 25 vs 77 LUTs (32 %) with the biased product exponent; 32 vs 88 before it,
    # and 55 for the first L-Mul datapath.
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "lmul_area.py"
    spec = importlib.util.spec_from_file_location("lmul_area", path)
    bench = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(bench)  # registered first: its dataclasses look their module up
    ecp5_cells = bench.ecp5_cells
    lmul_luts, _ = ecp5_cells(generate_verilog(LMulUnit(LMul(float8_e4m3fn)), "u").text, "u", tmp_path / "l", True)
    mul_luts, _ = ecp5_cells(generate_verilog(FpMul(float8_e4m3fn), "u").text, "u", tmp_path / "m", True)
    assert lmul_luts <= 0.35 * mul_luts, (lmul_luts, mul_luts)
