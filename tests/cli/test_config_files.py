"""``hwgen build --config``: a bad file or value is one line and exit 2; the file's arch is the one built."""

import dataclasses
import json

import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import UNITS, make_config, type_name


def _one_line(status, err, *names):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hwgen: error: ")
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def _file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("name", "content", "names"),
    [
        ("bad.toml", b"rows = 4\n# \xff\xfe\n", ["UTF-8"]),
        ("bad.json", b'{"rows": "\xff"}', ["UTF-8"]),
        ("list.json", "[1, 2]", ["JSON object"]),
        ("number.json", "3", ["JSON object"]),
        ("null.json", "null", ["JSON object"]),
        ("deep.json", "[" * 100_000 + "]" * 100_000, ["nested"]),
        ("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000, ["nested"]),
        ("big.json", '{"rows": ' + "9" * 5000 + "}", ["digits"]),
        ("big.toml", "rows = " + "9" * 5000, ["digits"]),
        ("syntax.toml", "rows = = 3", ["valid toml"]),
    ],
)
def test_unreadable_config_file_is_one_line(hwgen, tmp_path, name, content, names):
    path = _file(tmp_path, name, content)
    status, _, err = hwgen("build", "--config", path, "--no-lint", "--out", tmp_path / "o")
    line = _one_line(status, err, f"--config {path}", *names)
    assert len(line) < 400
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('rows = "4"', ['rows = "4"', "an integer from 1 to 64"]),
        ("rows = true", ["rows = true", "an integer from 1 to 64"]),
        ("rows = 4.0", ["rows = 4.0", "an integer from 1 to 64"]),
        ("rows = [4]", ["rows = [4]", "an integer from 1 to 64"]),
        ("dtype = 8", ["dtype = 8", "int8"]),
        ('dtype = ["int8"]', ['dtype = ["int8"]', "int8"]),
        ("colums = 3", ["colums", "cols"]),
    ],
)
def test_wrongly_typed_value_in_file_is_one_line_naming_it(hwgen, tmp_path, content, names):
    path = _file(tmp_path, "cfg.toml", content)
    status, _, err = hwgen("build", "--config", path, "--no-lint", "--out", tmp_path / "o")
    _one_line(status, err, str(path), *names)


@pytest.mark.parametrize(
    ("arch", "content", "names"),
    [
        ("pim", "[timing]\nbogus = 1\n", ["timing.bogus", "tRCD"]),
        ("pim", "[timing]\ntRCD = 0\n", ["timing.tRCD = 0", "an integer from 1"]),
        ("pim", "[timing]\nrefresh = 1\n", ["timing.refresh = 1", "true or false"]),
        ("pim", "timing = 5\n", ["timing = 5", "tRCD"]),
        ("bitslice", "slice_bits = 2.0\n", ["slice_bits = 2.0", "1 or 2"]),
        ("sparse-dsp", "weight_bits = 8.0\n", ["weight_bits = 8.0", "8 or 4"]),
        ("sparse-dsp", "packed = 1\n", ["packed = 1", "true or false"]),
        ("sparse-dsp", "sparse_modes = [[true, 4]]\n", ["sparse_modes", "integer"]),
        ("top", 'clk_freq = "12e6"\n', ['clk_freq = "12e6"', "an integer"]),
        ("lmul", 'in_fmt = "fp8"\n', ['in_fmt = "fp8"', "float8_e4m3fn"]),
        ("lmul", 'kind = "fp_mac"\n', ['kind = "fp_mac"', "lmul"]),
        ("lmul", "[policies]\nzero = 1\n", ["policies.zero = 1", "exact, raw"]),
        ("fp-mac", '[policies]\nzero = "raw"\n', ["policies", "lmul"]),
    ],
)
def test_bad_value_of_any_architecture_in_file_is_one_line(hwgen, tmp_path, arch, content, names):
    path = _file(tmp_path, "cfg.toml", content)
    status, _, err = hwgen("build", "--arch", arch, "--config", path, "--no-lint", "--out", tmp_path / "o")
    _one_line(status, err, str(path), *names)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--arch", "lmul", "--in-fmt", "fp8"], ["--in-fmt fp8", "float8_e4m3fn, float8_e5m2"]),
        (["--arch", "lmul", "--in-fmt", "int8"], ["--in-fmt int8", "bfloat16"]),
        (["--arch", "lmul", "--in-fmt", "float4_e2m1fn"], ["--in-fmt float4_e2m1fn", "float8_e4m3fn"]),
        (["--arch", "lmul", "--acc-fmt", "fp32"], ["--acc-fmt fp32", "float32"]),
        (["--arch", "fp-mac", "--in-fmt", "float6_e2m3fn"], ["--in-fmt float6_e2m3fn", "float8_e5m2"]),
        (["--arch", "fp-mac", "--acc-fmt", "float8_e4m3fn"], ["--acc-fmt float8_e4m3fn", "float32"]),
    ],
)
def test_bad_fp_format_is_one_line_with_what_is_allowed(hwgen, tmp_path, args, names):
    status, _, err = hwgen("build", *args, "--no-lint", "--out", tmp_path / "o")
    _one_line(status, err, *names)
    assert not (tmp_path / "o").exists()


def _bad_values(f: dataclasses.Field) -> list:
    kind = type_name(f)
    return {
        "int": [True, 4.0, "4", [4], {"a": 1}],
        "str": [5, True, ["x"], {"a": 1}],
        "bool": [1, "yes", [True]],
        "dict": [5, "x", [1]],
    }.get(kind, [5.5, True])


def _field_cases():
    for arch in UNITS.values():
        for f in dataclasses.fields(arch.config):
            if f.name in arch.fixed or f.name == "arch":
                continue
            for value in _bad_values(f):
                yield pytest.param(arch.name, f.name, value, id=f"{arch.name}-{f.name}-{json.dumps(value)}")


@pytest.mark.parametrize(("arch", "field", "value"), list(_field_cases()))
def test_every_field_of_every_architecture_rejects_wrong_types(arch, field, value):
    with pytest.raises(ConfigError) as info:
        make_config(UNITS[arch], {field: value})
    assert info.value.field.split(".")[0] == field
    assert info.value.allowed


def test_arch_in_config_file_is_built(hwgen, tmp_path):
    path = _file(tmp_path, "pim.toml", 'arch = "pim"\nbanks = 2\nrows = 4\ncols = 4\n')
    status, _, err = hwgen("build", "--config", path, "--no-lint", "--out", tmp_path / "o")
    assert status == 0, err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["arch"] == "pim"
    assert manifest["config"]["rows"] == 4 and manifest["config"]["banks"] == 2
    assert not list((tmp_path / "o").glob("systolic*"))


def test_arch_in_file_and_a_different_arch_option_is_an_error(hwgen, tmp_path):
    path = _file(tmp_path, "pim.toml", 'arch = "pim"\nrows = 4\n')
    status, _, err = hwgen("build", "--arch", "systolic", "--config", path, "--no-lint", "--out", tmp_path / "o")
    _one_line(status, err, "--arch systolic", "pim", str(path))
    assert not (tmp_path / "o").exists()


def test_same_arch_in_file_and_option_is_fine(hwgen, tmp_path):
    path = _file(tmp_path, "pim.toml", 'arch = "pim"\nbanks = 2\nrows = 4\ncols = 4\n')
    status, _, err = hwgen("build", "--arch", "pim", "--config", path, "--no-lint", "--out", tmp_path / "o")
    assert status == 0, err


@pytest.mark.parametrize("content", ['arch = "nope"\n', "arch = 3\n"])
def test_unknown_arch_in_file_is_one_line(hwgen, tmp_path, content):
    path = _file(tmp_path, "cfg.toml", content)
    status, _, err = hwgen("build", "--config", path, "--no-lint", "--out", tmp_path / "o")
    _one_line(status, err, str(path), "systolic, bitslice")


def test_sim_with_a_pim_config_file_refuses_gemm_shapes(hwgen, tmp_path):
    path = _file(tmp_path, "pim.toml", 'arch = "pim"\nrows = 4\n')
    status, _, err = hwgen("sim", "--config", path, "--gemm", "2x2x2", "--work", tmp_path / "w")
    _one_line(status, err, "--gemm 2x2x2", "--arch pim")
