"""The L-Mul and FP-MAC units on mapped GEMM layers: golden and cycle models against the host, targets, errors."""

import numpy as np
import pytest

from hwgen.emulation import LMul, get_format
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import get_unit
from hwgen.emulation.units.fp_pe_config import LATENCY, FpPEConfig
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.targets import TARGET_FORMS, FpPETarget, parse_target
from hwgen.host.unit_layers import UnitBackend
from hwgen.sim.fp_pe_bench import corner_codes

F32 = get_format("float32")
FORMATS = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "bf16": "bfloat16"}
#: The (unit, format) pairs whose layers run on the PE (fp-mac:bf16 is refused, see below).
RUNNABLE = [("fp-mac", "e4m3"), ("fp-mac", "e5m2"), ("lmul", "e4m3"), ("lmul", "e5m2"), ("lmul", "bf16")]
ORDERS = [("sequential", None), ("chunked", 1)]


def same_codes(got, want) -> None:
    """Code for code; where the host's code is a NaN the PE's must be its canonical NaN (IEEE leaves the sign open)."""
    got, want = np.asarray(got, np.int64), np.asarray(want, np.int64)
    assert got.shape == want.shape
    nan = np.isnan(F32.decode(want.reshape(-1), np.float64)).reshape(want.shape)
    assert np.array_equal(got[~nan], want[~nan])
    assert np.all(got[nan] == F32.nan_code)


def random_codes(rng, fmt, shape, corner_prob: float) -> np.ndarray:
    codes = rng.integers(0, 1 << fmt.width, shape)
    corner = rng.random(shape) < corner_prob
    codes[corner] = rng.choice(corner_codes(fmt), int(corner.sum()))
    return codes


def call_for(unit: str, fmt_name: str, a, b, order="sequential", chunk=None, **over) -> GemmCall:
    fmt = get_format(FORMATS[fmt_name])
    mul = LMul(fmt) if unit == "lmul" else "exact"
    fields = {"a_format": fmt, "b_format": fmt, "acc_format": F32, "mul": mul, "order": order, "chunk": chunk}
    fields.update(over)
    return GemmCall("layer", np.asarray(a), np.asarray(b), **fields)


@pytest.mark.parametrize("order,chunk", ORDERS)
@pytest.mark.parametrize("corner_prob", [0.0, 0.3])
@pytest.mark.parametrize("unit,fmt_name", RUNNABLE)
def test_unit_equals_emulate_gemm(unit, fmt_name, corner_prob, order, chunk):
    fmt = get_format(FORMATS[fmt_name])
    rng = np.random.default_rng(hash((unit, fmt_name, corner_prob, order)) & 0xFFFF)
    for m, k, n in [(1, 1, 1), (3, 7, 4), (5, 24, 2), (2, 1, 6)]:
        call = call_for(
            unit,
            fmt_name,
            random_codes(rng, fmt, (m, k), corner_prob),
            random_codes(rng, fmt, (k, n), corner_prob),
            order,
            chunk,
        )
        backend = UnitBackend(parse_target(f"{unit}:{fmt_name}"))
        run = backend.run_layer(call)
        same_codes(run.codes, emulate_gemm(call))
        assert run.measured_cycles == run.predicted_cycles == [m * k * n + LATENCY]


@pytest.mark.parametrize("unit,fmt_name", RUNNABLE)
def test_every_corner_pair(unit, fmt_name):
    """Every pair of corner codes as a K = 2 dot product (so +0 + p, then a second rounding) against the host."""
    fmt = get_format(FORMATS[fmt_name])
    c = corner_codes(fmt)
    a = np.stack([np.repeat(c, c.size), np.full(c.size**2, int(fmt.encode(np.array([1.0]))[0]))], axis=1)
    b = np.stack([np.tile(c, c.size), np.roll(np.tile(c, c.size), 1)], axis=0)
    # Output (i, j) is a[i, 0] * b[0, j] + 1 * b[1, j]: every corner pair, then a second corner added.
    call = call_for(unit, fmt_name, a, b)
    run = UnitBackend(parse_target(f"{unit}:{fmt_name}")).run_layer(call)
    same_codes(run.codes, emulate_gemm(call))


def test_golden_returns_accumulator_values_with_signed_zero_and_canonical_nan():
    cfg = FpPEConfig("fp_mac", "float8_e4m3fn")
    a, b = np.array([[-0.0, 1.0]]), np.array([[1.0, -np.nan], [-0.0, 1.0]])
    values = get_unit("fp-mac").golden(cfg, a, b)
    # +0 + (-0 * 1) + (1 * -0) = +0 (RNE sums of zeros of both signs); -0 * NaN is the canonical NaN.
    assert values.dtype == np.float64 and values.shape == (1, 2)
    assert [int(c) for c in F32.encode(values.reshape(-1))] == [0, F32.nan_code]


def test_cycles_model_and_target():
    for unit in ("fp-mac", "lmul"):
        cfg = FpPEConfig(unit.replace("-", "_"), "float8_e5m2")
        assert get_unit(unit).cycles(cfg, 3, 5, 7) == 3 * 5 * 7 + LATENCY == 107
        target = parse_target(f"{unit}:e5m2")
        assert target.cycles(3, 5, 7) == 107
        assert target.pes == 1 and target.peak_macs_per_cycle() == 1


@pytest.mark.parametrize(
    "text,unit,fmt",
    [
        ("fp-mac:e4m3", "fp-mac", "float8_e4m3fn"),
        ("lmul:e5m2", "lmul", "float8_e5m2"),
        ("LMUL:BF16", "lmul", "bfloat16"),
    ],
)
def test_parse(text, unit, fmt):
    target = parse_target(text)
    assert isinstance(target, FpPETarget) and target.kind == unit
    assert target.config.in_fmt == fmt and target.config.acc_fmt == "float32"
    assert parse_target(str(target)) == target
    assert any(form.startswith("fp-mac:FMT") for form in TARGET_FORMS)


def test_mixed_target_parses():
    mixed = parse_target("prefill=lmul:e4m3,decode=fp-mac:e5m2")
    assert str(mixed.for_phase("decode")) == "fp-mac:e5m2"


@pytest.mark.parametrize("text", ["lmul", "lmul:", "lmul:e3m4", "fp-mac:e4m3:x", "fp_mac:e4m3", "lmul:float8_e4m3fn"])
def test_parse_rejects(text):
    with pytest.raises(ConfigError, match="fp-mac:FMT"):
        parse_target(text)


def test_direct_construction_names_bad_fields():
    with pytest.raises(ConfigError, match=r"fmt='fp16'.*e4m3, e5m2, bf16"):
        FpPETarget("lmul", "fp16")
    with pytest.raises(ConfigError, match=r"unit='mac'.*fp-mac, lmul"):
        FpPETarget("mac", "e4m3")


def _refused(target: str, call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_target(target).layer_unit(call)
    assert UnitBackend(parse_target(target)).gemm_hook(call) is None  # the emulator runs it instead


def test_refuses_other_formats():
    e4, e5 = get_format("float8_e4m3fn"), get_format("float8_e5m2")
    a, b = np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64)
    _refused("fp-mac:e4m3", call_for("fp-mac", "e5m2", a, b), "a=float8_e5m2, w=float8_e5m2.*float8_e4m3fn operands")
    _refused("fp-mac:e4m3", call_for("fp-mac", "e4m3", a, b, b_format=e5), "w=float8_e5m2")
    _refused("fp-mac:e4m3", call_for("fp-mac", "e4m3", a, b, acc_format=get_format("bfloat16")), "acc=bfloat16")
    _refused("lmul:e4m3", call_for("lmul", "e4m3", a, b, a_format=get_format("int8")), "a=int8")
    assert e4 != e5


def test_refuses_other_multipliers():
    a, b = np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64)
    e4 = get_format("float8_e4m3fn")
    _refused("fp-mac:e4m3", call_for("lmul", "e4m3", a, b), r"mul=LMul\(float8_e4m3fn\).*mul='exact'")
    _refused("lmul:e4m3", call_for("fp-mac", "e4m3", a, b), r"mul='exact'.*mul=LMul\(float8_e4m3fn\)")
    _refused("lmul:e4m3", call_for("lmul", "e4m3", a, b, mul=LMul(e4, overflow="inf")), "overflow='inf'")


@pytest.mark.parametrize("order,chunk", [("pairwise", None), ("chunked", 4)])
def test_refuses_orders_the_pe_does_not_compute(order, chunk):
    a, b = np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64)
    _refused("lmul:e4m3", call_for("lmul", "e4m3", a, b, order, chunk), "order=.*sequential, chunked with chunk 1")


def test_refused_orders_do_differ():
    """Pairwise and chunked K-sums round differently from the PE's sequential one (why they are refused)."""
    fmt = get_format("float8_e4m3fn")
    rng = np.random.default_rng(5)
    a, b = random_codes(rng, fmt, (8, 16), 0.0), random_codes(rng, fmt, (16, 8), 0.0)
    pe = UnitBackend(parse_target("fp-mac:e4m3")).run_layer(call_for("fp-mac", "e4m3", a, b)).codes
    for order, chunk in [("pairwise", None), ("chunked", 4)]:
        assert not np.array_equal(pe, emulate_gemm(call_for("fp-mac", "e4m3", a, b, order, chunk)))


def test_refuses_fp_mac_bf16_where_the_host_rounds_products():
    """The host rounds bf16 products to float32 when they may leave its range; the PE adds them unrounded."""
    bf16 = get_format("bfloat16")
    big = bf16.encode(np.array([2.0**100, -(2.0**100), 2.0**100]))
    a, b = big[None, :2], np.array([[big[2]], [big[2]]])  # 2**200 - 2**200
    call = call_for("fp-mac", "bf16", a, b)
    _refused("fp-mac:bf16", call, "fp-mac:e4m3 or fp-mac:e5m2")
    cfg = FpPEConfig("fp_mac", "bfloat16")
    pe = F32.encode(get_unit("fp-mac").golden(cfg, bf16.decode(a, np.float64), bf16.decode(b, np.float64)).reshape(-1))
    assert int(pe[0]) == F32.inf_code and int(emulate_gemm(call)[0, 0]) != F32.inf_code


def test_integer_layers_still_run():
    i8, i32 = get_format("int8"), get_format("int32")
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 256, (3, 9)), rng.integers(0, 256, (9, 5))
    call = GemmCall("int", a, b, i8, i8, i32, "exact", "sequential")
    run = UnitBackend(parse_target("addertree:2x4")).run_layer(call)
    assert np.array_equal(run.codes, np.asarray(emulate_gemm(call), np.int64))
    assert run.measured_cycles == run.predicted_cycles
