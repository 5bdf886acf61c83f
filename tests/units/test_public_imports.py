"""What a user needs is one import away from each package, and each package's exports exist."""

import importlib

import pytest

EXPORTS = {
    "hwgen.emulation.units": ("UNITS", "Unit", "Hardware", "Bench", "LayerJob", "get_unit", "register_unit"),
    "hwgen.dataflow": ("ArrayConfig", "build_unit", "unit_component", "UNITS", "get_unit"),
    "hwgen.sim": ("run_regression", "RegressionReport", "find_simulator", "SIMULATORS"),
    "hwgen.host": ("run", "RunResult", "parse_target", "get_backend", "register_backend", "EmulatorBackend"),
}


@pytest.mark.parametrize("package", sorted(EXPORTS))
def test_package_exports_what_a_user_needs(package):
    module = importlib.import_module(package)
    for name in EXPORTS[package]:
        assert name in module.__all__ and getattr(module, name) is not None, (package, name)
    for name in module.__all__:
        assert hasattr(module, name), (package, name)


def test_importing_hwgen_sim_attaches_a_bench_and_hardware_to_every_unit():
    import hwgen.sim  # noqa: F401
    from hwgen.emulation.units import UNITS

    for unit in UNITS.values():
        assert unit.hardware is not None and unit.bench is not None, unit.name
