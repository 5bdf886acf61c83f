"""The accelerator top's Verilog in Verilator via cocotb: random command frames, responses equal to the model's."""

import pytest

from hwgen.cli.build_cmd import lint
from hwgen.dataflow.accelerator import build_top
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.units.top_config import TopConfig, device_info
from hwgen.sim.cocotb_runner import CocotbSession
from hwgen.sim.toolchain import find_simulator
from hwgen.sim.top_bench import edge_commands

pytestmark = pytest.mark.sim

CFG = TopConfig(rows=4, cols=4, link="stream", w_depth=16, a_depth=32, o_depth=32, max_payload=256)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    work = tmp_path_factory.mktemp("top")
    build = build_top(CFG, work / "rtl")
    clean, messages = lint(build.verilog, build.lint_waivers)
    assert clean, messages
    return CocotbSession([build.verilog], CFG.top_name, "verilator", work).build()


def _job(seed, valid_prob, ready_prob, commands):
    return {
        "config": CFG.array.to_dict(),
        "memories": CFG.memories,
        "seed": seed,
        "valid_prob": valid_prob,
        "ready_prob": ready_prob,
        "commands": commands,
    }


@pytest.mark.parametrize(("seed", "valid_prob", "ready_prob"), [(1, 1.0, 1.0), (2, 0.5, 0.6)])
def test_random_commands_bit_exact_with_model(session, seed, valid_prob, ready_prob):
    run = session.run("hwgen.sim.top_bench", _job(seed, valid_prob, ready_prob, 80))
    assert run.passed, run.log.read_text()[-3000:]
    report = run.report
    assert report["mismatches"] == []
    assert report["runs"] >= 5
    info = device_info(CFG.array, **CFG.memories)
    assert all(cycles == run_cycles(info, m) for m, cycles in report["run_cycles"])


def test_driver_like_sequence_with_seq_wraps_takes_every_command_once(session):
    # Retries and runs of 255 READ/PING/STATUS (the seq comes round) on the Verilog; OnceReference checks every answer.
    job = {**_job(4, 0.8, 0.7, 240), "sequence": "driver", "edge_commands": False, "max_words": 4}
    run = session.run("hwgen.sim.top_bench", job)
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["mismatches"] == [] and run.report["once_mismatches"] == []
    assert run.report["commands"] > 2 * 256 and run.report["runs"] >= 5


def test_uart_pins_bit_exact_with_model(tmp_path):
    # The same bench through the UART pins (UartPins drives and samples the bits): Icarus, a short sequence.
    if find_simulator("icarus") is None:
        pytest.skip("icarus is not installed")
    cfg = TopConfig(rows=2, cols=2, link="uart", clk_freq=4 * 115200, w_depth=4, a_depth=8, o_depth=8, max_payload=64)
    info = device_info(cfg.array, **cfg.memories)
    build = build_top(cfg, tmp_path / "rtl")
    clean, messages = lint(build.verilog, build.lint_waivers)
    assert clean, messages
    job = {
        "config": cfg.array.to_dict(),
        "memories": cfg.memories,
        "seed": 3,
        "link": "uart",
        "divisor": 4,
        "commands": 30,
        "max_words": 2,
    }
    run = CocotbSession([build.verilog], cfg.top_name, "icarus", tmp_path).build().run("hwgen.sim.top_bench", job)
    assert run.passed, run.log.read_text()[-3000:]
    assert run.report["mismatches"] == [] and run.report["commands"] == 30 + len(edge_commands(info)) + 1
    assert all(cycles == run_cycles(info, m) for m, cycles in run.report["run_cycles"])
