"""Mapped GEMM layers on any unit: its golden and cycle models (emulator), or its RTL through a plugged-in runner.

A target names its unit and config for a layer (``target.layer_unit(call)``). The
``emulator`` runner computes the layer with the unit's golden model and counts its
cycles with the unit's cycle model, so its figures are the unit's own. Runners that need
a simulator are registered from above: ``hwgen.sim`` registers ``rtl``, which streams the
operands through the unit's generated Verilog and reads the result codes and cycles back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.float_format import FloatFormat
from hwgen.emulation.int_format import IntFormat
from hwgen.emulation.units import Unit
from hwgen.host.backends import LayerRun

__all__ = [
    "LAYER_RUNNERS",
    "UnitBackend",
    "UnitLayer",
    "integer_operands",
    "layer_runner",
    "register_layer_runner",
]


@dataclass(frozen=True)
class UnitLayer:
    """One layer's GEMM as a unit runs it: the unit, its config and its run-time options (``a_bits``, ...)."""

    unit: Unit
    config: object
    run: dict = field(default_factory=dict)
    #: The GEMM the unit computes when it differs from the layer's (N:M-pruned weights): the emulator's reference.
    call: object = None

    def golden(self, a, b) -> np.ndarray:
        """The unit's bit-exact result of ``a @ b`` (operand and result values, the accumulator's wrap applied).

        Integer units give int64 values; float units float64 values of their accumulator format.
        """
        values = np.asarray(self.unit.golden(self.config, a, b, **self.run))
        return values if values.dtype.kind == "f" else values.astype(np.int64)

    def cycles(self, m: int, k: int, n: int) -> int:
        """The unit's exact full-rate cycles of one ``m x k x n`` product."""
        return int(self.unit.cycles(self.config, m, k, n, **self.run))


def integer_operands(call, widths: tuple[int, ...] = (8,), acc: str = "int32") -> tuple[int, int]:
    """Check that ``call`` is an integer GEMM the integer units compute bit-exactly; its ``(a_bits, w_bits)``.

    Exact products, signed integer operands of at most ``max(widths)`` bits and a wrapping
    ``acc`` accumulator: the K-sum then does not depend on the order, so the unit's result
    equals the host's :func:`~hwgen.host.ir_exec.emulate_gemm`.

    Raises
    ------
    ConfigError
        Naming the call's formats and what the unit allows.
    """
    a, b, out = call.a_format, call.b_format, call.acc_format
    ok = (
        all(isinstance(f, IntFormat) and f.signed and f.width <= max(widths) for f in (a, b))
        and isinstance(out, IntFormat)
        and out.name == acc
        and call.mul == "exact"
    )
    if not ok:
        names = f"w={getattr(b, 'name', b)}, a={getattr(a, 'name', a)}, acc={getattr(out, 'name', out)}"
        allowed = f"signed integer operands of at most {max(widths)} bits, exact products and a {acc} accumulator"
        raise ConfigError("formats", names, f"{allowed} for layer {call.name}")
    return a.width, b.width


#: A runner: ``runner(layer, a, b) -> (values, cycles)`` for one GEMM of operand values on the unit.
Runner = Callable[[UnitLayer, np.ndarray, np.ndarray], tuple[np.ndarray, int]]


def _emulate(layer: UnitLayer, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    m, k = a.shape
    return layer.golden(a, b), layer.cycles(m, k, b.shape[1])


_RUNNERS: dict[str, Callable[..., Runner]] = {"emulator": lambda **_: _emulate}
#: Layer runners by backend name: factories ``factory(**options) -> runner`` (``rtl`` is registered by ``hwgen.sim``).
LAYER_RUNNERS: Mapping[str, Callable[..., Runner]] = MappingProxyType(_RUNNERS)


def register_layer_runner(name: str, factory: Callable[..., Runner]) -> None:
    """Register ``factory`` as the layer runner of backend ``name`` (``hwgen.sim`` registers ``rtl``).

    Raises
    ------
    ConfigError
        If ``name`` is not a non-empty string or ``factory`` is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError("name", name, "a non-empty backend name")
    if not callable(factory):
        raise ConfigError("factory", factory, "a callable returning a runner(layer, a, b) -> (codes, cycles)")
    _RUNNERS[name] = factory


def layer_runner(name: str, **options) -> Runner:
    """The layer runner of backend ``name``, built with ``options``.

    Raises
    ------
    ConfigError
        If no runner has that name (``rtl`` needs ``import hwgen.sim`` or the hwgen command line).
    """
    if not isinstance(name, str) or name not in _RUNNERS:
        hint = " (import hwgen.sim, or use the hwgen command line, to add rtl)" if name == "rtl" else ""
        raise ConfigError("backend", name, ", ".join(_RUNNERS) + hint)
    return _RUNNERS[name](**options)


def _values(codes, fmt) -> np.ndarray:
    """Operand values of ``codes``: int64 for an integer format, float64 (NaN, Inf, -0 kept) for a float one."""
    if isinstance(fmt, FloatFormat):
        return np.asarray(fmt.decode(np.asarray(codes).reshape(-1), np.float64), np.float64).reshape(np.shape(codes))
    return np.asarray(fmt.decode(codes), np.int64)


def _values_of(values, acc) -> np.ndarray:
    """A runner's accumulator values in the dtype ``acc_encode`` re-encodes exactly (float64 for a float acc)."""
    return np.asarray(values, np.float64 if isinstance(acc, FloatFormat) else np.int64)


class UnitBackend:
    """Runs mapped GEMM layers on a target's own unit: its golden and cycle models, or its RTL.

    Parameters
    ----------
    target
        A single target (``SystolicTarget``, ``BitSliceTarget``, ``AdderTreeTarget``, ...)
        whose ``layer_unit(call)`` names its unit.
    backend : str
        ``"emulator"`` (the unit's models) or a registered runner's name (``"rtl"``).
    **options
        The runner's options (``simulator``, ``work_dir`` for ``rtl``).
    """

    def __init__(self, target, backend: str = "emulator", **options):
        if not callable(getattr(target, "layer_unit", None)):
            raise ConfigError("target", target, "a single target (systolic, bitslice, addertree, ...)")
        self.target, self.name = target, backend
        self.runner = layer_runner(backend, **options)
        self.runs: list[LayerRun] = []

    def check_layer(self, call) -> UnitLayer:
        """The unit, config and options of ``call`` on the target; ConfigError if the unit cannot run it."""
        return self.target.layer_unit(call)

    def run_layer(self, call) -> LayerRun:
        """Run ``call`` on the unit; record and return its result codes, measured and predicted cycles."""
        from hwgen.host.gemm_kernels import acc_encode

        layer = self.check_layer(call)
        call = layer.call if layer.call is not None else call
        # Calls carry format codes; the units compute on the values and return wrapped accumulator values.
        a, b = _values(call.a_codes, call.a_format), _values(call.b_codes, call.b_format)
        values, cycles = self.runner(layer, a, b)
        codes = np.asarray(acc_encode(_values_of(values, call.acc_format), call.acc_format), np.int64)
        run = LayerRun(call.name, codes, [int(cycles)], [layer.cycles(*np.shape(a), np.shape(b)[1])])
        self.runs.append(run)
        return run

    def gemm_hook(self, call) -> np.ndarray | None:
        """Result codes of ``call`` from the unit when it can run it, else None (the emulator computes it)."""
        try:
            self.check_layer(call)
        except ConfigError:
            return None
        return self.run_layer(call).codes
