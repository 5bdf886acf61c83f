"""Quantisation policy text: formats, multipliers, orders, pruning, per-layer overrides, clear errors."""

import pytest

from hwgen.emulation import LMul, float8_e4m3fn, float32, int8, int32, mxfp4
from hwgen.emulation.errors import ConfigError
from hwgen.host.quant_policy import LayerQuant, lmul_format, parse_policy


def test_brief_example_parses():
    q = parse_policy("w=mxfp4,a=float8_e4m3fn,acc=float32,mul=lmul").default
    assert (q.w, q.a, q.acc, q.mul, q.order) == (mxfp4, float8_e4m3fn, float32, "lmul", "sequential")
    # Operands share the wider mantissa (e4m3: 3 bits) in float16's exponent range.
    assert q.lmul == LMul(lmul_format(3), "integer_add")


@pytest.mark.parametrize("text", [None, "", "float32", "none"])
def test_float32_reference_is_none(text):
    assert parse_policy(text) is None


def test_defaults_and_integer_accumulator():
    q = parse_policy("w=int8,a=int8").default
    assert (q.w, q.a, q.acc, q.mul) == (int8, int8, int32, "exact")
    assert parse_policy("w=float8_e4m3fn").default.acc == float32
    assert parse_policy("a=bfloat16,acc=exact").default.acc == "exact"


def test_order_nm_and_lmul_options():
    q = parse_policy("w=bfloat16,a=bfloat16,order=chunk:16,nm=2:4,mul=lmul-paper,lmul_m=4").default
    assert (q.order, q.chunk, q.nm) == ("chunked", 16, (2, 4))
    assert q.lmul == LMul(lmul_format(4), "formula")
    assert lmul_format(4).name == "float10_e5m4" and lmul_format(2).man_bits == 2
    assert parse_policy("order=pairwise").default.order == "pairwise"


def test_overrides_first_glob_wins_and_inherit_default():
    p = parse_policy("w=int8,a=int8; layer0.*: w=float8_e4m3fn,a=float8_e4m3fn; *.ffn.*: nm=2:4")
    assert p.for_layer("layer0.attn.q").w == float8_e4m3fn
    assert p.for_layer("layer0.attn.q").acc == float32  # re-derived for float operands
    assert p.for_layer("layer3.ffn.up").nm == (2, 4) and p.for_layer("layer3.ffn.up").acc == int32
    assert p.for_layer("layer3.attn.q") == p.default
    assert str(p).startswith("w=int8")


def test_describe_round_trips():
    q = parse_policy("w=mxfp4,a=float8_e5m2,acc=bfloat16,order=chunk:8,nm=1:4").default
    assert parse_policy(q.describe()).default == q
    assert isinstance(LayerQuant().describe(), str)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("w=float7", "mxfp4"),  # unknown format lists the allowed names
        ("q=int8", "lmul_m"),  # unknown key lists the keys
        ("mul=approx", "lmul-paper"),
        ("order=random", "chunk:W"),
        ("order=chunk:0", "chunk:W"),
        ("nm=4:2", "N:M"),
        ("acc=mxfp4", "exact"),
        ("w=float8_e4m3fn,a=float8_e4m3fn,acc=int32", "integer formats"),
        ("w=int8,a=int8,mul=lmul", "L-Mul needs floats"),
        ("lmul_m=9", "1..5"),
        ("w=int8; layer0 w=float8_e4m3fn", "key=value"),
        ("w=uint8", "signed"),
        ("w", "lmul_m"),
    ],
)
def test_bad_policies_name_what_is_allowed(text, needle):
    with pytest.raises(ConfigError) as exc:
        parse_policy(text)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)
