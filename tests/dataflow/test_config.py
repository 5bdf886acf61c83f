"""ArrayConfig validation and loading."""

import json

import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.systolic_config import ArrayConfig


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0),
        ("rows", 65),
        ("cols", -1),
        ("rows", 2.0),
        ("rows", True),
        ("dataflow", "os2"),
        ("dtype", "int7x"),
        ("acc", "int16"),
        ("arch", "nope"),
    ],
)
def test_bad_field_is_named_with_what_is_allowed(field, value):
    with pytest.raises(ConfigError) as info:
        ArrayConfig(**{field: value})
    assert info.value.field == field
    assert info.value.value == value
    assert "allowed" in str(info.value)


@pytest.mark.parametrize("dims", [(1, 1), (64, 64), (3, 17)])
def test_sizes_1_to_64_are_accepted(dims):
    cfg = ArrayConfig(rows=dims[0], cols=dims[1])
    assert cfg.top_name == f"systolic_ws_{dims[0]}x{dims[1]}_int8_int32"


def test_round_trip_through_json_and_toml(tmp_path):
    cfg = ArrayConfig(rows=4, cols=6)
    (tmp_path / "a.json").write_text(json.dumps(cfg.to_dict()))
    (tmp_path / "a.toml").write_text("rows = 4\ncols = 6\n")
    assert ArrayConfig.load(tmp_path / "a.json") == cfg
    assert ArrayConfig.load(tmp_path / "a.toml") == cfg


def test_unknown_key_and_bad_file_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="colums"):
        ArrayConfig.from_dict({"colums": 3})
    (tmp_path / "bad.toml").write_text("rows = = 3")
    with pytest.raises(ConfigError, match="valid toml"):
        ArrayConfig.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="readable"):
        ArrayConfig.load(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        ArrayConfig.load(tmp_path / "cfg.yaml")


@pytest.mark.parametrize(
    ("fields", "bad", "allowed"),
    [
        ({"dtype": "float16", "acc": "float32"}, "dtype", "float8_e4m3fn"),
        ({"dtype": "float8_e4m3fn", "acc": "int32"}, "acc", "float32"),
        ({"dtype": "bfloat16", "acc": "bfloat16"}, "acc", "float32"),
        ({"dtype": "int8", "acc": "float32"}, "acc", "int32"),
        ({"dtype": "int8", "mul": "lmul"}, "mul", "exact"),
        ({"dtype": "float8_e5m2", "acc": "float32", "mul": "approx"}, "mul", "exact, lmul"),
    ],
)
def test_bad_float_combination_names_field_and_allowed(fields, bad, allowed):
    with pytest.raises(ConfigError) as info:
        ArrayConfig(**fields)
    assert info.value.field == bad
    assert info.value.value == fields[bad]
    assert allowed in info.value.allowed


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "bfloat16"])
@pytest.mark.parametrize("mul", ["exact", "lmul"])
def test_float_configs_are_accepted_and_named_apart(dtype, mul):
    cfg = ArrayConfig(rows=3, cols=2, dataflow="is", dtype=dtype, acc="float32", mul=mul)
    assert cfg.is_float
    assert cfg.top_name == f"systolic_is_3x2_{dtype}_float32" + ("_lmul" if mul == "lmul" else "")
    assert (cfg.multiplier == "exact") == (mul == "exact")
    assert ArrayConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("fields", "bad", "allowed"),
    [
        ({"kind": "nope", "in_fmt": "float8_e4m3fn"}, "kind", "fp_mac, lmul"),
        ({"kind": "lmul", "in_fmt": "fp8"}, "in_fmt", "float8_e4m3fn"),
        ({"kind": "lmul", "in_fmt": "int8"}, "in_fmt", "bfloat16"),
        ({"kind": "fp_mac", "in_fmt": "float4_e2m1fn"}, "in_fmt", "float8_e5m2"),
        ({"kind": "fp_mac", "in_fmt": "float6_e2m3fn"}, "in_fmt", "float16"),
        ({"kind": "lmul", "in_fmt": "bfloat16", "acc_fmt": "fp32"}, "acc_fmt", "float32"),
        ({"kind": "lmul", "in_fmt": "bfloat16", "acc_fmt": "float8_e4m3fn"}, "acc_fmt", "float32"),
        ({"kind": "fp_mac", "in_fmt": "bfloat16", "policies": {"zero": "raw"}}, "policies", "lmul"),
        ({"kind": "lmul", "in_fmt": "bfloat16", "policies": {"zeros": "raw"}}, "policies", "subnormal"),
        ({"kind": "lmul", "in_fmt": "bfloat16", "policies": {"subnormal": "normalize"}}, "policies.subnormal", "flush"),
        ({"kind": "lmul", "in_fmt": "bfloat16", "policies": ["zero"]}, "policies", "overflow"),
    ],
)
def test_fp_pe_config_names_field_value_and_allowed(fields, bad, allowed):
    from hwgen.emulation.units.fp_pe_config import FpPEConfig

    with pytest.raises(ConfigError) as info:
        FpPEConfig(**fields)
    assert info.value.field == bad
    assert allowed in info.value.allowed


@pytest.mark.parametrize(
    ("field", "value"),
    [("slice_bits", 2.0), ("slice_bits", True), ("max_bits", 8.0), ("encoding", 5), ("acc", ["int32"]), ("unit", 1)],
)
def test_bitslice_config_rejects_wrong_types(field, value):
    from hwgen.emulation.units.bitslice_plan import BitSliceConfig

    with pytest.raises(ConfigError) as info:
        BitSliceConfig(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "value"), [("dtype", ["int8"]), ("acc", 32), ("mul", None), ("dataflow", 1), ("arch", ["systolic"])]
)
def test_array_config_rejects_wrong_types(field, value):
    with pytest.raises(ConfigError) as info:
        ArrayConfig(**{field: value})
    assert info.value.field == field


def test_load_reads_a_build_manifest(tmp_path):
    cfg = ArrayConfig(rows=3, cols=5, dtype="bfloat16", acc="float32", mul="lmul")
    manifest = {"hwgen": "0", "arch": "systolic", "config": cfg.to_dict(), "top": cfg.top_name, "ports": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert ArrayConfig.load(tmp_path / "manifest.json") == cfg
