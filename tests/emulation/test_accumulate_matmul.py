"""Accumulators, orders, matmul and dot against scalar Fraction references and naive loops."""

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from _reference import round_fraction

from hwgen import emulation as emu
from hwgen.emulation import FloatFormat, FormatError, IntFormat, LMul, accumulate, dot, matmul
from hwgen.emulation.ops import matmul_int

F32_SAT = FloatFormat("f32_sat", 8, 23, 127, "ieee", overflow="saturate")  # forces the generic path


def fp8_products(shape, seed, fmt=emu.float8_e4m3fn):
    rng = np.random.default_rng(seed)
    a = fmt.quantise(rng.standard_normal(shape) * 4)
    b = fmt.quantise(rng.standard_normal(shape) * 4)
    return a * b


def ref_accumulate(p, acc, order, chunk=None):
    """Scalar reference for one vector of products."""
    rnd = (lambda v: Fraction(int(v))) if isinstance(acc, IntFormat) else None

    def add(x, y):
        s = Fraction(x) + Fraction(y)
        if isinstance(acc, IntFormat):
            return Fraction(max(acc.min_value, min(acc.max_value, int(s))))
        return round_fraction(acc, s, acc.rounding)

    terms = [Fraction(float(v)) for v in p]
    if order == "sequential":
        total = Fraction(0)
        for t in terms:
            total = add(total, t)
        return total
    if order == "chunked":
        total = Fraction(0)
        for i in range(0, len(terms), chunk):
            total = add(total, sum(terms[i : i + chunk], Fraction(0)))
        return total
    level = terms
    if len(level) == 1:
        return add(0, level[0])
    while len(level) > 1:
        nxt = [add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    del rnd
    return level[0]


ACCS = [
    emu.bfloat16,
    emu.float16,
    emu.float8_e4m3fn,
    emu.float32,
    F32_SAT,
    replace(emu.bfloat16, rounding="toward_zero"),
    replace(emu.float16, rounding="nearest_away"),
]


@pytest.mark.parametrize("order", ["sequential", "pairwise", "chunked"])
@pytest.mark.parametrize("acc", ACCS, ids=lambda f: f"{f.name}-{f.rounding}")
def test_float_accumulators_match_reference(acc, order):
    p = fp8_products((6, 37), seed=len(order))
    if acc is emu.float8_e4m3fn:
        p = p / 64
    got = accumulate(p, acc, order, chunk=8)
    for r in range(p.shape[0]):
        want = ref_accumulate(p[r], acc, order, chunk=8)
        assert Fraction(float(got[r])) == want, (r, float(got[r]), float(want))


@pytest.mark.parametrize("order", ["sequential", "pairwise", "chunked"])
def test_saturating_int_accumulator(order):
    acc = IntFormat("acc8", 8, overflow="saturate")
    p = np.random.default_rng(0).integers(-60, 61, (20, 23))
    got = accumulate(p, acc, order, chunk=4)
    want = [ref_accumulate(row, acc, order, chunk=4) for row in p]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.int64))
    np.testing.assert_array_equal(accumulate(p, emu.int8, order, chunk=4), emu.int8.fit(p.sum(axis=1)))


def test_exact_accumulator_and_order_sensitivity():
    p = np.array([2.0**60, 1.0, -(2.0**60), 3.0])
    assert accumulate(p, "exact") == 4.0
    assert accumulate(p, emu.float32) == 3.0
    big = fp8_products((3, 1000), 4)
    np.testing.assert_array_equal(accumulate(big, "exact"), [math.fsum(r) for r in big])
    x = np.array([1.0] * 16 + [2.0**24])
    assert accumulate(x, emu.float32, "sequential") == 2.0**24 + 16
    assert accumulate(x[::-1].copy(), emu.float32, "sequential") == 2.0**24


def fp8_pair(m, k, n, seed, fmt=emu.float8_e4m3fn):
    rng = np.random.default_rng(seed)
    return fmt.quantise(rng.standard_normal((m, k)) * 8), fmt.quantise(rng.standard_normal((k, n)) * 8)


@pytest.mark.parametrize("n", [1, 2, 7, 8, 20, 300])
@pytest.mark.parametrize("fmt", [emu.float8_e4m3fn, emu.float8_e5m2], ids=lambda f: f.name)
def test_fp8_matmul_float32_sequential_bit_exact(fmt, n):
    a, b = fp8_pair(33, 150, n, 1, fmt)
    b[:, 0] = 1.0
    a[:, :64] = np.where(np.arange(64) % 2, 2.0**-9, 256.0)  # many float32 ties
    acc = np.zeros((33, n), np.float32)
    for k in range(150):  # the hardware: one float32 RNE addition per step
        acc = acc + a[:, k, None].astype(np.float32) * b[None, k, :].astype(np.float32)
    fast = matmul(a, b)
    np.testing.assert_array_equal(accumulate(a[:, :, None] * b[None], emu.float32, axis=1), acc)
    assert fast.dtype == np.float32
    np.testing.assert_array_equal(fast.view(np.uint32), acc.view(np.uint32))
    np.testing.assert_array_equal(matmul(a, b, acc=F32_SAT), acc)
    if n >= 8:  # order and rounding matter
        assert not np.array_equal(acc, (a @ b).astype(np.float32))
    np.testing.assert_array_equal(dot(a[0], b[:, 0]), acc[0, 0])


@pytest.mark.parametrize("order", ["sequential", "pairwise", "chunked"])
@pytest.mark.parametrize(
    "mul",
    ["exact", emu.bfloat16, LMul(emu.float8_e4m3fn), LMul(emu.float8_e4m3fn, "formula")],
    ids=["exact", "bf16-product", "lmul-int", "lmul-formula"],
)
def test_matmul_equals_accumulate_of_products(mul, order):
    a, b = fp8_pair(5, 45, 7, 2)
    got = matmul(a, b, mul=mul, acc=emu.bfloat16, order=order, chunk=8)
    for i in range(5):
        for j in range(7):
            if isinstance(mul, LMul):
                p = mul.values(a[i], b[:, j], dtype=np.float64)
            elif mul == "exact":
                p = a[i] * b[:, j]
            else:
                p = mul.quantise(a[i] * b[:, j])
            assert got[i, j] == accumulate(p, emu.bfloat16, order, chunk=8)


def test_matmul_exact_int_and_dot():
    a, b = fp8_pair(9, 300, 11, 3)
    exact = matmul(a, b, acc="exact")
    for i in range(9):
        for j in range(11):
            assert exact[i, j] == math.fsum(a[i] * b[:, j])
    ai = np.random.default_rng(0).integers(-128, 128, (7, 64))
    bi = np.random.default_rng(1).integers(-128, 128, (64, 5))
    np.testing.assert_array_equal(matmul(ai, bi, acc=emu.int32), matmul_int(ai, bi, emu.int32))
    sat = IntFormat("acc16", 16, overflow="saturate")
    got = matmul(ai, bi, acc=sat)
    for i in range(7):
        for j in range(5):
            assert got[i, j] == ref_accumulate(ai[i] * bi[:, j], sat, "sequential")
    assert dot([1.0, 2.0], [3.0, 4.0]) == np.float32(11.0)
    assert dot([100, 100, -100], [1, 1, 1], acc=IntFormat("s8", 8, overflow="saturate")) == 27


def test_matmul_stochastic_accumulator_reproducible():
    a, b = fp8_pair(4, 64, 4, 5)
    acc = replace(emu.bfloat16, rounding="stochastic")
    np.testing.assert_array_equal(matmul(a, b, acc=acc, rng=3), matmul(a, b, acc=acc, rng=3))


def test_bad_inputs():
    a, b = fp8_pair(3, 4, 5, 0)
    with pytest.raises(FormatError, match="do not chain"):
        matmul(a, a)
    with pytest.raises(FormatError, match="order"):
        matmul(a, b, order="tree")
    with pytest.raises(FormatError, match="chunk"):
        matmul(a, b, order="chunked")
    with pytest.raises(FormatError, match="acc"):
        matmul(a, b, acc="float32")
    with pytest.raises(FormatError, match="mul"):
        matmul(a, b, mul="lmul")
    with pytest.raises(FormatError, match="2-D numeric"):
        matmul(np.array(["a"]), b)
    with pytest.raises(FormatError, match="integer products"):
        accumulate([0.5, 1.0], emu.int8)
    with pytest.raises(FormatError, match="L-Mul operands"):
        matmul(a + 0.01, b, mul=LMul(emu.float8_e4m3fn))
    with pytest.raises(FormatError, match="exact in float32"):
        accumulate([1 + 2.0**-40], emu.float32)


def test_fp8_matmul_threaded_path_bit_exact():
    a, b = fp8_pair(97, 256, 512, 8)  # enough work for several threads
    acc = np.zeros((97, 512), np.float32)
    for k in range(256):
        acc += a[:, k, None].astype(np.float32) * b[None, k, :].astype(np.float32)
    np.testing.assert_array_equal(matmul(a, b).view(np.uint32), acc.view(np.uint32))


def test_chunked_float32_rounds_chunk_sums_that_do_not_fit_float32():
    # Each chunk's exact sum spans ~40 bits, so it is not a float32 value: the
    # accumulator must round acc + chunk once (the fast float32 path used to raise here).
    rng = np.random.default_rng(7)
    exps = rng.integers(-20, 20, size=(5, 64))
    p = np.ldexp(rng.choice([-1.0, 1.0], size=exps.shape) * (1 + rng.integers(0, 16, exps.shape) / 16), exps)
    got = accumulate(p, emu.float32, "chunked", chunk=8)
    assert got.dtype == np.float32
    for r in range(p.shape[0]):
        assert Fraction(float(got[r])) == ref_accumulate(p[r], emu.float32, "chunked", chunk=8)
