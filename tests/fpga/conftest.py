"""Marker for the FPGA synthesis tests (the top-level conftest belongs to another package)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "synth: runs Yosys and nextpnr (YoWASP builds, about a minute in all); deselect with -m 'not synth'"
    )
