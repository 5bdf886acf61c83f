"""Backends that execute mapped GEMMs, chosen by name from a registry of factories.

The host registers the bit-exact ``emulator`` and the ``device`` behind the driver;
hardware-backed backends are plugged in from above: ``import hwgen.sim`` registers
``rtl`` (the accelerator top's Verilog in cocotb) through :func:`register_backend`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.int_format import IntFormat
from hwgen.emulation.isa import DeviceInfo, Status
from hwgen.host.mapper import plan_top_gemm
from hwgen.host.program import Program, ProgramResult, emit_program, run_program
from hwgen.host.targets import SystolicTarget

__all__ = [
    "BACKENDS",
    "Backend",
    "DeviceBackend",
    "EmulatorBackend",
    "LayerRun",
    "ProgramBackend",
    "call_runs_on_top",
    "get_backend",
    "program_for_call",
    "register_backend",
]

_FACTORIES: dict[str, Callable] = {}
#: Registered backends, name -> factory (read-only; add one with :func:`register_backend`).
BACKENDS: Mapping[str, Callable] = MappingProxyType(_FACTORIES)
#: Backends registered by a package above the host, and how to get each.
_PLUGGED_IN_ABOVE = {"rtl": "import hwgen.sim (which registers it), or use the hwgen command line"}


@runtime_checkable
class Backend(Protocol):
    """What every backend offers.

    ``run_program`` executes one GEMM program on the accelerator top (or its model)
    and returns the result codes and each ``RUN``'s cycles; ``gemm_hook`` is the
    ``gemm_hook`` of :func:`hwgen.host.ir_exec.run_graph`: accumulator codes of a
    quantised GEMM, or None to let the emulator compute it.
    """

    name: str
    info: DeviceInfo

    def run_program(self, program: Program) -> ProgramResult:
        """Execute ``program``; the result codes and each ``RUN``'s reported cycles."""

    def gemm_hook(self, call) -> np.ndarray | None:
        """Accumulator codes of a quantised GEMM call, or None to let the emulator compute it."""


def call_runs_on_top(call, info: DeviceInfo, value_format, acc_format) -> bool:
    """True when the top computes ``call`` bit-exactly: its integer dtype and wrapping accumulator, exact products.

    With a wrapping integer accumulator the K-tiled sum does not depend on the order,
    so the program's result equals :func:`hwgen.host.ir_exec.emulate_gemm`'s.
    """
    return (
        isinstance(value_format, IntFormat)
        and call.a_format == value_format
        and call.b_format == value_format
        and call.acc_format == acc_format
        and call.mul == "exact"
    )


def program_for_call(call, info: DeviceInfo, value_format, dataflow: str = "ws") -> Program:
    """The top's program for a GEMM call (``call.a_codes @ call.b_codes``)."""
    a, b = np.asarray(call.a_codes, np.int64), np.asarray(call.b_codes, np.int64)
    mapping = plan_top_gemm(info, a.shape[0], a.shape[1], b.shape[1], dataflow)
    return emit_program(mapping, a, b, value_format)


@dataclass(frozen=True)
class LayerRun:
    """One mapped layer run on a backend: result codes, measured and predicted RUN cycles."""

    name: str
    codes: np.ndarray
    measured_cycles: list[int]
    predicted_cycles: list[int]

    @property
    def cycle_error(self) -> float:
        """Relative error of the predicted total against the measured total."""
        measured, predicted = sum(self.measured_cycles), sum(self.predicted_cycles)
        return abs(predicted - measured) / measured if measured else float(predicted != 0)


class ProgramBackend:
    """Base of backends that execute programs: ``gemm_hook`` and ``run_layer`` on top of ``run_program``.

    Parameters
    ----------
    info : DeviceInfo
    value_format, acc_format
        The top's dtype and accumulator.
    dataflow : {"ws", "is", "auto"}
        How GEMMs are mapped onto the top (``auto``: per call, the faster on the array).
    """

    name = "top"

    def __init__(self, info: DeviceInfo, value_format, acc_format, dataflow: str = "ws"):
        if dataflow not in ("ws", "is", "auto"):
            raise ConfigError("dataflow", dataflow, "ws, is, auto")
        self.info, self.value_format, self.acc_format, self.dataflow = info, value_format, acc_format, dataflow
        self.runs: list[LayerRun] = []

    def run_program(self, program: Program) -> ProgramResult:  # pragma: no cover - every backend defines it
        """Execute ``program``; the result codes and each ``RUN``'s reported cycles."""
        raise NotImplementedError

    def check_layer(self, call) -> None:
        """ConfigError unless the top computes ``call`` bit-exactly (its dtype, exact products, its accumulator)."""
        if not call_runs_on_top(call, self.info, self.value_format, self.acc_format):
            names = f"w={call.b_format.name}, a={call.a_format.name}, acc={call.acc_format.name}"
            top = f"{self.info.dtype} operands, exact products, {self.acc_format.name} accumulator"
            raise ConfigError("formats", names, f"the top's formats ({top}) for layer {call.name}")

    def run_layer(self, call) -> LayerRun:
        """Run ``call`` as a program; record and return the codes and the RUN cycles."""
        program = program_for_call(call, self.info, self.value_format, self._flow(call))
        result = self.run_program(program)
        run = LayerRun(call.name, result.codes, result.run_cycles, program.predicted_run_cycles())
        self.runs.append(run)
        return run

    def _flow(self, call) -> str:
        """The mapping of ``call``: the backend's dataflow, or for ``auto`` the faster of ws and is on the array."""
        if self.dataflow != "auto":
            return self.dataflow
        (m, k), n = np.shape(call.a_codes), np.shape(call.b_codes)[1]
        return SystolicTarget(self.info.rows, self.info.cols, "auto").pick_dataflow(m, k, n, ("ws", "is"))

    def gemm_hook(self, call) -> np.ndarray | None:
        """Accumulator codes of a quantised GEMM call, or None to let the emulator compute it."""
        if not call_runs_on_top(call, self.info, self.value_format, self.acc_format):
            return None
        return self.run_layer(call).codes


class EmulatorBackend(ProgramBackend):
    """Bit-exact emulation: GEMMs through :func:`~hwgen.host.ir_exec.emulate_gemm`, or programs on the top's model.

    Parameters
    ----------
    info : DeviceInfo, optional
        The modelled top (default: :func:`hwgen.host.emulated_device.emulated_info` of a 4x4 int8 top).
    programs : bool
        Run every GEMM the top can compute as a program on
        :class:`~hwgen.emulation.accelerator_model.AcceleratorModel` (slower; proves the
        mapping) instead of calling ``emulate_gemm``.
    mul : "exact" or LMul
        The model's float multiplier.
    """

    name = "emulator"

    def __init__(self, info: DeviceInfo | None = None, programs: bool = False, mul="exact", dataflow: str = "ws"):
        from hwgen.host.driver import device_formats

        info = info or _default_info()
        super().__init__(info, *device_formats(info), dataflow)
        self.programs, self.mul = programs, mul

    def run_program(self, program: Program) -> ProgramResult:
        """Execute ``program``; the result codes and each ``RUN``'s reported cycles."""
        from hwgen.emulation.accelerator_model import AcceleratorModel
        from hwgen.emulation.accelerator_timing import run_cycles

        info = program.mapping.info
        model = AcceleratorModel(info, self.value_format, self.acc_format, lambda m: run_cycles(info, m), self.mul)
        return run_program(program, lambda payloads: [model.execute(p) for p in payloads])

    def gemm_hook(self, call) -> np.ndarray | None:
        """Accumulator codes of ``call``: from a program on the top's model (``programs``), else ``emulate_gemm``."""
        if self.programs:
            codes = super().gemm_hook(call)
            if codes is not None:
                return codes
        from hwgen.host.ir_exec import emulate_gemm

        return emulate_gemm(call)


class DeviceBackend(ProgramBackend):
    """The accelerator top on a board (or any transport) through :class:`hwgen.host.driver.Device`.

    Parameters
    ----------
    device : Device or str
        An open device, or a transport URL (``serial:///dev/ttyUSB1``, ``emulated://...``).

    Raises
    ------
    ConfigError
        If no device is given.
    """

    name = "device"

    def __init__(self, device=None, dataflow: str = "ws"):
        if device is None or device == "":
            raise ConfigError(
                "device", device, "a device URL for --backend device, e.g. serial:///dev/ttyUSB1 or emulated://"
            )
        from hwgen.host.driver import Device, device_formats

        if not isinstance(device, str | Device):
            raise ConfigError("device", device, "a Device or a device URL, e.g. serial:///dev/ttyUSB1 or emulated://")
        self.device = Device.open(device) if isinstance(device, str) else device
        info = self.device.info()
        super().__init__(info, *device_formats(info), dataflow)

    def run_program(self, program: Program) -> ProgramResult:
        """Execute ``program``; the result codes and each ``RUN``'s reported cycles."""
        return run_program(program, lambda payloads: [(Status.OK, r) for r in self.device.execute(payloads)])


def _default_info() -> DeviceInfo:
    from hwgen.host.emulated_device import emulated_info

    return emulated_info()


def register_backend(name: str, factory: Callable) -> None:
    """Make ``factory(**options)`` the backend called ``name`` for :func:`get_backend`.

    Parameters
    ----------
    name : str
        A new, non-blank backend name.
    factory : callable
        Builds the backend (usually its class); :func:`get_backend` checks the options
        against its signature.

    Raises
    ------
    ConfigError
        If the name is not a non-blank string or is already taken, or ``factory`` is not callable.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("name", name, "a non-blank backend name")
    if name in _FACTORIES:
        taken = ", ".join(_FACTORIES)
        raise ConfigError("name", name, f"a backend name not yet registered (taken: {taken})")
    if not callable(factory):
        raise ConfigError("factory", factory, "a callable that builds the backend, e.g. its class")
    _FACTORIES[name] = factory


register_backend("emulator", EmulatorBackend)
register_backend("device", DeviceBackend)


def get_backend(name: str, **options):
    """The backend called ``name`` (see :data:`BACKENDS`), built with ``options``.

    Raises
    ------
    ConfigError
        If the name is not registered (for ``rtl``: the message says to ``import hwgen.sim``),
        or ``options`` do not fit the backend's factory.
    """
    if not isinstance(name, str) or name not in _FACTORIES:
        allowed = ", ".join(_FACTORIES)
        if isinstance(name, str) and name in _PLUGGED_IN_ABOVE:
            allowed += f"; for {name}: {_PLUGGED_IN_ABOVE[name]}"
        raise ConfigError("backend", name, allowed)
    factory = _FACTORIES[name]
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise ConfigError("options", sorted(options), f"the {name} backend's options ({exc})") from None
    return factory(**options)
