"""Hostile input at the rest of the host runtime's public API: workloads, mapper, program, executor, costs, decoder."""

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import float8_e4m3fn, float32, int8, int32
from hwgen.emulation.isa import DeviceInfo, Status
from hwgen.host.decoder import Decoder, DecoderConfig, decoder_graph
from hwgen.host.energy import EnergyBreakdown, mac_energy
from hwgen.host.ir_exec import GemmCall, emulate_gemm
from hwgen.host.mapper import device_info, map_gemm, map_workloads, plan_top_gemm
from hwgen.host.perf_model import elementwise_perf, gemm_perf, model_perf, totals
from hwgen.host.program import ProgramError, emit_program, model_executor, run_program
from hwgen.host.targets import SystolicTarget
from hwgen.host.workload import Elementwise, Gemm

_SYS = SystolicTarget(4, 4)
_INFO = DeviceInfo(4, 4, 1, 4, 16, 16, 16, 64)

# -- workload ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"m": 0},  # accepted: macs 0, then a ZeroDivisionError in the utilisation
        {"k": -4},
        {"n": 4.5},
        {"batch": 0},  # map_gemm gave 0 cycles
        {"batch": -2},  # negative cycles
        {"batch": 1.5},  # 25.5 cycles
        {"m": True},
        {"m": None},
        {"m": "4"},
        {"m": np.array(4)},
        {"m": 2**64},  # mapped: a 20-digit cycle count, then floats overflow in the cost model
        {"m": 10**400},
        {"name": None},
        {"name": ""},
        {"weight_static": "no"},  # truthy
    ],
)
def test_gemm_rejects_bad_fields(fields):
    args = {"name": "g", "m": 4, "k": 4, "n": 4, **fields}
    with pytest.raises(ConfigError, match="is not allowed"):
        Gemm(**args)


def test_gemm_takes_numpy_sizes_as_ints():
    g = Gemm("g", np.int64(4), 4, np.uint8(4), batch=np.int32(2), weight_static=np.True_)
    assert type(g.m) is int and type(g.n) is int and type(g.batch) is int and g.weight_static is True
    assert g == Gemm("g", 4, 4, 4, 2)


@pytest.mark.parametrize(
    "fields",
    [{"elements": 0}, {"elements": -1}, {"elements": 1.5}, {"elements": "8"}, {"elements": 10**400},
     {"ops_per_element": 0}, {"ops_per_element": True}, {"kind": None}, {"kind": ""}, {"name": 5}],
)  # fmt: skip
def test_elementwise_rejects_bad_fields(fields):
    args = {"name": "e", "kind": "add", "elements": 8, **fields}
    with pytest.raises(ConfigError, match="is not allowed"):
        Elementwise(**args)


# -- mapper --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: map_gemm(None, _SYS),  # AttributeError
        lambda: map_gemm(Gemm("g", 4, 4, 4), _SYS, info="zz"),  # AttributeError
        lambda: map_gemm(Gemm("g", 4, 4, 4), _SYS, phase="zz"),  # ignored
        lambda: map_workloads(None, _SYS),  # TypeError
        lambda: map_workloads([Gemm("g", 4, 4, 4), None], _SYS),  # AttributeError
        lambda: map_workloads("gemm", _SYS),
        lambda: plan_top_gemm(None, 4, 4, 4),  # AttributeError
        lambda: device_info(_SYS, int8, int32, depths=(1, 2)),  # ValueError from unpacking
        lambda: device_info(_SYS, int8, int32, depths=(-1, 16, 16)),  # a DeviceInfo with w_depth=-1
        lambda: device_info(_SYS, int8, int32, depths=(1.5, 16, 16)),
        lambda: device_info(_SYS, int8, int32, max_payload="x"),
        lambda: device_info(_SYS, int8, int32, max_payload=10**9),  # wider than the u16 field
        lambda: device_info(_SYS, None, int32),  # AttributeError
        lambda: device_info("systolic:4x4", int8, int32),
    ],
)
def test_mapper_rejects_bad_arguments(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


@pytest.mark.parametrize("shape", [(10**9, 4, 4), (4, 10**9, 4), (4, 4, 10**12)])
def test_plan_of_a_huge_gemm_is_refused_not_built(shape):
    """The step list of 10**9 runs was built in memory (a hang); the run count is checked first."""
    with pytest.raises(ConfigError, match="runs on this top"):
        plan_top_gemm(_INFO, *shape)
    with pytest.raises(ConfigError, match="runs on this top"):
        map_gemm(Gemm("g", *shape), _SYS, _INFO)


# -- program -------------------------------------------------------------------------------------------------------

_MAP = plan_top_gemm(_INFO, 2, 3, 4)
_A, _B = np.zeros((2, 3), np.int64), np.zeros((3, 4), np.int64)


@pytest.mark.parametrize(
    "call",
    [
        lambda: emit_program(_MAP, np.full((2, 3), 1.5), _B, int8),  # truncated to code 1
        lambda: emit_program(_MAP, np.full((2, 3), np.nan), _B, int8),
        lambda: emit_program(_MAP, np.full((2, 3), True), _B, int8),  # bools taken as code 1
        lambda: emit_program(_MAP, [["a"] * 3] * 2, _B, int8),  # ValueError from int()
        lambda: emit_program(_MAP, [[2**64] * 3] * 2, _B, int8),  # OverflowError
        lambda: emit_program(_MAP, [[1, 2, 3], [1]], _B, int8),  # ragged
        lambda: emit_program(None, _A, _B, int8),  # AttributeError
        lambda: emit_program(_MAP, _A, _B, None),  # AttributeError
        lambda: emit_program(_MAP, _A, np.full((3, 4), 65535), int32),  # 1-byte words: codes silently cut
        lambda: run_program(None, lambda p: []),  # AttributeError
        lambda: run_program(emit_program(_MAP, _A, _B, int8), None),  # TypeError
        lambda: emit_program(_MAP, _A, _B, int8).frames(1.5),  # struct.error
        lambda: emit_program(_MAP, _A, _B, int8).frames("0"),
        lambda: model_executor(None),  # AttributeError on the first call
    ],
)
def test_program_rejects_bad_arguments(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


@pytest.mark.parametrize(
    "answer",
    [
        lambda n: [(Status.OK, b"")] * n,  # struct.error on the RUN's cycle count
        lambda n: [None] * n,  # TypeError
        lambda n: [(Status.OK, "text")] * n,
    ],
)
def test_run_program_names_bad_responses(answer):
    program = emit_program(_MAP, _A, _B, int8)
    with pytest.raises(ProgramError, match="want"):
        run_program(program, lambda payloads: answer(len(payloads)))


# -- executor ------------------------------------------------------------------------------------------------------


def _call(a, b, fmt=int8, acc=int32, order="sequential", chunk=None):
    return GemmCall("g", a, b, fmt, fmt, acc, "exact", order, chunk)


_C = np.ones((4, 4), np.int64)


@pytest.mark.parametrize(
    "call",
    [
        None,  # AttributeError
        _call(np.ones((4, 3), np.int64), _C),  # matmul's gufunc error
        _call(np.ones(4, np.int64), _C),  # a 1-D operand silently became one row
        _call(np.ones((1, 4, 4), np.int64), np.ones((1, 4, 4), np.int64)),  # a 3-D result
        _call(_C, _C, float8_e4m3fn, float32, "chunked", 0),  # range() arg 3 must not be zero
        _call(_C, _C, float8_e4m3fn, float32, "chunked", 1.5),  # TypeError
        _call(_C, _C, float8_e4m3fn, float32, "chunked", True),
        GemmCall("g", _C, _C, None, int8, int32, "exact", "sequential"),  # AttributeError
    ],
)
def test_emulate_gemm_rejects_bad_calls(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        emulate_gemm(call)


# -- performance and energy models ---------------------------------------------------------------------------------

_LAYER = map_gemm(Gemm("g", 4, 4, 4), _SYS)


@pytest.mark.parametrize(
    "call",
    [
        *[lambda bw=bw: gemm_perf(_LAYER, None, bw) for bw in (float("nan"), 0, -1, float("inf"), True, "8", None)],
        lambda: gemm_perf(None),  # AttributeError
        lambda: gemm_perf(_LAYER, "int8"),  # AttributeError
        lambda: model_perf(None),  # TypeError
        lambda: model_perf([_LAYER, None]),
        lambda: model_perf([_LAYER], policy=5),
        lambda: totals(None),
        lambda: totals([None]),
        lambda: elementwise_perf(None),
        lambda: mac_energy(int8, int8, int32, "bogus"),  # priced as an L-Mul
        lambda: mac_energy(None, int8, int32),
        lambda: mac_energy(int8, int8, "zz"),
        lambda: EnergyBreakdown.of(float("nan"), 1.0, 1, 1),
        lambda: EnergyBreakdown.of(-1, 1.0, 1, 1),
        lambda: EnergyBreakdown.of("3", 1.0, 1, 1),  # kept as a string
    ],
)
def test_cost_models_reject_bad_arguments(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


# -- decoder -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"vocab": 10**12}, "vocab="),  # accepted; building a graph allocated 10**14 weights
        ({"vocab": 2**64}, "vocab="),
        ({"d_ff": 10**12}, "d_ff="),
        ({"max_positions": 10**12}, "max_positions="),
        ({"layers": 10**6}, "layers="),
        ({"d_model": 1 << 20, "heads": 1}, "weights="),  # each field in range, too many weights together
        ({"vocab": 1 << 20, "d_model": 4096, "heads": 1}, "weights="),
        ({"seed": 10**400}, "seed="),
    ],
)
def test_decoder_config_bounds_sizes(fields, name):
    with pytest.raises(ConfigError, match=name):
        DecoderConfig(**fields)


_TINY = DecoderConfig(vocab=16, d_model=8, heads=2, layers=1, d_ff=16, max_positions=8)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: decoder_graph(None), "cfg="),  # AttributeError
        (lambda: decoder_graph(DecoderConfig(), batch=10**9), "batch="),  # a graph of 10**9 x 512 logits
        (lambda: Decoder(None), "cfg="),  # accepted, AttributeError later
        (lambda: Decoder(_TINY, policy=5), "policy="),
        (lambda: Decoder(_TINY, gemm_hook=5), "gemm_hook="),
        (lambda: Decoder(_TINY).prefill(np.zeros((10**7, 1), np.int64)), "batch="),  # ran for minutes
    ],
)
def test_decoder_rejects_bad_arguments(call, name):
    with pytest.raises(ConfigError, match=name):
        call()
