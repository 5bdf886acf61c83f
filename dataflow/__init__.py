"""hwgen.dataflow: the units' arrays in Amaranth; importing it attaches each unit's hardware to the registry."""

from hwgen.dataflow.hardware import MAX_PIM_RTL_WORDS, build_unit, unit_component
from hwgen.emulation.units import UNITS, get_unit, unit_of
from hwgen.emulation.units.systolic_config import ArrayConfig

__all__ = ["MAX_PIM_RTL_WORDS", "UNITS", "ArrayConfig", "build_unit", "get_unit", "unit_component", "unit_of"]
