"""``hwgen run``, ``report`` and ``fpga build``: every bad value is one line and exit 2, before any long work.

Each case here printed a traceback, ran on a silent default, or failed only after the
whole per-layer table (issue 12, items 6-8).
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from hwgen.cli.main import main

_RUN_ERRORS = [
    # silent defaults
    (["--tokens", "0", "--no-run"], ("--tokens 0", ">= 1")),
    (["--columns", "0", "--layer", "layer0.attn.q"], ("--columns 0", ">= 1")),
    (["--columns", "5"], ("--columns 5", "only with --layer")),
    (["--layer", "", "--text", "hi"], ("--layer ''", "layer name")),
    (["--formats", ",,,", "--no-run"], ("--formats", "key=value")),
    (["--formats", "w=int8,,a=int8", "--no-run"], ("--formats", "one is empty")),
    (["--formats", "w=int8,w=float8_e4m3fn", "--no-run"], ("--formats", "policy key=w", "once")),
    (["--formats", "w=int8,a=int8; layer9*: w=int4", "--no-run"], ("--formats layer9*", "matches a layer")),
    (["--phase", "decode", "--no-run"], ("--phase decode", "only with --model decoder")),
    (["--model", "decoder", "--context", "5", "--phase", "prefill", "--no-run"], ("--context 5", "--phase decode")),
    (["--model", "decoder", "--text", "hi", "--no-run"], ("--text", "only with --model minilm")),
    (["--simulator", "icarus"], ("--simulator icarus", "only with --backend rtl")),
    (["--programs", "--backend", "device", "--device", "emulated://"], ("--programs", "--backend emulator")),
    (["--device", "emulated://"], ("--device emulated://", "only with --backend device")),
    (["--no-run", "--layer", "layer0.attn.q"], ("--layer layer0.attn.q", "--no-run")),
    (["--text", "   "], ("--text '   '", "non-blank")),
    (["--bandwidth", "inf", "--no-run"], ("--bandwidth inf", "finite")),
    (["--bandwidth", "nan", "--no-run"], ("--bandwidth nan", "finite")),
    (["--model", "decoder", "--tokens", "254"], ("--tokens 254", "max_positions=256")),
    (["--model", "decoder", "--tokens", "257", "--no-run"], ("--tokens 257", "max_positions=256")),
    (["--model", "decoder", "--context", "256", "--no-run"], ("256", "max_positions=256")),
    # tracebacks
    (["--backend", "rtl", "--simulator", "bogus", "--layer", "layer0.attn.q"], ("--simulator bogus", "verilator")),
    (
        ["--backend", "device", "--device", "serial:///dev/hwgen-no-such-port", "--layer", "layer0.attn.q"],
        ("--device serial:///dev/hwgen-no-such-port", "can be opened"),
    ),
    (["--json", "/proc/hwgen/run.json", "--no-run"], ("--json /proc/hwgen/run.json", "writable")),
    (["--json", "", "--no-run"], ("--json ''", "file path")),
    # errors inside --target and --formats name the option that carried them
    (["--target", "systolic:0x4", "--no-run"], ("--target systolic:0x4 (rows=0)", "1 to 64")),
    (["--formats", "w=int9", "--no-run"], ("--formats w=int9 (format=int9)", "int8")),
]


@pytest.mark.parametrize(("argv", "words"), _RUN_ERRORS, ids=[" ".join(a) for a, _ in _RUN_ERRORS])
def test_run_rejects_before_any_output(capsys, argv, words):
    assert main(["run", *argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith("hwgen: error:"), err
    for word in words:
        assert word in err, err
    assert "total" not in captured.out, "the per-layer table was printed before the error"


def test_sentences_file_that_is_not_utf8(capsys, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    assert main(["run", "--sentences", str(path), "--no-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "UTF-8" in err and "byte 3" in err and err.count("\n") == 0


def test_unknown_layer_fails_before_the_table(capsys):
    assert main(["run", "--layer", "nosuch", "--text", "hi"]) == 2
    captured = capsys.readouterr()
    assert "--layer nosuch" in captured.err and "layer0.attn.q" in captured.err
    assert captured.out == ""


def test_json_is_checked_before_the_run_and_left_absent(capsys, tmp_path):
    folder = tmp_path / "is_a_folder"
    folder.mkdir()
    assert main(["run", "--json", str(folder), "--no-run"]) == 2
    assert "not a folder" in capsys.readouterr().err
    good = tmp_path / "new.json"
    assert main(["run", "--json", str(good), "--no-run", "--tokens", "4"]) == 0
    assert good.read_text().startswith("{")


def test_tokens_given_is_used_not_a_default(capsys):
    assert main(["run", "--no-run", "--tokens", "3"]) == 0
    assert "MiniLM-L6, 3 tokens" in capsys.readouterr().out


def test_report_rejects_bad_tokens_and_empty_folders(capsys, tmp_path):
    for argv, word in (
        (["--tokens", "0"], "--tokens 0"),
        (["--fidelity", ""], "--fidelity ''"),
        (["--formats", "w=int8,w=int8"], "--formats"),
    ):
        assert main(["report", "--out", str(tmp_path / "r"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert word in err and err.count("\n") == 0, err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--baud", "1"], ("--baud 1", "300..")),
        (["--baud", "2500000"], ("--baud 2500000", "4.0% off")),  # 12 MHz / 5 = 2.4 MBd
        (["--seed", "-1"], ("--seed -1", "0 to 2147483647")),
        (["--seed", "1" + "0" * 400], ("--seed 1000", "characters)", "0 to 2147483647")),
    ],
)
def test_fpga_build_rejects_before_place_and_route(capsys, tmp_path, argv, words):
    start = time.monotonic()
    assert main(["fpga", "build", "--board", "icebreaker", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    for word in words:
        assert word in err, err
    assert time.monotonic() - start < 10 and not (tmp_path / "o").exists()


def test_unexpected_error_is_one_line_not_a_traceback(capsys, monkeypatch):
    import hwgen.cli.main as cli_main

    def broken(argv):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli_main, "_dispatch", broken)
    monkeypatch.delenv("HWGEN_DEBUG", raising=False)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "internal error: RuntimeError: boom second line" in err


def test_huge_integer_value_is_shown_short(capsys):
    from hwgen.cli.main import config_message
    from hwgen.emulation.errors import ConfigError

    message = config_message(ConfigError("rows", 10**5000, "an integer from 1 to 64"))
    assert "digits" in message and len(message) < 200


@pytest.mark.sim
def test_ctrl_c_during_sim_is_one_line_and_exit_130(tmp_path):
    """SIGINT to the process group, as a terminal's Ctrl-C sends it, while Verilator compiles."""
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwgen.cli.main", "sim", "--work", str(tmp_path / "w"), "--gemm", "2x2x2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
    )  # fmt: skip
    time.sleep(4)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip() == "hwgen: interrupted", err
    # The simulator's own process group gets SIGTERM, then SIGKILL after a grace period: allow it to end.
    deadline = time.monotonic() + 30
    while True:
        # The whole session: the simulator runs in a process group of its own inside it.
        leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert leftovers == [], f"processes of the interrupted run still alive after 30 s: {leftovers}"


@pytest.mark.parametrize("argv", [["build", "--no-lint"], ["report"], ["sim", "--gemm", "2x2x2"]])
def test_empty_out_folder_is_not_the_current_folder(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    option = "--work" if argv[0] == "sim" else "--out"
    assert main([*argv, option, ""]) == 2
    assert f"{option} ''" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
