"""The host runtime needs only the emulator: importing every ``hwgen.host`` module loads no hardware layer."""

import subprocess
import sys

_PROBE = """
import importlib, pkgutil, sys
import hwgen.host
for module in pkgutil.iter_modules(hwgen.host.__path__):
    importlib.import_module(f"hwgen.host.{module.name}")
hardware = ("amaranth", "cocotb", "cocotb_tools", "hwgen.dataflow", "hwgen.rtl", "hwgen.pe", "hwgen.sim",
            "hwgen.fpga", "hwgen.cli")
print(sorted(name for name in sys.modules if name == "hwgen.host" or name.startswith(hardware)))
"""


def test_host_imports_no_hardware_layer():
    # A fresh interpreter: this test process has long since imported everything.
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['hwgen.host']", done.stdout
