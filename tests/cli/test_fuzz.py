"""Seeded fuzzing of the ``hwgen`` command line: random argv for every subcommand, random config files.

The promise under test: whatever the arguments, ``hwgen`` exits 0 or 2 (or reaches the
point where long work starts, which these tests stub out), a 2 comes with at most two
lines on stderr, no output ever holds a Python traceback, and every rejection is quick.
``HWGEN_FUZZ_SEED`` and ``HWGEN_FUZZ_SCALE`` (a multiplier of the case counts) widen a run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hwgen.cli.main import build_parser, main
from hwgen.emulation.units import UNITS

pytestmark = pytest.mark.fuzz

SEED = int(os.environ.get("HWGEN_FUZZ_SEED", "20261207"))
SCALE = float(os.environ.get("HWGEN_FUZZ_SCALE", "1"))
#: Seconds one rejected or accepted argv may take (model loading included).
CASE_SECONDS = 15.0


class _WorkStarts(BaseException):
    """Raised where a command's long work would begin: the arguments were all accepted.

    A BaseException, so that ``main``'s last-resort handler does not turn it into an
    'internal error' line.
    """


def _stop(*_args, **_kwargs):
    raise _WorkStarts


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """Long work replaced by :class:`_WorkStarts`; the current folder a scratch folder."""
    import hwgen.cli.build_cmd as build_cmd
    import hwgen.cli.report_cmd as report_cmd
    import hwgen.cli.sim_cmd as sim_cmd
    import hwgen.fpga.bitstream as bitstream

    monkeypatch.setattr(build_cmd, "build_unit", _stop)
    monkeypatch.setattr(sim_cmd, "run_regression", _stop)
    # ``hwgen.host.run`` is also the function the package exports: the module comes from sys.modules.
    monkeypatch.setattr(sys.modules["hwgen.host.run"], "_table", _stop)
    monkeypatch.setattr(report_cmd, "_perf_plots", _stop)
    monkeypatch.setattr(bitstream, "build_bitstream", _stop)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HWGEN_DEBUG", raising=False)
    return tmp_path


def _invoke(argv: list[str]) -> tuple[int | str, str, str, float]:
    """``(status, stdout, stderr, seconds)`` of ``hwgen argv`` in this process; status "work" when stubbed."""
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except _WorkStarts:
            status = "work"
        except SystemExit as exc:  # --help
            status = exc.code if isinstance(exc.code, int) else 2
    return status, out.getvalue(), err.getvalue(), time.monotonic() - start


def _check(argv, status, out, err, seconds) -> int | str:
    """Assert the promise for one invocation; its status."""
    shown = f"hwgen {' '.join(map(repr, argv))}"
    assert "Traceback" not in out + err, f"{shown} printed a traceback:\n{err[-2000:]}"
    assert "internal error" not in err, f"{shown}: {err.strip()}"
    assert status in (0, 2, "work"), f"{shown} exited {status}: {err.strip()[-500:]}"
    if status == 2:
        lines = err.strip().splitlines()
        assert 1 <= len(lines) <= 2, f"{shown}: exit 2 with {len(lines)} stderr lines:\n{err}"
    assert seconds < CASE_SECONDS, f"{shown} took {seconds:.1f} s"
    return status


def _report(name: str, outcomes: Counter) -> None:
    """Print the outcome counts (``pytest -s`` shows them) and prove both paths were exercised."""
    print(
        f"fuzz {name}: {sum(outcomes.values())} cases: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=str))
    )
    assert outcomes[2] > 0 and outcomes["work"] + outcomes[0] > 0, outcomes


# -- argv ----------------------------------------------------------------------------------------------------------
_INTS = ["0", "1", "2", "3", "4", "8", "16", "64", "65", "-1", "-7", "100000", "1" + "0" * 400, "1.5", "x", "", "0x10"]
_FLOATS = ["0", "0.5", "1", "25", "100", "-1", "nan", "inf", "-inf", "1e400", "1e-400", "x", "", "5" * 500]
_STRINGS = [
    "",
    " ",
    "x",
    "-",
    "--",
    "é",
    "a" * 300,
    "../../etc/passwd",
    "/proc/hwgen/x",
    "/dev/null",
    "1",
    "-1",
    "systolic",
    "pim",
    "top",
    "lmul",
    "fp-mac",
    "sparse-dsp",
    "bitslice",
    "addertree",
    "int8",
    "int4",
    "int32",
    "float8_e4m3fn",
    "float8_e5m2",
    "bfloat16",
    "float32",
    "float4_e2m1fn",
    "float6_e2m3fn",
    "fp8",
    "mxfp4",
    "ws",
    "is",
    "os",
    "auto",
    "exact",
    "lmul",
    "uart",
    "stream",
    "verilator",
    "icarus",
    "all",
    "bogus",
    "systolic:4x4:ws",
    "systolic:0x4",
    "systolic:65x1",
    "systolic:4x4:zz",
    "bitslice:4x4",
    "sparse:16:2:4",
    "pim:1ch",
    "pim:4ch",
    "prefill=systolic:4x4,decode=pim:2ch",
    "tpu:4x4",
    "w=int8,a=int8",
    ",,,",
    "w=int8,w=int8",
    "w=mxfp4,a=float8_e4m3fn,acc=float32",
    "w=int8;layer0.*:a=int8",
    "w=int8;nomatch:a=int8",
    "layer0.attn.q",
    "layer5.ffn.down",
    "nosuch",
    "2x2x2",
    "0x1x1",
    "4096x4096x4097",
    "3x3",
    "ecp5",
    "ice40",
    "xilinx",
    "85k",
    "up5k",
    "icebreaker",
    "ulx3s",
    "emulated://?rows=2&cols=2",
    "emulated://?rows=999",
    "serial:///dev/hwgen-none",
    "bogus://x",
    "64,256,256",
    "64,256",
    "0,0,0",
    "2:4,1:4",
    "2:4:2",
    "9:4",
    "prefill",
    "decode",
    "both",
    "minilm",
    "decoder",
    "gpt5",
    "emulator",
    "rtl",
    "device",
]
_FOLDER_OPTIONS = {"--out", "--work", "--fidelity", "--model-dir"}
_FILE_OPTIONS = {"--config", "--sentences", "--json"}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subparsers(sub)
                found.update({f"{name} {k}": v for k, v in nested.items()} if nested else {name: sub})
    return found


def _value(rng: random.Random, action: argparse.Action, scratch: Path) -> str:
    flag = action.option_strings[-1]
    kind = getattr(action.type, "__name__", "str")
    if flag in _FOLDER_OPTIONS and rng.random() < 0.6:
        return str(scratch / rng.choice(["o", "o/p", "out dir"]))
    if flag in _FILE_OPTIONS and rng.random() < 0.6:
        return str(_random_file(rng, scratch, flag))
    pool = {"int": _INTS, "float": _FLOATS}.get(kind, _STRINGS)
    return rng.choice(pool)


def _random_argv(rng: random.Random, commands: dict, scratch: Path) -> list[str]:
    command = rng.choice(sorted(commands))
    parser = commands[command]
    argv = command.split()
    options = [a for a in parser._actions if a.option_strings and "-h" not in a.option_strings]
    for action in rng.sample(options, k=min(len(options), rng.randint(0, 5))):
        flag = rng.choice(action.option_strings)
        argv.append(flag)
        if action.nargs != 0:
            argv.append(_value(rng, action, scratch))
    if command == "fpga build" and "--board" not in argv:
        argv += ["--board", rng.choice(["icebreaker", "ulx3s", "nosuch"])]
    if rng.random() < 0.05:
        argv.insert(rng.randint(1, len(argv)), rng.choice(["--nosuch", "extra", "--help", "-x"]))
    if command == "fpga program" and rng.random() < 0.7:
        argv.append(str(_random_file(rng, scratch, "--bitstream")))
    return argv


@pytest.mark.parametrize("command_group", ["build", "sim", "run", "other"])
def test_random_argv(stubbed, command_group):
    """Random options and values (valid, borderline and hostile) for every subcommand of every architecture."""
    rng = random.Random(f"{SEED}-{command_group}")
    cases = {"build": 500, "sim": 200, "run": 300, "other": 300}[command_group]
    outcomes = Counter()
    for _ in range(int(cases * SCALE)):
        arch = rng.choice([*UNITS, "nosuch"])
        commands = _subparsers(build_parser(arch if arch in UNITS else "systolic"))
        wanted = {"build": ("build", "synth"), "sim": ("sim",), "run": ("run",)}.get(command_group)
        commands = {
            k: v
            for k, v in commands.items()
            if (k in wanted if wanted else k.split()[0] in ("report", "fpga", "doctor"))
        }
        argv = _random_argv(rng, commands, stubbed)
        if arch != "systolic" and argv[0] in ("build", "synth", "sim", "fpga") and rng.random() < 0.9:
            argv[1 + (argv[0] == "fpga") : 1 + (argv[0] == "fpga")] = ["--arch", arch]
        outcomes[_check(argv, *_invoke(argv))] += 1
    _report(command_group, outcomes)


# -- config files --------------------------------------------------------------------------------------------------
def _random_scalar(rng: random.Random):
    return rng.choice(
        [
            0,
            1,
            2,
            4,
            8,
            64,
            65,
            -1,
            10**30,
            2.5,
            4.0,
            float("nan"),
            True,
            False,
            "",
            "x",
            "int8",
            "float8_e4m3fn",
            "ws",
            "os",
            "uart",
            "2:4",
            [],
            [4],
            {},
            {"a": 1},
            None,
        ]
    )


def _random_config(rng: random.Random) -> dict:
    import dataclasses

    arch = UNITS[rng.choice(sorted(UNITS))]
    fields = [f.name for f in dataclasses.fields(arch.config)]
    data = {}
    for name in rng.sample(fields, k=rng.randint(0, len(fields))):
        data[name] = _random_scalar(rng)
    if "timing" in fields and rng.random() < 0.5:
        data["timing"] = {rng.choice(["tRCD", "tRP", "bogus", "tCCD"]): _random_scalar(rng)}
    if rng.random() < 0.3:
        data[rng.choice(["bogus", "arch", "config", "sha256"])] = _random_scalar(rng)
    if rng.random() < 0.7:
        data["arch"] = rng.choice([arch.name, *UNITS, "nosuch", 3])
    return data


def _toml(data: dict) -> str:
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(f"[{key}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in value.items()))
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n" + "\n".join(tables)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"


def _random_file(rng: random.Random, folder: Path, flag: str) -> Path:
    """A config, sentences, JSON or bitstream file: well formed, damaged, or hostile."""
    suffix = rng.choice([".toml", ".json", ".toml", ".json", ".txt", ".bin", ""])
    path = folder / f"f{rng.randrange(10**9)}{suffix}"
    roll = rng.random()
    if roll < 0.5 and flag in ("--config", "--json"):
        data = _random_config(rng)
        text = _toml(data) if suffix == ".toml" else json.dumps(data)
        path.write_text(text)
    elif roll < 0.6:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
    elif roll < 0.7:
        path.write_text("[" * 100_000 + "]" * 100_000 if suffix == ".json" else "a = " + "[" * 50_000)
    elif roll < 0.8:
        digits = "9" * 5000  # beyond Python's 4,300-digit int parsing limit
        path.write_text('{"rows": ' + digits + "}" if suffix == ".json" else "rows = " + digits)
    elif roll < 0.9:
        path.write_text(rng.choice(["[1, 2]", '"x"', "3", "null", "{", "", "a man\nplays\n", "\n\n"]))
    return path  # else: a path that does not exist


def test_random_config_files(stubbed):
    """Random, damaged and hostile config files for ``build --config``, with and without ``--arch``."""
    rng = random.Random(f"{SEED}-config")
    outcomes = Counter()
    for _ in range(int(400 * SCALE)):
        path = _random_file(rng, stubbed, "--config")
        argv = ["build", "--config", str(path)]
        if rng.random() < 0.4:
            argv += ["--arch", rng.choice([*UNITS, "nosuch"])]
        outcomes[_check(argv, *_invoke(argv))] += 1
    _report("config files", outcomes)


def test_a_valid_config_reaches_the_build(stubbed):
    """The stub is reached: the fuzzing would notice if every argv were rejected."""
    path = stubbed / "ok.toml"
    path.write_text('arch = "pim"\nbanks = 2\n')
    assert _invoke(["build", "--config", str(path)])[0] == "work"
    assert _invoke(["run", "--no-run", "--tokens", "4"])[0] == "work"
    assert _invoke(["sim", "--gemm", "2x2x2"])[0] == "work"
