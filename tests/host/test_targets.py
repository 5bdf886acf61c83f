"""Target parsing, and the targets' cycles: their units' models, never restated."""

import itertools

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.bitslice_plan import BitSliceConfig, plan_fusion_gemm
from hwgen.emulation.units.sparse_dsp_plan import gemv_cycles, latency
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import plan_gemm
from hwgen.host.targets import (
    BitSliceTarget,
    MixedTarget,
    PimTarget,
    SparseTarget,
    SystolicTarget,
    parse_target,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("systolic:16x16:ws", SystolicTarget(16, 16, "ws")),
        ("systolic:8x4", SystolicTarget(8, 4, "ws")),
        ("SYSTOLIC:4x4:auto", SystolicTarget(4, 4, "auto")),
        ("bitslice:4x2", BitSliceTarget(4, 2)),
        ("bitslice:2x2:unsigned", BitSliceTarget(2, 2, "unsigned")),
        ("sparse:16:2:4", SparseTarget(16, 2, 4)),
        ("sparse:16", SparseTarget(16, 1, 1)),
        ("pim:16ch", PimTarget(16, 16)),
        ("pim:4ch:8b", PimTarget(4, 8)),
        ("prefill=systolic:16x16:ws,decode=pim:16ch", MixedTarget(SystolicTarget(16, 16), PimTarget(16))),
    ],
)
def test_parse(text, expected):
    assert parse_target(text) == expected
    assert parse_target(str(expected)) == expected  # str() round-trips


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tpu:4x4", "target"),
        ("systolic:16", "target"),
        ("systolic:4x4:xs", "dataflow"),
        ("systolic:65x4", "rows"),
        ("sparse:16:3:4", "sparse_modes"),
        ("pim:16", "target"),
        ("pim:0ch", "channels"),
        ("prefill=systolic:4x4", "target"),
        ("prefill=systolic:4x4,prefill=pim:1ch", "target"),
    ],
)
def test_bad_text_names_the_field(text, field):
    with pytest.raises(ConfigError) as err:
        parse_target(text)
    assert err.value.field == field
    if field == "target":
        assert "systolic:RxC" in str(err.value) and "pim:Cch" in str(err.value)


SHAPES = [(m, k, n) for m, k, n in itertools.product((1, 3, 8, 17), (1, 5, 16, 33), (1, 4, 9, 40))]


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (4, 4), (3, 5), (8, 2)])
@pytest.mark.parametrize("flow", ["ws", "is", "os"])
def test_systolic_cycles_match_dataflow_model(rows, cols, flow):
    target = SystolicTarget(rows, cols, flow)
    cfg = ArrayConfig(rows=rows, cols=cols, dataflow=flow)
    for m, k, n in SHAPES:
        assert target.cycles(m, k, n) == plan_gemm(cfg, m, k, n).cycles(), (m, k, n)


def test_auto_picks_fastest_and_prefers_is_for_flat_decode():
    target = SystolicTarget(16, 16, "auto")
    for m, k, n in SHAPES:
        best = min(target.cycles(m, k, n, f) for f in ("ws", "is", "os"))
        assert target.cycles(m, k, n, target.pick_dataflow(m, k, n)) == best
    # A flat decode GEMV streams one row per weight tile in ws: auto leaves ws for it.
    assert target.pick_dataflow(1, 384, 1536) != "ws"
    assert target.cycles(1, 384, 1536, "is") < 0.7 * target.cycles(1, 384, 1536, "ws")
    assert SystolicTarget(16, 16, "is").pick_dataflow(128, 384, 384) == "is"  # a fixed dataflow stays


def test_bitslice_cycles_match_fusion_plan():
    for rows, cols in ((2, 2), (4, 3)):
        target, cfg = BitSliceTarget(rows, cols), BitSliceConfig(rows=rows, cols=cols)
        for (m, k, n), bits in itertools.product(SHAPES[::5], ((8, 8), (4, 4), (2, 8))):
            assert target.cycles(m, k, n, *bits) == plan_fusion_gemm(cfg, m, k, n, bits[1], bits[0]).cycles


@pytest.mark.parametrize(("length", "nm"), [(16, (1, 1)), (16, (2, 4)), (8, (1, 8))])
def test_sparse_cycles_match_chain_model(length, nm):
    target = SparseTarget(length, *nm)
    cfg = target.config_for()
    mode = 0 if target.dense else 1
    for _, k, n in SHAPES:
        assert target.cycles(1, k, n) == gemv_cycles(cfg, n, k, mode)
        beats = gemv_cycles(cfg, n, k, mode) - latency(cfg)
        assert target.cycles(3, k, n) == 3 * beats + latency(cfg)  # GEMVs stream back to back


def test_pim_cycles_and_fit():
    target = PimTarget(2)
    assert target.cycles(2, 64, 32) == 2 * target.cycles(1, 64, 32) > 0
    with pytest.raises(ConfigError):
        PimTarget(1).cycles(1, 1536, 4096)  # 4096 rows of W do not fit one channel's banks
    assert np.isfinite(target.peak_macs_per_cycle())


def test_systolic_cycles_of_random_shapes_are_the_units():
    """The target asks the registered unit; the fast recurrence itself is tested in tests/emulation."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        r, c, m, k, n = (int(v) for v in rng.integers(1, 40, 5))
        for flow in ("ws", "is", "os"):
            want = get_unit("systolic").cycles(ArrayConfig(r, c, flow), m, k, n)
            assert SystolicTarget(r, c, flow).cycles(np.int64(m), k, n) == want


def test_target_bounds_are_the_unit_configs():
    from hwgen.emulation.units.systolic_config import MAX_DIM

    assert SystolicTarget(MAX_DIM, MAX_DIM).pes == MAX_DIM**2
    with pytest.raises(ConfigError, match=rf"rows={MAX_DIM + 1} is not allowed"):
        SystolicTarget(MAX_DIM + 1, 4)
    with pytest.raises(ConfigError, match=r"cols=17 is not allowed; allowed: an integer from 1 to 16"):
        BitSliceTarget(4, 17)
