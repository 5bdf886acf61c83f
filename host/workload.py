"""What a model asks of the hardware: its GEMMs and elementwise work, independent of any target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError

__all__ = ["MAX_COUNT", "Elementwise", "Gemm", "checked_sequence"]

#: Largest size of one dimension (``m``, ``k``, ``n``, ``batch``) or element count: 2**48, far
#: beyond any model, small enough that products of sizes stay finite as floats (cost models).
MAX_COUNT = 1 << 48


def _check_count(obj, field: str) -> None:
    """``obj.field`` an integer in 1..MAX_COUNT (a NumPy integer becomes an int; a bool, float or string is no size)."""
    value = getattr(obj, field)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= MAX_COUNT:
        raise ConfigError(field, value, f"an integer from 1 to {MAX_COUNT}")
    object.__setattr__(obj, field, int(value))


def _check_name(field: str, value) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(field, value, "a non-empty string")


@dataclass(frozen=True)
class Gemm:
    """One (batched) matrix product ``(m, k) @ (k, n)``, ``batch`` times.

    Parameters
    ----------
    name : str
        Layer path, e.g. ``"layer0.attn.q"``.
    m, k, n : int
        Rows of the activations (tokens), reduction length, output features.
    batch : int
        Independent products of this shape (attention heads for ``QK^T`` and ``AV``).
    weight_static : bool
        True when ``(k, n)`` is a model weight (loaded once, reusable across tokens);
        False when both operands are activations (``QK^T``, ``AV``).

    Raises
    ------
    ConfigError
        If ``name`` is not a non-empty string, a size is not an integer in 1..:data:`MAX_COUNT`,
        or ``weight_static`` is not a bool.
    """

    name: str
    m: int
    k: int
    n: int
    batch: int = 1
    weight_static: bool = True

    def __post_init__(self):
        _check_name("name", self.name)
        for field in ("m", "k", "n", "batch"):
            _check_count(self, field)
        if not isinstance(self.weight_static, bool | np.bool_):
            raise ConfigError("weight_static", self.weight_static, "True or False")
        object.__setattr__(self, "weight_static", bool(self.weight_static))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole product."""
        return self.batch * self.m * self.k * self.n


@dataclass(frozen=True)
class Elementwise:
    """Work that is not a GEMM (softmax, layernorm, GELU, add): ``elements`` values, ``ops_per_element`` each.

    It runs on the host (or a vector unit), not the array; the performance model
    counts its traffic and energy.

    Raises
    ------
    ConfigError
        If ``name`` or ``kind`` is not a non-empty string, or ``elements`` or
        ``ops_per_element`` is not an integer in 1..:data:`MAX_COUNT`.
    """

    name: str
    kind: str
    elements: int
    ops_per_element: int = 1

    def __post_init__(self):
        _check_name("name", self.name)
        _check_name("kind", self.kind)
        _check_count(self, "elements")
        _check_count(self, "ops_per_element")


def checked_sequence(field: str, items, types: tuple[type, ...], allowed: str) -> list:
    """``items`` as a list, each of ``types``; ConfigError naming ``field`` and ``allowed`` otherwise.

    A string is refused although it iterates: it is never a sequence of workloads.
    """
    if isinstance(items, str | bytes) or not hasattr(items, "__iter__"):
        raise ConfigError(field, items, allowed)
    items = list(items)
    for item in items:
        if not isinstance(item, types):
            raise ConfigError(field, item, allowed)
    return items
