"""Programs on the accelerator top's golden model reproduce ``matmul_int`` bit for bit, ragged edges included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwgen.emulation import bfloat16, float8_e4m3fn, float32, int8, int32
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.fp_mac_model import fp_dot
from hwgen.emulation.isa import DeviceInfo, Status, decode_command
from hwgen.emulation.ops import matmul_int
from hwgen.host.mapper import plan_top_gemm
from hwgen.host.program import ProgramError, emit_program, model_executor, run_program


def _run(info, m, k, n, flow, seed, value=int8, acc=int32):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (k, n))
    mapping = plan_top_gemm(info, m, k, n, flow)
    program = emit_program(mapping, value.encode(a), value.encode(b), value)
    model = AcceleratorModel(info, value, acc, run_cycles=lambda rows: run_cycles(info, rows))
    return a, b, program, run_program(program, model_executor(model))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    m=st.integers(1, 30),
    k=st.integers(1, 30),
    n=st.integers(1, 30),
    depths=st.tuples(st.integers(0, 40), st.integers(1, 40), st.integers(1, 40)),
    payload_words=st.integers(1, 9),
    flow=st.sampled_from(["ws", "is"]),
    seed=st.integers(0, 2**16),
)
def test_int8_program_is_bit_exact(rows, cols, m, k, n, depths, payload_words, flow, seed):
    """Random arrays, scratchpad depths (down to one word) and payload limits (split WRITE/READ)."""
    w_depth = rows + depths[0]
    max_payload = 6 + payload_words * 4 * max(rows, cols)
    info = DeviceInfo(rows, cols, 1, 4, w_depth, depths[1], depths[2], max_payload)
    a, b, program, result = _run(info, m, k, n, flow, seed)
    expected = int32.encode(matmul_int(a, b, int32)).astype(np.int64)
    np.testing.assert_array_equal(result.codes, expected)
    assert result.run_cycles == program.predicted_run_cycles()
    for payload in program.payloads:
        assert len(payload) <= max_payload


def test_int32_wraps_across_k_tiles():
    info = DeviceInfo(64, 2, 1, 4, 128, 64, 64, 4096)
    m, k, n = 2, 140000, 2  # k * 128 * 128 > 2**31: the sum wraps, and must wrap the same way
    a, b = np.full((m, k), -128), np.full((k, n), -128)
    mapping = plan_top_gemm(info, m, k, n)
    model = AcceleratorModel(info, int8, int32)
    result = run_program(emit_program(mapping, int8.encode(a), int8.encode(b), int8), model_executor(model))
    expected = matmul_int(a, b, int32)
    assert expected.min() < 0  # wrapped
    np.testing.assert_array_equal(result.codes, int32.encode(expected))


@pytest.mark.parametrize("fmt", [float8_e4m3fn, bfloat16])
@pytest.mark.parametrize("flow", ["ws", "is"])
def test_float_single_k_tile_matches_fp_dot(fmt, flow):
    """One K-tile (k <= rows): each output is fp_dot of its row and column; -0 padding changes nothing."""
    rng = np.random.default_rng(3)
    info = DeviceInfo(8, 4, fmt.width // 8, 4, 16, 32, 32, 512, fmt.name)
    m, k, n = 5, 6, 7
    a_codes = fmt.encode(rng.normal(size=(m, k))).astype(np.int64)
    b_codes = fmt.encode(rng.normal(size=(k, n))).astype(np.int64)
    model = AcceleratorModel(info, fmt, float32)
    mapping = plan_top_gemm(info, m, k, n, flow)
    result = run_program(emit_program(mapping, a_codes, b_codes, fmt), model_executor(model))
    rows = np.broadcast_to(a_codes[:, None, :], (m, n, k))
    cols = np.broadcast_to(b_codes.T[None], (m, n, k))
    expected = fp_dot(np.ascontiguousarray(rows), np.ascontiguousarray(cols), fmt, float32)
    np.testing.assert_array_equal(result.codes, expected)


def test_frames_decode_to_payloads():
    info = DeviceInfo(4, 4, 1, 4, 16, 16, 16, 64)
    _, _, program, _ = _run(info, 5, 6, 7, "ws", 0)
    frames = program.frames(first_seq=250)
    assert [decode_command(f) for f in frames] == [((250 + i) % 256, p) for i, p in enumerate(program.payloads)]


def test_bad_status_and_bad_operands_raise():
    info = DeviceInfo(4, 4, 1, 4, 16, 16, 16, 64)
    mapping = plan_top_gemm(info, 2, 3, 4)
    program = emit_program(mapping, np.zeros((2, 3), int), np.zeros((3, 4), int), int8)
    with pytest.raises(ProgramError, match="status 0x02"):
        run_program(program, lambda payloads: [(Status.BAD_ARGS, b"")] * len(payloads))
    with pytest.raises(ValueError, match=r"allowed: \(2, 3\) @ \(3, 4\)"):
        emit_program(mapping, np.zeros((3, 3), int), np.zeros((3, 4), int), int8)
    with pytest.raises(ValueError, match=r"codes outside 0\.\.255"):
        emit_program(mapping, np.full((2, 3), 256), np.zeros((3, 4), int), int8)
