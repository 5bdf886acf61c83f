"""Backends that execute mapped GEMMs: the bit-exact emulator, the RTL in simulation, a device; chosen by name."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
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
]

#: Backend names and where each lives (``rtl`` and ``device`` are imported only when asked for).
BACKENDS = {
    "emulator": "hwgen.host.backends:EmulatorBackend",
    "rtl": "hwgen.sim.rtl_backend:RtlBackend",
    "device": "hwgen.host.backends:DeviceBackend",
}


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


def get_backend(name: str, **options):
    """The backend called ``name`` (see :data:`BACKENDS`), built with ``options``.

    Raises
    ------
    ConfigError
        If the name is unknown, or the backend's module cannot be imported (the
        message says which module and why).
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ConfigError("backend", name, ", ".join(BACKENDS))
    module, _, cls = BACKENDS[name].partition(":")
    try:
        factory = getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise ConfigError("backend", name, f"a backend whose module imports ({module}: {exc})") from None
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise ConfigError("options", sorted(options), f"the {name} backend's options ({exc})") from None
    return factory(**options)
