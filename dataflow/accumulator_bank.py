"""Output-stationary accumulators that fold a stream of per-beat dot products into tile results."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation import IntFormat
from hwgen.rtl.format_shape import FormatShape

__all__ = ["AccumulatorBank", "tile_layout"]


def tile_layout(acc: IntFormat, count: int, with_error: bool) -> data.StructLayout:
    """Payload of a tile result: ``count`` accumulators, and an ``error`` flag if asked for."""
    fields = {"data": data.ArrayLayout(FormatShape(acc), count)}
    if with_error:
        fields["error"] = 1
    return data.StructLayout(fields)


class AccumulatorBank(wiring.Component):
    """``count`` wrapping accumulators; a beat flagged ``last`` closes the tile onto ``o_out``.

    On an advancing cycle with ``valid``, every accumulator adds its ``dots`` lane (the
    first beat of a tile starts from zero); on the ``last`` beat the sums become the
    output, which the accumulator registers hold until ``o_out`` takes it. ``advance``
    tells the upstream pipeline when it may move: whenever no result is waiting or the
    waiting one is taken this cycle.

    Parameters
    ----------
    count : int
    dot_shape : shape-like
        Signed shape of one incoming dot product.
    acc : IntFormat
        Accumulator format (wraps).
    with_error : bool
        Carry an ``error`` flag: the OR of the tile's beats' ``error`` inputs.

    Members
    -------
    advance : Out(1)
    valid, last, error : In(1)
    dots : In(ArrayLayout(dot_shape, count))
    o_out : Out(stream.Signature(tile_layout(acc, count, with_error)))

    Latency
    -------
    1 cycle from the ``last`` beat to ``o_out.valid``; one beat per cycle.
    """

    def __init__(self, count: int, dot_shape, acc: IntFormat, with_error: bool = False):
        self.count, self.acc, self.with_error = count, acc, with_error
        super().__init__(
            {
                "advance": Out(1),
                "valid": In(1),
                "last": In(1),
                "error": In(1),
                "dots": In(data.ArrayLayout(dot_shape, count)),
                "o_out": Out(stream.Signature(tile_layout(acc, count, with_error))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        first = Signal(init=1)  # the next beat starts a tile
        err = Signal()
        sums = [Signal(FormatShape(self.acc), name=f"sum{i}") for i in range(self.count)]
        m.d.comb += self.advance.eq(~self.o_out.valid | self.o_out.ready)
        for i, total in enumerate(sums):
            m.d.comb += self.o_out.payload.data[i].eq(total)
        if self.with_error:
            m.d.comb += self.o_out.payload.error.eq(err)
        with m.If(self.advance):
            with m.If(self.o_out.ready):
                m.d.sync += self.o_out.valid.eq(0)
            with m.If(self.valid):
                # Assigning the wider sum to the accumulator-width register is the wrap-around.
                for i, total in enumerate(sums):
                    m.d.sync += total.eq(Mux(first, 0, total) + self.dots[i])
                m.d.sync += [
                    err.eq(Mux(first, 0, err) | self.error),
                    first.eq(self.last),
                    self.o_out.valid.eq(self.last),
                ]
        return m
