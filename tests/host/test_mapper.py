"""Mapping: scratchpad fit with double buffering, traffic counts, dataflow choice, mixed targets."""

import pytest

from hwgen.emulation import int8, int32
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import DeviceInfo, Space
from hwgen.host.mapper import Read, Run, Write, device_info, map_gemm, map_workloads, plan_top_gemm
from hwgen.host.targets import PimTarget, SystolicTarget, parse_target
from hwgen.host.workload import Elementwise, Gemm


def _check_addresses(mapping):
    info = mapping.info
    for step in mapping.steps:
        if isinstance(step, Write):
            assert step.addr + step.count <= info.depth(step.space)
        elif isinstance(step, Run):
            assert step.w_addr + info.rows <= info.w_depth
            assert step.a_addr + step.m <= info.a_depth and step.o_addr + step.m <= info.o_depth
        else:
            assert step.addr + step.count <= info.o_depth


def test_resident_weights_are_written_once_and_buffers_alternate():
    info = DeviceInfo(4, 4, 1, 4, 64, 64, 16, 4096)
    mapping = plan_top_gemm(info, 20, 12, 8)  # 3 K-tiles x 2 N-tiles of W fit W (24 <= 64)
    _check_addresses(mapping)
    assert mapping.w_resident and mapping.a_resident and mapping.chunk == 8  # O: two halves of 8
    w_writes = [s for s in mapping.steps if isinstance(s, Write) and s.space is Space.W]
    assert len(w_writes) == 6
    runs = mapping.runs
    assert [r.accumulate for r in runs[:3]] == [False, True, True]
    assert len({r.o_addr for r in runs}) == 2 and len({r.a_addr for r in runs if not r.accumulate}) == 2
    reads = [s for s in mapping.steps if isinstance(s, Read)]
    assert sum(r.count for r in reads) == 20 * 2  # every row of every N-tile, once


def test_small_scratchpads_fall_back_to_streaming_and_ping_pong():
    info = DeviceInfo(4, 4, 1, 4, 8, 3, 2, 4096)
    mapping = plan_top_gemm(info, 5, 16, 9)
    _check_addresses(mapping)
    assert not mapping.a_resident and not mapping.w_resident and mapping.chunk == 1
    assert {r.w_addr for r in mapping.runs} == {0, 4}  # two W tiles ping-pong


def test_traffic_counts_bytes():
    info = DeviceInfo(2, 2, 1, 4, 64, 64, 64, 4096)
    t = plan_top_gemm(info, 3, 2, 2).traffic()  # one tile, one run
    assert t == {"host_to_device": 2 * 2 + 3 * 2, "device_to_host": 3 * 8, "array": 2 * 2 + 3 * (2 + 8)}


def test_device_too_small_or_bad_dataflow_is_a_config_error():
    with pytest.raises(ConfigError, match="w_depth"):
        plan_top_gemm(DeviceInfo(8, 8, 1, 4, 4, 8, 8, 4096), 1, 1, 1)
    with pytest.raises(ConfigError, match="max_payload"):
        plan_top_gemm(DeviceInfo(8, 8, 1, 4, 8, 8, 8, 16), 1, 1, 1)
    with pytest.raises(ConfigError, match="dataflow"):
        plan_top_gemm(DeviceInfo(8, 8, 1, 4, 8, 8, 8, 4096), 1, 1, 1, "os")
    with pytest.raises(ConfigError, match="m=0"):
        plan_top_gemm(DeviceInfo(8, 8, 1, 4, 8, 8, 8, 4096), 0, 1, 1)


def test_map_gemm_picks_dataflow_per_layer_and_plans_the_top():
    target = SystolicTarget(8, 8, "auto")
    info = device_info(SystolicTarget(8, 8), int8, int32)
    flat = map_gemm(Gemm("decode.q", 1, 64, 64), target, info)
    assert flat.dataflow in ("is", "os") and flat.cycles == target.cycles(1, 64, 64, flat.dataflow)
    ws = map_gemm(Gemm("q", 32, 64, 64, batch=3), SystolicTarget(8, 8, "ws"), info)
    assert ws.cycles == 3 * SystolicTarget(8, 8).cycles(32, 64, 64) and ws.top.dataflow == "ws"
    assert 0 < ws.utilisation <= 1


def test_mixed_target_splits_phases_and_elementwise_passes():
    target = parse_target("prefill=systolic:8x8:ws,decode=pim:4ch")
    work = [Gemm("q", 16, 64, 64), Elementwise("ln", "layernorm", 1024, 8), Gemm("d", 1, 64, 64)]
    mapped = map_workloads(work, target)
    assert isinstance(mapped[0].target, SystolicTarget) and mapped[1] is work[1]
    assert isinstance(mapped[2].target, PimTarget)
    assert isinstance(map_workloads(work[:1], target, phase="decode")[0].target, PimTarget)


def test_layer_that_does_not_fit_pim_names_the_layer():
    with pytest.raises(ConfigError, match="layer big"):
        map_gemm(Gemm("big", 1, 4096, 4096), PimTarget(1))


@pytest.mark.parametrize("depths", [(64, 256, 256), (8, 40, 12), (16, 5, 64)])
def test_layout_cost_estimate_equals_the_built_plan(depths):
    """The mapper picks a layout from a closed-form cost; it must be the built plan's exact cost."""
    from hwgen.host.mapper import LINK_BYTES_PER_CYCLE, _chunkings, _cost, _plan

    info = DeviceInfo(4, 4, 1, 4, *depths, 1024)
    for m, k, n in [(1, 1, 1), (7, 33, 5), (40, 17, 9), (128, 64, 12)]:
        for chunk, resident in _chunkings(info, m, -(-k // 4)):
            plan = _plan(info, m, k, n, "ws", chunk, resident)
            t = plan.traffic()
            exact = plan.run_cycles() + (t["host_to_device"] + t["device_to_host"]) / LINK_BYTES_PER_CYCLE
            assert _cost(info, m, n, -(-k // 4), chunk, resident) == pytest.approx(exact), (m, k, n, chunk)


def test_auto_on_the_top_chooses_a_dataflow_it_can_program():
    target = SystolicTarget(16, 16, "auto")
    info = device_info(SystolicTarget(16, 16), int8, int32)
    bare = map_gemm(Gemm("q", 128, 384, 384), target)
    top = map_gemm(Gemm("q", 128, 384, 384), target, info)
    assert bare.dataflow == "os" and bare.top is None  # one cycle faster than ws on the bare array
    assert top.dataflow in ("ws", "is") and top.top.dataflow == top.dataflow
