"""The unit contract: one object per architecture, and the one registry that holds them.

A :class:`Unit` carries everything hwgen knows about one architecture. Its pure parts
(typed config, bit-exact golden model, exact cycle model, host target) are set when
the unit is registered and need nothing but NumPy, so the host runtime can use them.
Its hardware parts are plugged in from the layers above, which this layer never
imports: ``hwgen.dataflow`` attaches each unit's Amaranth component and build
(:class:`Hardware`), ``hwgen.sim`` its regression bench (:class:`Bench`). Importing
``hwgen.dataflow`` or ``hwgen.sim`` is what attaches them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hwgen.emulation.errors import ConfigError

__all__ = [
    "UNITS",
    "Bench",
    "Hardware",
    "LayerJob",
    "Unit",
    "attach_bench",
    "attach_hardware",
    "get_unit",
    "register_unit",
    "unit_of",
    "unregister_unit",
]


@dataclass(frozen=True)
class Hardware:
    """A unit's hardware, attached by ``hwgen.dataflow`` (whose ``build_unit`` writes any unit's build).

    Attributes
    ----------
    component : callable
        ``component(cfg)``: the unit's Amaranth component for a config (ConfigError if
        the config has no hardware form).
    manifest : callable or None
        ``manifest(cfg)``: further manifest entries of a build (latency, modes, device info).
    lint_waivers : str or None
        Text of the Verilator config shipped with the Verilog (None: the default waivers).
    """

    component: Callable
    manifest: Callable | None = None
    lint_waivers: str | None = None


@dataclass(frozen=True)
class Bench:
    """A unit's cocotb regression, attached by ``hwgen.sim`` (run by ``hwgen.sim.regression.run_regression``).

    Attributes
    ----------
    module : str
        The cocotb test module (cocotb loads benches by module name).
    job : callable
        ``job(cfg, seed, valid_prob, ready_prob, gemms)``: the JSON-serialisable job the
        bench runs (random vectors from ``seed``, back-pressure, cycle checks). ``gemms``
        is a list of ``(m, k, n)`` shapes, or None for the unit's default cases;
        ValueError names a shape or config the bench cannot run.
    cases : callable
        ``cases(cfg, job, report)``: one dict per case of the bench's report, with
        ``name``, ``passed``, ``cycles``, ``expected_cycles`` (exact cycles checked, or
        None), ``checks`` (exact cycle checks made), ``ideal_cycles`` (cycles at 100 %
        utilisation) and ``mismatches``; None if the report lacks a case of the job.
    gemms : bool
        True if ``job`` takes GEMM shapes (``hwgen sim --gemm``).
    layer : callable or None
        ``layer(cfg, a, b, **run)``: a :class:`LayerJob` that streams these operands
        (a mapped layer's GEMM ``a @ b``, integer codes) through the unit at full rate and
        reads the unit's own result codes and cycles back from the bench's report. None:
        the unit runs no mapped layers on its RTL yet.
    """

    module: str
    job: Callable
    cases: Callable
    gemms: bool = False
    layer: Callable | None = None


@dataclass(frozen=True)
class LayerJob:
    """One mapped GEMM for a unit's bench: the job, and how to read the result from the bench's report.

    Attributes
    ----------
    job : dict
        JSON-serialisable job of the unit's bench module.
    read : callable
        ``read(report)``: ``(codes, cycles)``, the ``m x n`` result codes the RTL produced
        (decoded from its output beats, not copied from the golden model) and the
        cycles from the first accepted input to the last output, both included.
        ValueError if the report lacks outputs.
    """

    job: dict
    read: Callable


@dataclass(eq=False)
class Unit:
    """One architecture: its name, typed config, models, host target and the hardware plugged in from above.

    Attributes
    ----------
    name : str
        The one name of the unit: ``--arch`` value, manifest ``arch`` and registry key.
    summary : str
        One line for ``--help`` and the docs.
    config : type
        The typed, validated config dataclass (ConfigError on a bad field).
    fixed : mapping
        Config fields the unit's name decides (``kind`` of ``lmul``), not options.
    defaults : mapping
        Defaults for config fields the dataclass leaves required.
    golden : callable or None
        ``golden(cfg, *operands, **run)``: the unit's bit-exact result of one operation
        (for a GEMM unit ``golden(cfg, a, b)`` is ``a @ b`` as the unit computes it).
    cycles : callable or None
        ``cycles(cfg, *shape, **run)``: exact cycles of one operation at full rate, first
        accepted input to last output inclusive (``cycles(cfg, m, k, n)`` for a GEMM unit).
    target : type or None
        The host runtime's target class for the unit (parsing, tiling cost, traffic).
    hardware : Hardware or None
        Attached by ``hwgen.dataflow`` (see :func:`attach_hardware`).
    bench : Bench or None
        Attached by ``hwgen.sim`` (see :func:`attach_bench`).
    """

    name: str
    summary: str
    config: type
    fixed: Mapping = field(default_factory=dict)
    defaults: Mapping = field(default_factory=dict)
    golden: Callable | None = None
    cycles: Callable | None = None
    target: type | None = None
    hardware: Hardware | None = None
    bench: Bench | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not self.name.replace("-", "").isalnum():
            raise ConfigError("name", self.name, "a non-empty name of letters, digits and '-'")
        if not (isinstance(self.config, type) and dataclasses.is_dataclass(self.config)):
            raise ConfigError("config", self.config, "a dataclass type (the unit's typed config)")
        self.fixed, self.defaults = MappingProxyType(dict(self.fixed)), MappingProxyType(dict(self.defaults))

    def built_hardware(self) -> Hardware:
        """The attached :class:`Hardware`; ConfigError naming the unit if ``hwgen.dataflow`` attached none."""
        if self.hardware is None:
            raise ConfigError("arch", self.name, "a unit with hardware (import hwgen.dataflow to attach it)")
        return self.hardware

    def regression_bench(self) -> Bench:
        """The attached :class:`Bench`; ConfigError naming the unit if ``hwgen.sim`` attached none."""
        if self.bench is None:
            raise ConfigError("arch", self.name, "a unit with a regression bench (import hwgen.sim to attach it)")
        return self.bench

    def describes(self, cfg) -> bool:
        """True if ``cfg`` is a config of this unit (its class, and its fixed fields' values)."""
        return type(cfg) is self.config and all(getattr(cfg, k, None) == v for k, v in self.fixed.items())


_UNITS: dict[str, Unit] = {}
#: Every registered unit by name, in registration order (read-only; add with :func:`register_unit`).
UNITS: Mapping[str, Unit] = MappingProxyType(_UNITS)


def register_unit(unit: Unit) -> Unit:
    """Add ``unit`` to :data:`UNITS` and return it.

    Raises
    ------
    ConfigError
        If ``unit`` is not a :class:`Unit` or its name is taken.
    """
    if not isinstance(unit, Unit):
        raise ConfigError("unit", unit, "a hwgen.emulation.units.Unit")
    if unit.name in _UNITS:
        raise ConfigError("name", unit.name, "a name no registered unit has: not " + ", ".join(_UNITS))
    _UNITS[unit.name] = unit
    return unit


def unregister_unit(name: str) -> Unit:
    """Remove the unit called ``name`` from :data:`UNITS` (a plug-in's or a test's own unit) and return it.

    Raises
    ------
    ConfigError
        If no unit has that name.
    """
    unit = get_unit(name)
    del _UNITS[name]
    return unit


def get_unit(name: str) -> Unit:
    """The unit called ``name``; ConfigError naming the registered ones otherwise."""
    if not isinstance(name, str) or name not in _UNITS:
        raise ConfigError("arch", name, ", ".join(_UNITS))
    return _UNITS[name]


def unit_of(cfg) -> Unit:
    """The unit whose config ``cfg`` is (its class and fixed fields), for manifests.

    Raises
    ------
    ConfigError
        If no registered unit has that config.
    """
    for unit in _UNITS.values():
        if unit.describes(cfg):
            return unit
    raise ConfigError("cfg", type(cfg).__name__, "the config of a registered unit")


def attach_hardware(name: str, hardware: Hardware) -> None:
    """Plug ``hardware`` into the unit called ``name`` (called by the hardware layer as it is imported)."""
    if not isinstance(hardware, Hardware):
        raise ConfigError("hardware", hardware, "a hwgen.emulation.units.Hardware")
    get_unit(name).hardware = hardware


def attach_bench(name: str, bench: Bench) -> None:
    """Plug ``bench`` into the unit called ``name`` (called by ``hwgen.sim`` as it is imported)."""
    if not isinstance(bench, Bench):
        raise ConfigError("bench", bench, "a hwgen.emulation.units.Bench")
    get_unit(name).bench = bench
