"""hwgen.sim: cocotb benches and the one regression runner; importing it attaches every unit's bench.

Importing it also registers the ``rtl`` backend (the accelerator top) and the ``rtl`` layer
runner (any unit's own RTL) with the host runtime.
"""

from hwgen.sim import rtl_backend as _rtl_backend  # noqa: F401  (registers the "rtl" backend)
from hwgen.sim import units as _units  # noqa: F401  (attaches the benches and the rtl layer runner)
from hwgen.sim.regression import RegressionReport, run_regression
from hwgen.sim.toolchain import SIMULATORS, find_simulator

__all__ = ["SIMULATORS", "RegressionReport", "find_simulator", "run_regression"]
