"""hwgen's units: one object per architecture (config, golden and cycle models, host target), in one registry.

``UNITS`` maps each unit's one name to its :class:`Unit`. The pure parts live in this
package (NumPy only); ``hwgen.dataflow`` and ``hwgen.sim`` plug in each unit's
hardware and regression bench when they are imported.
"""

from . import catalog as _catalog  # noqa: F401  (registers the built-in units)
from .config_files import MAX_DEPTH, cli_fields, file_arch, in_file, load_config_file, make_config, type_name
from .contract import (
    UNITS,
    Bench,
    Hardware,
    LayerJob,
    Unit,
    attach_bench,
    attach_hardware,
    get_unit,
    register_unit,
    unit_of,
    unregister_unit,
)

__all__ = [
    "MAX_DEPTH",
    "UNITS",
    "Bench",
    "Hardware",
    "LayerJob",
    "Unit",
    "attach_bench",
    "attach_hardware",
    "cli_fields",
    "file_arch",
    "get_unit",
    "in_file",
    "load_config_file",
    "make_config",
    "register_unit",
    "type_name",
    "unit_of",
    "unregister_unit",
]
