"""End to end in simulation: Device -> virtual serial (bit-level UART) -> the exact UART top in Verilator.

One Verilator build of a 2x2 int8 top at 8 clocks per bit; every scenario is a fresh
``Device`` session on the same running top: a clean GEMM, one per fault kind on the
simulated link, random command programs against the golden model, and a dead link.
"""

import re

import pytest

from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.sim.toolchain import find_simulator

pytestmark = pytest.mark.sim

CLK_FREQ, BAUD = 12_000_000, 1_500_000  # divisor 8
BYTE_S = 10 * 8 / CLK_FREQ
MEMORIES = {"w_depth": 8, "a_depth": 16, "o_depth": 16, "max_payload": 32}
# The top drops a frame whose bytes stop for 64 byte times; a stall of 100 is a real fault.
SCENARIOS = [
    {"name": "clean", "seed": 1},
    {"name": "flip", "seed": 2, "faults": {"flip": 0.01}},
    {"name": "drop", "seed": 3, "faults": {"drop": 0.01}},
    {"name": "duplicate", "seed": 4, "faults": {"duplicate": 0.01}},
    {"name": "garbage", "seed": 5, "faults": {"garbage": 0.01}},
    {"name": "stall", "seed": 6, "faults": {"stall": 0.25, "stall_s": 100 * BYTE_S}},
    {"name": "program", "workload": "program", "seed": 8},
    {
        "name": "program, faults",
        "workload": "program",
        "seed": 9,
        "faults": {"flip": 0.004, "drop": 0.004, "duplicate": 0.004},
    },
    {"name": "minilm layer", "workload": "layer", "seed": 10},
    {"name": "minilm layer, faults", "workload": "layer", "seed": 11, "faults": {"flip": 0.003, "drop": 0.003}},
    {"name": "seq wrap", "workload": "wrap", "seed": 12},
    {"name": "dead link", "seed": 7, "faults": {"persistent": True}, "retries": 2, "expect_error": True},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    from hwgen.sim.virtual_serial import build_uart_top, run_driver_top

    work = tmp_path_factory.mktemp("uart_top")
    session, info = build_uart_top(ArrayConfig(rows=2, cols=2), work, CLK_FREQ, BAUD, **MEMORIES)
    return run_driver_top(session, info, CLK_FREQ, BAUD, SCENARIOS)


def test_clean_session_is_bit_exact_with_exact_cycles(run):
    assert run.passed, run.log.read_text()[-3000:]
    clean = run.scenario("clean")
    outcome = clean["outcome"]
    assert outcome["mismatches"] == []
    assert outcome["cycles"] == [run_cycles(run.info, 6)] * 2 == outcome["expected_cycles"]
    status = outcome["status"]
    assert status["runs"] == 2 and status["total_run_cycles"] == 2 * run_cycles(run.info, 6)
    assert (
        status["dropped_frames"] == 0 and status["good_frames"] == clean["stats"]["frames_sent"]
    )  # STATUS counts itself
    assert clean["stats"]["retries"] == 0 and clean["stats"]["skipped_bytes"] == 0
    assert run.framing_errors == 0 and run.divisor == 8  # the top's UART output is clean 8N1


@pytest.mark.parametrize("kind", ["flip", "drop", "duplicate", "garbage", "stall"])
def test_faults_on_the_simulated_link_leave_results_bit_exact(run, kind):
    result = run.scenario(kind)
    assert result["passed"] and result["error"] == "", result
    assert result["outcome"]["mismatches"] == []
    assert result["outcome"]["cycles"] == result["outcome"]["expected_cycles"]
    assert sum(result["injected"].values()) > 0
    stats = result["stats"]
    assert stats["frames_sent"] == stats["commands"] + stats["retries"]
    if kind != "garbage":  # garbage between frames can be harmless; the others cost frames
        assert stats["retries"] >= 1, result


@pytest.mark.parametrize("name", ["program", "program, faults"])
def test_every_command_kind_answers_like_the_golden_model(run, name):
    result = run.scenario(name)
    assert result["passed"] and result["outcome"]["mismatches"] == [], result
    assert result["outcome"]["commands"] == 40
    if name == "program, faults":
        assert result["stats"]["retries"] >= 1 and sum(result["injected"].values()) > 0


def test_a_write_after_255_reads_takes_effect_on_the_verilog(run):
    # The second WRITE has the first one's seq (255 READs between): a new command, not a retry.
    result = run.scenario("seq wrap")
    assert result["passed"] and result["outcome"]["mismatches"] == [], result
    assert result["outcome"]["commands"] == 1 + 1 + 255 + 1 + 1 and result["stats"]["retries"] == 0


def test_dead_link_becomes_a_clear_error(run):
    result = run.scenario("dead link")
    assert re.search(r"PING \(seq 0\): no valid response after 3 attempt\(s\); last fault: \w", result["error"])
    assert result["stats"]["frames_sent"] == 3 and result["outcome"] == {}


@pytest.mark.parametrize("name", ["minilm layer", "minilm layer, faults"])
def test_runtime_maps_a_transformer_layer_through_the_driver_bit_exact(run, name):
    # Host runtime (quantise, map, emit program) -> Device -> bit-level UART -> the bitstream's top.
    scenario = run.scenario(name)
    assert scenario["passed"], scenario
    outcome = scenario["outcome"]
    assert outcome["mismatches"] == []
    assert outcome["runs"] > 1 and outcome["cycles"] == outcome["predicted_cycles"] == outcome["counter_cycles"]
    if "faults" in name:
        assert sum(scenario["injected"].values()) > 0 and scenario["stats"]["retries"] > 0
