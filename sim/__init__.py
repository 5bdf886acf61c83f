"""hwgen.sim: cocotb benches and the one regression runner; importing it attaches every unit's bench."""

from hwgen.sim import rtl_backend as _rtl_backend  # noqa: F401  (registers the "rtl" backend)
from hwgen.sim import units as _units  # noqa: F401  (attaches the benches)
