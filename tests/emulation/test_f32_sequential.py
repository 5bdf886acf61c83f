"""The float32 sequential-K GEMM kernels against an explicit K loop, bit for bit."""

import numpy as np
import pytest

from hwgen import emulation as emu
from hwgen.emulation import f32_sequential
from hwgen.emulation.f32_sequential import kernel_is_sequential, matmul_f32_sequential


def explicit_loop(a, b):
    acc = np.zeros((a.shape[0], b.shape[1]), np.float32)  # the hardware starts from +0
    with np.errstate(all="ignore"):
        for k in range(a.shape[1]):
            acc = acc + a[:, k, None] * b[k]
    return acc


def fp8_operands(m, k, n, seed):
    rng = np.random.default_rng(seed)
    fmt = emu.float8_e4m3
    a = fmt.quantise(rng.standard_normal((m, k)) * rng.choice([2.0**-8, 1.0, 64.0], (m, k))).astype(np.float32)
    b = fmt.quantise(rng.standard_normal((k, n)) * 8).astype(np.float32)
    a[0, :] = -0.0  # row 0: all products -0, the sum from +0 stays +0
    a[1, 3], a[1, 5] = np.inf, np.nan
    a[2, 7], a[2, 9] = np.inf, -np.inf  # Inf - Inf = NaN
    b[7], b[9] = 1.0, 2.0
    return a, b


@pytest.mark.parametrize("kernel", ["_einsum_rows", "_reduce_rows"])
def test_kernels_pass_the_order_probe(kernel):
    assert kernel_is_sequential(getattr(f32_sequential, kernel))


def _reversed_k(a, b, out, r0, r1):
    np.einsum("ik,kn->in", np.ascontiguousarray(a[r0:r1, ::-1]), np.ascontiguousarray(b[::-1]), out=out[r0:r1])


def _float64_then_round(a, b, out, r0, r1):
    out[r0:r1] = (a[r0:r1].astype(np.float64) @ b).astype(np.float32)


def _blas(a, b, out, r0, r1):
    out[r0:r1] = a[r0:r1] @ b


@pytest.mark.parametrize("kernel", [_reversed_k, _float64_then_round, _blas])
def test_order_probe_rejects_other_orders(kernel):
    assert not kernel_is_sequential(kernel)


@pytest.mark.parametrize("einsum_ok", [True, False], ids=["einsum", "axis0-reduce"])
@pytest.mark.parametrize(
    ("m", "k", "n", "threads"),
    [(64, 256, 256, 2), (5, 37, 8, 1), (1, 1, 9, 2), (3, 0, 8, 1), (5, 300, 1, 1), (40, 300, 3, 2)],
)
def test_matmul_f32_sequential_equals_explicit_loop(monkeypatch, einsum_ok, m, k, n, threads):
    monkeypatch.setattr(f32_sequential, "einsum_is_sequential", lambda: einsum_ok)
    a, b = fp8_operands(max(m, 3), max(k, 10), n, seed=m + k + n)
    a, b = a[:m, :k], b[:k]
    got = matmul_f32_sequential(a, b, threads)
    want = explicit_loop(a, b)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    if m >= 3 and k >= 10:
        assert got.view(np.uint32)[0].tolist() == [0] * n  # +0, not -0
        assert np.isnan(got[2]).all()


def test_emulator_matmul_uses_it_for_fp8():
    a, b = fp8_operands(40, 300, 48, seed=9)
    want = explicit_loop(a, b)
    np.testing.assert_array_equal(emu.matmul(a, b).view(np.uint32), want.view(np.uint32))
    with np.errstate(invalid="ignore"):  # Inf - Inf in row 2
        one_rounding = (a.astype(np.float64) @ b).astype(np.float32)
    assert not np.array_equal(want, one_rounding, equal_nan=True)
