"""Stream beats as plain integers: pack and unpack Amaranth struct payloads, and describe a bench phase."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["Phase", "pack_fields", "unpack_fields"]


def _field_bits(shape, value) -> int:
    """Bits of one field value: an int, or a (nested) sequence of ints for an ``ArrayLayout`` field."""
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        return sum(_field_bits(shape.elem_shape, v) << (i * elem) for i, v in enumerate(value))
    return int(value) & ((1 << Shape.cast(shape).width) - 1)


def pack_fields(layout: data.StructLayout, values: dict) -> int:
    """Pack ``{field: int or (nested) list of int}`` into the flat payload integer (missing fields are 0).

    Signed values are stored as two's complement of the field width.
    """
    out = 0
    for name, fld in layout:
        if name in values:
            out |= _field_bits(fld.shape, values[name]) << fld.offset
    return out


def _from_bits(shape, raw: int):
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        return [_from_bits(shape.elem_shape, (raw >> (i * elem)) & ((1 << elem) - 1)) for i in range(shape.length)]
    cast = Shape.cast(shape)
    if cast.signed and raw >> (cast.width - 1):
        return raw - (1 << cast.width)
    return raw


def unpack_fields(layout: data.StructLayout, raw: int) -> dict:
    """Split a flat payload integer into ``{field: int or list of int}`` (signed fields decoded)."""
    return {name: _from_bits(fld.shape, (raw >> fld.offset) & ((1 << fld.width) - 1)) for name, fld in layout}


@dataclass
class Phase:
    """One step of a stream bench: set control ports, send beats, expect output beats.

    Attributes
    ----------
    sources : dict
        ``{input stream name: [payload ints]}``; every source is sent in order.
    sink : str
        Output stream name.
    expected : list of int
        Output payloads the DUT must produce, in order (compared as whole integers).
    controls : dict
        ``{plain input port name: int}`` set before the first beat and held.
    name : str
        Label for reports.
    valid_prob, ready_prob : float or None
        Flow control of this phase in cocotb (None: the run's setting), so one
        simulator build can run full-rate and back-pressured phases.
    """

    sources: dict
    sink: str
    expected: list
    controls: dict = field(default_factory=dict)
    name: str = ""
    valid_prob: float | None = None
    ready_prob: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)
