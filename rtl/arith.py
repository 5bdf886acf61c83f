"""Signed exponent arithmetic whose generated Verilog passes ``verilator --lint-only`` unwaived.

Amaranth writes an operator with each operand at its own width and folds plain sign or
zero extensions back into it, so ``wide - narrow`` or ``x > 5`` become Verilog that
Verilator's width lint flags. These helpers only emit ``wide + narrow_signed`` (the form
``LINT_WAIVERS`` allows), keep every operand within one bit of the result, and read
comparisons off the sign bit of such a sum.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed

__all__ = ["add", "add_const", "gt_const", "is_positive", "neg", "sub", "widen"]


def _named(m: Module, value: Value, name: str) -> Signal:
    out = Signal(value.shape(), name=name)
    m.d.comb += out.eq(value)
    return out


def widen(m: Module, a, width: int, name: str) -> Signal:
    """``a`` extended to ``signed(width)`` as a net of that width.

    A plain extension would be folded back into the next operator; a Mux on ``a``'s
    own nonzero flag is the identity and keeps all ``width`` bits (synthesis removes it).
    """
    a = Value.cast(a)
    out = Signal(signed(width), name=name)
    m.d.comb += out.eq(Mux(a.any(), a, Const(0, signed(width))))
    return out


def _as_signed(m: Module, a, width: int, name: str) -> Value:
    a = Value.cast(a)
    need = max(width, len(a) + (0 if a.shape().signed else 1))
    if a.shape().signed and len(a) >= need:
        return a
    return widen(m, a, need, f"{name}_w")


def add(m: Module, a, b, name: str) -> Signal:
    """``a + b`` at its natural signed width, the wider operand on the left."""
    a, b = Value.cast(a), Value.cast(b)
    if len(b) > len(a):
        a, b = b, a
    return _named(m, _as_signed(m, a, len(b) + 1, name) + _as_signed(m, b, 0, f"{name}_b"), name)


def add_const(m: Module, a, k: int, name: str) -> Signal:
    """``a + k`` for a Python int ``k`` (negative for a subtraction)."""
    c = Const(k)
    return _named(m, _as_signed(m, a, len(c) + 1, name) + c, name)


def neg(m: Module, a, name: str) -> Signal:
    """``-a`` as a signed signal one bit wider than ``a``."""
    return _named(m, -Value.cast(a), name)


def sub(m: Module, a, b, name: str) -> Signal:
    """``a - b``, as ``a + (-b)``."""
    return add(m, a, neg(m, b, f"{name}_neg"), name)


def gt_const(m: Module, a, k: int, name: str) -> Value:
    """``a > k``: the sign bit of ``a - (k + 1)`` is clear."""
    return ~add_const(m, a, -(k + 1), name)[-1]


def is_positive(a) -> Value:
    """``a > 0`` for a signed value: sign bit clear and some bit set."""
    a = Value.cast(a)
    return ~a[-1] & a.any()
