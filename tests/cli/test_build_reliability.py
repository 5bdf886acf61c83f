"""Build folders: a manifest rebuilds its design, a folder holds one build, synth options are checked first."""

import json

import pytest

from hwgen.emulation.units import UNITS

#: Small designs of every architecture (the same list as test_cli's build-and-lint test).
SMALL = {
    "systolic": ["--rows", "2", "--cols", "2"],
    "bitslice": [],
    "addertree": ["--lanes", "2", "--rows", "2"],
    "lmul": ["--in-fmt", "float8_e5m2"],
    "fp-mac": ["--in-fmt", "bfloat16"],
    "sparse-dsp": ["--length", "8", "--sparse-modes", "2:4"],
    "pim": ["--banks", "2", "--rows", "4", "--cols", "4", "--lanes", "2", "--dtype", "bfloat16", "--acc", "float32"],
    "top": ["--rows", "2", "--cols", "2", "--link", "stream"],
}


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_small_designs_cover_every_architecture():
    assert set(SMALL) == set(UNITS)


@pytest.mark.parametrize("arch", list(SMALL))
def test_manifest_rebuilds_the_same_design(hwgen, tmp_path, arch):
    first, second = tmp_path / "first", tmp_path / "second"
    status, _, err = hwgen("build", "--arch", arch, *SMALL[arch], "--no-lint", "--out", first)
    assert status == 0, err
    built = _manifest(first)
    assert built["arch"] == arch
    status, _, err = hwgen("build", "--config", first / "manifest.json", "--no-lint", "--out", second)
    assert status == 0, err
    again = _manifest(second)
    assert (again["arch"], again["top"], again["config"]) == (built["arch"], built["top"], built["config"])
    assert again["content_sha256"] == built["content_sha256"]
    assert (second / again["files"]["verilog"]).read_text() == (first / built["files"]["verilog"]).read_text()


def test_manifest_with_a_command_line_override(hwgen, tmp_path):
    status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", tmp_path / "a")
    assert status == 0, err
    status, _, err = hwgen(
        "build", "--config", tmp_path / "a" / "manifest.json", "--cols", "3", "--no-lint", "--out", tmp_path / "b"
    )
    assert status == 0, err
    assert _manifest(tmp_path / "b")["top"] == "systolic_ws_2x3_int8_int32"


def test_manifest_of_one_arch_with_another_arch_option_is_an_error(hwgen, tmp_path):
    status, _, err = hwgen("build", "--arch", "bitslice", "--no-lint", "--out", tmp_path / "a")
    assert status == 0, err
    status, _, err = hwgen(
        "build", "--arch", "addertree", "--config", tmp_path / "a" / "manifest.json", "--out", tmp_path / "b"
    )
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "--arch addertree" in err and "bitslice" in err


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_build_folder_holds_one_build(hwgen, tmp_path):
    out = tmp_path / "o"
    status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", out)
    assert status == 0, err
    (out / "notes.txt").write_text("mine")
    status, _, err = hwgen("build", "--arch", "addertree", "--rows", "2", "--lanes", "2", "--no-lint", "--out", out)
    assert status == 0, err
    top = _manifest(out)["top"]
    assert _files(out) == sorted([f"{top}.v", f"{top}.noattr.v", f"{top}.vlt", "manifest.json", "notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"


def test_rebuilding_the_same_design_keeps_its_files(hwgen, tmp_path):
    out = tmp_path / "o"
    for _ in range(2):
        status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", out)
        assert status == 0, err
    top = _manifest(out)["top"]
    assert _files(out) == sorted([f"{top}.v", f"{top}.noattr.v", f"{top}.vlt", "manifest.json"])


def test_an_edited_output_of_the_earlier_build_is_not_deleted(hwgen, tmp_path):
    out = tmp_path / "o"
    status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", out)
    assert status == 0, err
    old = out / _manifest(out)["files"]["verilog"]
    old.write_text(old.read_text() + "// my fix\n")
    before = _files(out)
    status, _, err = hwgen("build", "--rows", "3", "--cols", "2", "--no-lint", "--out", out)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"--out {out}" in lines[0] and old.name in lines[0]
    assert _files(out) == before and old.read_text().endswith("// my fix\n")


def test_a_manifest_hwgen_did_not_write_is_not_replaced(hwgen, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text('{"mine": true}\n')
    status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", out)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "manifest.json" in err
    assert _files(out) == ["manifest.json"] and "mine" in (out / "manifest.json").read_text()


def test_stale_names_outside_the_folder_are_never_deleted(hwgen, tmp_path):
    out, victim = tmp_path / "o", tmp_path / "victim.v"
    victim.write_text("keep me")
    status, _, err = hwgen("build", "--rows", "2", "--cols", "2", "--no-lint", "--out", out)
    assert status == 0, err
    manifest = _manifest(out)
    manifest["files"]["verilog"] = "../victim.v"
    (out / "manifest.json").write_text(json.dumps(manifest))
    hwgen("build", "--rows", "3", "--cols", "2", "--no-lint", "--out", out)
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--family", "xilinx"], ["--family xilinx", "ice40, ecp5"]),
        (["--family", "ice40", "--device", "85k"], ["--device 85k", "up5k"]),
        (["--device", "nope"], ["--device nope", "85k"]),
        (["--freq", "1e400"], ["--freq inf", "MHz"]),
        (["--freq", "nan"], ["--freq nan", "MHz"]),
        (["--freq", "0"], ["--freq 0", "MHz"]),
        (["--freq", "-5"], ["--freq -5", "MHz"]),
    ],
)
def test_bad_synth_option_is_refused_before_anything_is_written(hwgen, tmp_path, args, names):
    status, out, err = hwgen("synth", "--rows", "2", "--cols", "2", *args, "--out", tmp_path / "o")
    assert status == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.synth
def test_synthesis_reports_go_with_the_design_they_describe(hwgen, tmp_path):
    out = tmp_path / "o"
    status, _, err = hwgen("synth", "--rows", "1", "--cols", "1", "--no-pnr", "--out", out)
    assert status == 0, err
    synth = _manifest(out)["synthesis"]["ecp5"]
    assert synth["work"] == "synth_ecp5" and "yosys.log" in synth["files"]
    (out / "synth_ecp5" / "mine.txt").write_text("mine")
    status, _, err = hwgen("build", "--rows", "1", "--cols", "1", "--no-lint", "--out", out)
    assert status == 0, err
    assert _manifest(out)["synthesis"]["ecp5"] == synth  # the same Verilog: its synthesis still holds
    status, _, err = hwgen("build", "--rows", "2", "--cols", "1", "--no-lint", "--out", out)
    assert status == 0, err
    assert "synthesis" not in _manifest(out)
    assert [p.name for p in (out / "synth_ecp5").iterdir()] == ["mine.txt"]
