"""A toy unit registered through the contract runs build, cocotb simulation and its host target, with no hwgen edit.

The unit (``toy_ewmul``) is a config, golden and cycle model, host target and Amaranth
component in one test module, registered with ``register_unit``. ``hwgen build`` writes
its Verilog and manifest, the manifest round-trips to the config by the unit's name,
the generic stream bench runs it on the simulators in random order with random
back-pressure, and the result equals the golden model code for code with measured
cycles equal to the unit's cycle model.
"""

import json

import numpy as np
import pytest
import toy_ewmul

from hwgen.cli.main import main
from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import (
    UNITS,
    get_unit,
    load_config_file,
    make_config,
    register_unit,
    unit_of,
    unregister_unit,
)
from hwgen.sim.beats import Phase, pack_fields, unpack_fields
from hwgen.sim.stream_regression import run_stream_regression
from hwgen.sim.toolchain import find_simulator


@pytest.fixture
def toy():
    unit = register_unit(toy_ewmul.make_unit())
    yield unit
    unregister_unit(unit.name)


def test_registering_needs_no_edit_and_is_undone(toy):
    assert UNITS[toy.name] is toy and get_unit("toy-ewmul") is toy
    assert unit_of(toy_ewmul.EwMulConfig(lanes=3)) is toy
    with pytest.raises(ConfigError, match="toy-ewmul"):
        register_unit(toy_ewmul.make_unit())  # a name is taken once
    assert make_config(toy, {"lanes": 5}) == toy_ewmul.EwMulConfig(lanes=5)
    with pytest.raises(ConfigError, match="lanes"):
        make_config(toy, {"lanes": 1})


def test_unregistered_toy_is_gone():
    assert "toy-ewmul" not in UNITS
    with pytest.raises(ConfigError, match="toy-ewmul"):
        get_unit("toy-ewmul")


def test_cli_builds_the_toy_and_its_manifest_round_trips(toy, tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["build", "--arch", "toy-ewmul", "--lanes", "3", "--width", "6", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arch"] == "toy-ewmul" and manifest["top"] == "ewmul_3x6"
    data = load_config_file(out / "manifest.json")
    assert make_config(toy, {k: v for k, v in data.items() if k != "arch"}) == toy_ewmul.EwMulConfig(3, 6)
    assert "toy-ewmul" in capsys.readouterr().out + (out / "manifest.json").read_text()


def _phase(cfg, a, b, name, **flow) -> Phase:
    beats = toy_ewmul.beats(cfg, a.size)
    pa, pb = (np.resize(np.zeros(1, np.int64), beats * cfg.lanes) for _ in range(2))
    pa[: a.size], pb[: b.size] = a, b
    layout = toy_ewmul.in_layout(cfg)
    sources = [
        pack_fields(layout, {"a": pa[i : i + cfg.lanes].tolist(), "b": pb[i : i + cfg.lanes].tolist()})
        for i in range(0, beats * cfg.lanes, cfg.lanes)
    ]
    products = get_unit(toy_ewmul.NAME).golden(cfg, pa, pb)
    out = toy_ewmul.out_layout(cfg)
    expected = [
        pack_fields(out, {"p": products[i : i + cfg.lanes].tolist()}) for i in range(0, products.size, cfg.lanes)
    ]
    return Phase({"i_in": sources}, "o_out", expected, name=name, **flow)


@pytest.mark.sim
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_toy_runs_on_the_simulators_bit_exact_and_cycle_exact(toy, tmp_path, simulator):
    if find_simulator(simulator) is None:
        pytest.skip(f"{simulator} is not installed")
    cfg = toy_ewmul.EwMulConfig(lanes=4, width=8)
    build = build_unit(cfg, tmp_path / "rtl")
    rng = np.random.default_rng(7)
    size = 37  # a ragged last beat
    a, b = (rng.integers(-128, 128, size) for _ in range(2))
    a[0], b[0] = -128, -128  # the largest product
    phases = [
        _phase(cfg, a, b, "full rate", valid_prob=1.0, ready_prob=1.0),
        _phase(cfg, b, a, "back-pressure", valid_prob=0.6, ready_prob=0.5),
    ]
    report = run_stream_regression(build, phases, tmp_path / "sim", simulator, seed=3)
    assert report.passed, report.phases
    target = toy.target(cfg)
    assert report.cycles(0) == target.cycles(size) == toy.cycles(cfg, size)
    # The products the bench saw are the golden model's, code for code.
    got = [unpack_fields(toy_ewmul.out_layout(cfg), p)["p"] for p in phases[0].expected]
    assert np.array_equal(np.concatenate(got)[:size], a * b)


def test_host_target_traffic_counts_whole_beats(toy):
    target = toy.target(toy_ewmul.EwMulConfig(lanes=4, width=8))
    assert target.traffic_bytes(37) == (2 * 40, 40 * 2)
    assert target.cycles(37) == 11
