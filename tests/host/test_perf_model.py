"""Performance model: cycles from the targets and the top's RUN contract, traffic, energy from the cited table."""

import pytest

from hwgen.emulation import float8_e4m3fn, float32, int8, int32
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.host import energy
from hwgen.host.mapper import device_info, map_gemm, map_workloads
from hwgen.host.perf_model import Quant, gemm_perf, model_perf, totals
from hwgen.host.targets import PimTarget, SystolicTarget
from hwgen.host.workload import Elementwise, Gemm


def test_energy_table_is_horowitz_and_cited():
    t = energy.HOROWITZ_45NM_PJ
    assert (t["int8_add"], t["int8_mult"], t["int32_add"], t["fp16_mult"], t["fp32_add"]) == (0.03, 0.2, 0.1, 1.1, 0.9)
    assert "Horowitz" in energy.CITATION and "ISSCC 2014" in energy.CITATION
    assert "ISSCC" in energy.__doc__ and "0.2 pJ" in energy.__doc__
    assert energy.mac_energy(int8, int8, int32) == pytest.approx(0.2 + 0.1)
    assert energy.mac_energy(float8_e4m3fn, float8_e4m3fn, float32) == pytest.approx(1.1 + 0.9)
    assert energy.mac_energy(float8_e4m3fn, float8_e4m3fn, float32, "lmul") == pytest.approx(0.03 + 0.9)


def test_gemm_perf_of_a_top_mapping():
    target = SystolicTarget(8, 8, "ws")
    info = device_info(target, int8, int32, depths=(512, 1024, 256))
    layer = map_gemm(Gemm("ffn", 32, 64, 40, batch=2), target, info)
    perf = gemm_perf(layer, bandwidth=4.0)
    runs = layer.top.runs
    assert perf.top_cycles == 2 * sum(run_cycles(info, r.m) for r in runs)
    assert len(runs) == 8 * 5  # 8 K-tiles x 5 N-tiles, one chunk of 32 rows
    t = layer.top.traffic()
    assert perf.host_bytes == 2 * (t["host_to_device"] + t["device_to_host"])
    assert layer.top.a_resident and layer.top.w_resident  # each operand crosses the link once
    assert perf.host_bytes == 2 * (32 * 64 + 64 * 40 + 32 * 40 * 4)
    assert perf.energy.compute == pytest.approx(2 * 32 * 64 * 40 * 0.3)
    assert perf.energy.host_link == pytest.approx(perf.host_bytes * energy.DRAM_PJ_PER_BYTE)
    assert perf.intensity == pytest.approx(2 * perf.macs / perf.host_bytes)
    assert perf.peak == 128 and perf.attainable == pytest.approx(min(128, perf.intensity * 4.0))
    assert perf.bound == ("compute" if perf.intensity * 4.0 >= 128 else "memory")
    assert 0 < perf.utilisation < 1


def test_roofline_bound_moves_with_bandwidth():
    layer = map_gemm(Gemm("g", 64, 64, 64), SystolicTarget(4, 4))
    assert gemm_perf(layer, bandwidth=1e6).bound == "compute"
    assert gemm_perf(layer, bandwidth=1e-3).bound == "memory"


def test_pim_keeps_weights_in_dram_and_model_totals():
    work = [Gemm("q", 1, 64, 64), Elementwise("sm", "softmax", 100, 5)]
    perfs = model_perf(map_workloads(work, PimTarget(2)), policy=None)
    assert perfs[0].host_bytes == 64 + 64 * 4  # x in, y out; W stays in the banks
    assert perfs[1].bound == "host" and perfs[1].energy.compute == pytest.approx(500 * 0.9)
    total = totals(perfs)
    assert total["macs"] == 64 * 64 and total["cycles"] == perfs[0].cycles
    assert total["energy_pj"] == pytest.approx(sum(p.energy.total for p in perfs))


def test_quant_formats_price_the_macs():
    layer = map_gemm(Gemm("g", 4, 4, 4), SystolicTarget(4, 4))
    fp8 = gemm_perf(layer, Quant(float8_e4m3fn, float8_e4m3fn, float32))
    assert fp8.energy.compute == pytest.approx(64 * 2.0)
