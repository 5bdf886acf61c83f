"""Accumulation edge cases against exact Fraction sums: chunk sums rounded once, 1-D input, overflow."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from _reference import exact_code

from hwgen import emulation as emu
from hwgen.emulation import FloatFormat, FormatError, IntFormat, accumulate, dot, matmul

ORDERS = ("sequential", "pairwise", "chunked")
F32_SAT = FloatFormat("f32_sat", 8, 23, 127, "ieee", overflow="saturate")  # the generic (non-float32) path


def _code(fmt: FloatFormat, v: Fraction) -> int:
    return exact_code(fmt, v, fmt.rounding)


def _value(fmt: FloatFormat, code: int) -> Fraction:
    return Fraction(float(fmt.decode(np.array([code]), np.float64)[0]))


def ref_codes(p, acc: FloatFormat, order: str, chunk=None) -> list[int]:
    """Accumulator code after each full reduction of one vector, from exact rationals."""
    terms = [Fraction(float(v)) for v in p]

    def add(x: Fraction, y: Fraction) -> Fraction:
        return _value(acc, _code(acc, x + y))

    if order == "sequential":
        total = Fraction(0)
        for t in terms:
            total = add(total, t)
    elif order == "chunked":
        total = Fraction(0)
        for i in range(0, len(terms), chunk):
            total = add(total, sum(terms[i : i + chunk], Fraction(0)))
    else:
        level = terms
        if len(level) == 1:
            level = [add(Fraction(0), level[0])]
        while len(level) > 1:
            nxt = [add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        total = level[0]
    return _code(acc, total)


def codes_of(acc: FloatFormat, values: np.ndarray) -> np.ndarray:
    if values.dtype == np.float32:
        return values.view(np.uint32).astype(np.int64)
    return acc.encode(values).astype(np.int64)  # the values are acc values: encoding is exact


# --- item 1: a chunk's exact sum is rounded once ------------------------------------------


def test_chunk_sum_is_rounded_once_float32():
    got = accumulate(np.array([2.0**30, 2.0**6, 2.0**-32]), emu.float32, order="chunked", chunk=3)
    assert got.dtype == np.float32
    assert int(got.view(np.uint32)) == 0x4E800001  # 2**30 + 2**7: the exact sum is above the tie


@pytest.mark.parametrize(
    "acc",
    [emu.bfloat16, emu.float16, F32_SAT, replace(emu.bfloat16, rounding="nearest_away")],
    ids=lambda f: f"{f.name}-{f.rounding}",
)
def test_chunk_sum_is_rounded_once_generic(acc):
    # 2**t + 2**(t - p) is a tie of acc; the tiny third term decides it (lost in float64).
    t, p = 8, acc.man_bits + 1
    prods = np.array([2.0**t, 2.0 ** (t - p), 2.0 ** (t - p - 60)])
    got = accumulate(prods, acc, order="chunked", chunk=3)
    assert int(codes_of(acc, np.atleast_1d(got))[0]) == ref_codes(prods, acc, "chunked", 3)
    assert float(got) == 2.0**t + 2.0 ** (t + 1 - p)


@pytest.mark.parametrize("fmt", [emu.float8_e5m2, emu.bfloat16, emu.float16], ids=lambda f: f.name)
def test_chunked_matmul_rounds_each_chunk_once(fmt):
    a = np.array([[2.0**15, 2.0**3, 2.0**-16]])
    b = np.array([[2.0**15], [2.0**3], [2.0**-16]])
    assert np.array_equal(fmt.quantise(a), a) and np.array_equal(fmt.quantise(b), b)
    got = matmul(a, b, acc=emu.float32, order="chunked", chunk=3)
    assert int(got.view(np.uint32)[0, 0]) == 0x4E800001
    assert int(np.float32(dot(a[0], b[:, 0], order="chunked", chunk=3)).view(np.uint32)) == 0x4E800001


def _wide_operands(rng, shape, fmt, lo=None, hi=None):
    """Two arrays of fmt values log-uniform over [2**lo, 2**hi] (default: the format's whole range)."""
    lo = np.log2(fmt.min_subnormal) if lo is None else lo
    hi = np.log2(fmt.max_finite) if hi is None else hi
    x = fmt.quantise(rng.choice([-1.0, 1.0], shape) * np.exp2(rng.uniform(lo, hi, shape)))
    y = fmt.quantise(rng.choice([-1.0, 1.0], shape) * np.exp2(rng.uniform(lo, hi, shape)))
    return x, y


@pytest.mark.parametrize("chunk", [1, 2, 3, 8, 64])
@pytest.mark.parametrize(
    "acc",
    [
        emu.float32,
        F32_SAT,
        emu.bfloat16,
        emu.float16,
        replace(emu.bfloat16, rounding="toward_zero"),
        replace(emu.bfloat16, rounding="up"),
        replace(emu.float16, rounding="down"),
        replace(emu.float16, rounding="nearest_away"),
    ],
    ids=lambda f: f"{f.name}-{f.rounding}",
)
def test_chunked_against_exact_reference(acc, chunk):
    rng = np.random.default_rng(chunk)
    wide = acc.max_finite > 2.0**40  # float16 accumulators get data that cannot overflow them
    x, y = _wide_operands(rng, (6, 40), emu.float8_e5m2, None if wide else -12, None if wide else 3)
    p = x * y
    p[0, 20:] = -p[0, :20]  # exact cancellation
    p[1, ::2] = 2.0**30 if wide else 2.0**10  # ties everywhere with tiny remainders
    got = codes_of(acc, np.asarray(accumulate(p, acc, "chunked", chunk=chunk)))
    want = [ref_codes(row, acc, "chunked", chunk) for row in p]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "acc",
    [emu.float32, F32_SAT, emu.bfloat16, emu.float16, replace(emu.bfloat16, rounding="nearest_away")],
    ids=lambda f: f"{f.name}-{f.rounding}",
)
def test_chunk_sums_just_off_a_tie(acc):
    # One chunk per row: T + h is a tie of acc (h = half its spacing at T); e = +-2**-60 decides
    # it and is below float64 precision at T, so the chunk sum is not a float64 value.
    rng = np.random.default_rng(11)
    rows = 64
    t = 1.0 + rng.integers(0, 1 << acc.man_bits, rows) * 2.0**-acc.man_bits
    p = np.zeros((rows, 6))
    p[:, 0] = t * 2.0**10
    p[:, 1] = 2.0 ** (9 - acc.man_bits)
    p[:, 2] = rng.choice([-1.0, 1.0, 0.0], rows) * 2.0**-60
    p[:, 3:5] = [[3.0, -3.0]]  # cancels inside the chunk
    perm = rng.permuted(np.tile(np.arange(6), (rows, 1)), axis=1)
    p = np.take_along_axis(p, perm, axis=1)
    got = codes_of(acc, np.asarray(accumulate(p, acc, "chunked", chunk=6)))
    np.testing.assert_array_equal(got, [ref_codes(row, acc, "chunked", 6) for row in p])


@pytest.mark.parametrize("fmt", [emu.float8_e5m2, emu.bfloat16, emu.float16], ids=lambda f: f.name)
@pytest.mark.parametrize("acc", [emu.float32, emu.bfloat16], ids=lambda f: f.name)
def test_chunked_matmul_against_exact_reference(fmt, acc):
    rng = np.random.default_rng(3)
    a, _ = _wide_operands(rng, (5, 37), fmt, -16, 15)
    _, b = _wide_operands(rng, (37, 9), fmt, -16, 15)
    got = codes_of(acc, matmul(a, b, acc=acc, order="chunked", chunk=5))
    for i in range(5):
        for j in range(9):
            assert got[i, j] == ref_codes(a[i] * b[:, j], acc, "chunked", 5), (i, j)


@pytest.mark.parametrize("name", ["float8_e5m2", "bfloat16", "float16"])
def test_host_policy_chunk_order_reaches_the_exact_chunk_sum(name):
    from hwgen.host.ir_exec import GemmCall, emulate_gemm
    from hwgen.host.quant_policy import parse_policy

    q = parse_policy(f"w={name},a={name},acc=float32,order=chunk:3").default
    assert (q.order, q.chunk) == ("chunked", 3)
    fmt = emu.get_format(name)
    a = fmt.encode([[2.0**15, 2.0**3, 2.0**-16]])
    b = fmt.encode([[2.0**15], [2.0**3], [2.0**-16]])
    codes = emulate_gemm(GemmCall("t", a, b, fmt, fmt, q.acc, "exact", q.order, q.chunk))
    assert int(codes[0, 0]) == 0x4E800001
    # Narrow data takes the host's own float64 BLAS chunk kernel; it must agree too.
    rng = np.random.default_rng(0)
    a = fmt.encode(rng.standard_normal((4, 24)))
    b = fmt.encode(rng.standard_normal((24, 8)))
    codes = emulate_gemm(GemmCall("t", a, b, fmt, fmt, q.acc, "exact", q.order, q.chunk))
    av, bv = fmt.decode(a, np.float64), fmt.decode(b, np.float64)
    for i in range(4):
        for j in range(8):
            assert int(codes[i, j]) == ref_codes(av[i] * bv[:, j], emu.float32, "chunked", 3)


def test_chunk_of_infinities_and_nan():
    inf = np.inf
    p = np.array([[inf, 1.0, -inf], [inf, -3e38, -3e38], [-0.0, -0.0, -0.0], [np.nan, 1.0, 2.0]])
    got = accumulate(p, emu.bfloat16, "chunked", chunk=3)
    assert np.isnan(got[0]) and got[1] == inf and np.isnan(got[3])
    assert got[2] == 0 and not np.signbit(got[2])  # +0 + (-0) is +0
    got32 = accumulate(p.astype(np.float32), emu.float32, "chunked", chunk=3)
    assert np.isnan(got32[0]) and got32[1] == inf


# --- item 2: 1-D input in every order ------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "acc", [emu.bfloat16, emu.float32, F32_SAT, replace(emu.bfloat16, rounding="stochastic")], ids=lambda f: f.name
)
def test_one_dimensional_input(acc, order):
    p = np.array([2.0**30, 2.0**-32])
    got = accumulate(p, acc, order, chunk=2, rng=0)
    assert np.ndim(got) == 0
    if acc.rounding != "stochastic":
        assert int(codes_of(acc, np.atleast_1d(got))[0]) == ref_codes(p, acc, order, 2)
    p = np.array([2.0**8, 1.0, 2.0**-40, -(2.0**-60), 3.0])
    got = accumulate(p, acc, order, chunk=2, rng=0)
    if acc.rounding != "stochastic":
        assert int(codes_of(acc, np.atleast_1d(got))[0]) == ref_codes(p, acc, order, 2)
    assert accumulate(np.array([5.0]), acc, order, chunk=3, rng=0) == 5.0


# --- siblings: intermediate overflow, integer accumulators ----------------------------------


@pytest.mark.parametrize("order", ORDERS)
def test_float64_overflow_of_an_intermediate_sum_still_rounds_correctly(order):
    # 1e308 + 1e308 exceeds float64; toward zero it must still stop at max_finite.
    acc = replace(emu.bfloat16, rounding="toward_zero")
    got = accumulate(np.array([1e308, 1e308]), acc, order, chunk=2)
    assert got == acc.max_finite
    assert accumulate(np.array([1e308, 1e308]), emu.bfloat16, order, chunk=2) == np.inf


def ref_int(p, acc: IntFormat, order: str, chunk: int) -> int:
    """Saturating accumulation in Python ints (no width limit)."""

    def add(x: int, y: int) -> int:
        return max(acc.min_value, min(acc.max_value, x + y))

    terms = [int(v) for v in p]
    if order == "sequential":
        total = 0
        for t in terms:
            total = add(total, t)
        return total
    if order == "chunked":
        total = 0
        for i in range(0, len(terms), chunk):
            total = add(total, sum(terms[i : i + chunk]))
        return total
    while len(terms) > 1:
        terms = [add(terms[i], terms[i + 1]) for i in range(0, len(terms) - 1, 2)] + terms[len(terms) & ~1 :]
    return terms[0]


@pytest.mark.parametrize("chunk", [2, 4])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("bits", [32, 64])
def test_saturating_int_accumulator_never_wraps_int64(bits, order, chunk):
    acc = IntFormat(f"s{bits}", bits, overflow="saturate")
    for p in ([2**62, 2**62, 2**62, -5], [-(2**62), -(2**62), -(2**62), 5], [2**63 - 1, 1, -(2**63), -(2**63)]):
        got = accumulate(np.array(p, np.int64), acc, order, chunk=chunk)
        assert got == ref_int(p, acc, order, chunk), p


def test_integer_accumulator_refuses_products_beyond_int64():
    acc = IntFormat("s32", 32, overflow="saturate")
    with pytest.raises(FormatError, match="int64"):
        accumulate(np.array([2**63], np.uint64), acc)
    with pytest.raises(FormatError, match="int64"):
        accumulate(np.array([2.0**70]), acc)
    np.testing.assert_array_equal(accumulate(np.array([2**63 + 5], np.uint64), emu.int8), 5)  # wraps exactly


def test_saturating_integer_matmul_refuses_int64_overflow():
    a = np.array([[2**40]], np.int64)
    with pytest.raises(FormatError, match="int64"):
        matmul(a, a, acc=IntFormat("s32", 32, overflow="saturate"))
    assert matmul(a, a, acc=emu.int32)[0, 0] == 0  # wrapping: 2**80 = 0 (mod 2**32)


def test_scalar_operands_of_the_masked_kernels():
    # Same root cause as the 1-D accumulate TypeError: kernels assigning through masks got
    # NumPy scalars for 0-d input (float32 decode, L-Mul of formats wider than 8 bits).
    assert emu.float32.decode(np.uint32(0x3F800001), np.float64) == 1 + 2.0**-23
    for fmt in (emu.bfloat16, emu.float16):
        lm = emu.LMul(fmt)
        one, two = fmt.encode(1.0), fmt.encode(2.0)
        assert np.ndim(lm(one, two)) == 0
        assert lm(one, two) == lm(one[None], two[None])[0]


def test_exact_accumulator_survives_float64_overflow_of_partial_sums():
    # math.fsum raises on an intermediate overflow; the exact sum is rounded once instead.
    assert accumulate(np.array([1e308, 1e308, -1e308]), "exact") == 1e308
    assert accumulate(np.array([1e308, 1e308]), "exact") == np.inf
    assert accumulate(np.array([-1e308, -1e308, 5.0]), "exact") == -np.inf
