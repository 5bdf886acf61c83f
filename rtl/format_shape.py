"""Amaranth shape for hwgen number formats, backed by the emulator's encode/decode."""

from __future__ import annotations

from amaranth.hdl import Const, Shape, ShapeCastable, Value, ValueCastable, signed, unsigned

from hwgen.emulation import FloatFormat, IntFormat

__all__ = ["FloatView", "FormatShape"]


class FormatShape(ShapeCastable):
    """Shape of a port or signal that holds one value of a number format.

    The bit layout is the format's code: two's complement for ``IntFormat``,
    sign | exponent | mantissa for ``FloatFormat``. Constants and simulator reads go
    through the same ``encode``/``decode`` as the emulator, so a testbench sets and
    reads real numbers and the bits are the ones the golden model uses.

    Parameters
    ----------
    fmt : IntFormat or FloatFormat
        The number format; its ``width`` sets the number of bits.
    """

    def __init__(self, fmt: IntFormat | FloatFormat):
        if not isinstance(fmt, (IntFormat, FloatFormat)):
            raise TypeError(f"FormatShape needs an IntFormat or FloatFormat, not {fmt!r}")
        self.fmt = fmt

    def as_shape(self) -> Shape:
        if isinstance(self.fmt, IntFormat) and self.fmt.signed:
            return signed(self.fmt.width)
        return unsigned(self.fmt.width)

    def const(self, init) -> Const:
        if init is None:
            return Const(0, self.as_shape())
        if isinstance(init, Const):
            return Const(init.value, self.as_shape())
        code = int(self.fmt.encode([init])[0])
        if isinstance(self.fmt, IntFormat) and self.fmt.signed:
            code = int(self.fmt.decode([code])[0])
        return Const(code, self.as_shape())

    def from_bits(self, raw: int):
        raw &= (1 << self.fmt.width) - 1
        value = self.fmt.decode([raw])[0]
        return int(value) if isinstance(self.fmt, IntFormat) else float(value)

    def __call__(self, target):
        if isinstance(self.fmt, FloatFormat):
            return FloatView(self, target)
        return target

    def __eq__(self, other):
        return isinstance(other, FormatShape) and other.fmt == self.fmt

    def __hash__(self):
        return hash(self.fmt)

    def __repr__(self):
        return f"FormatShape({self.fmt.name})"


class FloatView(ValueCastable):
    """A floating-point value seen as its sign, exponent and mantissa fields.

    Parameters
    ----------
    shape : FormatShape
        Shape whose format is a ``FloatFormat``.
    target : value-like
        The raw bits.
    """

    def __init__(self, shape: FormatShape, target):
        self._shape = shape
        self._target = Value.cast(target)

    def shape(self) -> FormatShape:
        return self._shape

    def as_value(self) -> Value:
        return self._target

    @property
    def sign(self) -> Value:
        return self._target[-1]

    @property
    def exponent(self) -> Value:
        fmt = self._shape.fmt
        return self._target[fmt.man_bits : fmt.man_bits + fmt.exp_bits]

    @property
    def mantissa(self) -> Value:
        return self._target[: self._shape.fmt.man_bits]

    def eq(self, other):
        return self._target.eq(other)
