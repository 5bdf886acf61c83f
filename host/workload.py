"""What a model asks of the hardware: its GEMMs and elementwise work, independent of any target."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Elementwise", "Gemm"]


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
    """

    name: str
    m: int
    k: int
    n: int
    batch: int = 1
    weight_static: bool = True

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole product."""
        return self.batch * self.m * self.k * self.n


@dataclass(frozen=True)
class Elementwise:
    """Work that is not a GEMM (softmax, layernorm, GELU, add): ``elements`` values, ``ops_per_element`` each.

    It runs on the host (or a vector unit), not the array; the performance model
    counts its traffic and energy.
    """

    name: str
    kind: str
    elements: int
    ops_per_element: int = 1
