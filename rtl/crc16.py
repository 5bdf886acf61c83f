"""Byte-at-a-time CRC-16/CCITT-FALSE in hardware: the XOR network and a registered unit."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CRC16_INIT", "CRC16_POLY", "Crc16", "crc16_update"]

CRC16_POLY = 0x1021
CRC16_INIT = 0xFFFF


def crc16_update(crc: Value, byte: Value) -> Value:
    """The CRC-16/CCITT-FALSE register after shifting in one byte, MSB first (combinational).

    Parameters
    ----------
    crc : Value
        16-bit running CRC.
    byte : Value
        8-bit data byte.

    Returns
    -------
    Value
        16-bit next CRC; equals ``hwgen.emulation.isa.crc16(bytes([byte]), crc)``.
    """
    inputs = [crc[i] for i in range(16)] + [byte[i] for i in range(8)]
    return Cat(*(_xor(inputs, mask) for mask in _byte_step_masks()))


def _byte_step_masks() -> list[int]:
    """For each next-CRC bit, the set of inputs (bits 0-15 CRC, 16-23 data) it is the XOR of.

    The eight bit-steps are run symbolically once, so the hardware is a flat XOR network
    (at most a handful of inputs per bit) rather than eight chained shift/XOR stages.
    """
    state = [1 << i for i in range(16)]
    for j in range(8):
        state[8 + j] ^= 1 << (16 + j)
    for _ in range(8):
        top = state[15]
        state = [0, *state[:15]]
        state = [bit ^ (top if CRC16_POLY >> i & 1 else 0) for i, bit in enumerate(state)]
    return state


def _xor(inputs, mask: int) -> Value:
    terms = [bit for i, bit in enumerate(inputs) if mask >> i & 1]
    result = terms[0]
    for term in terms[1:]:
        result = result ^ term
    return result


class Crc16(wiring.Component):
    """Running CRC-16/CCITT-FALSE over a byte stream, one byte per cycle.

    Golden model: ``hwgen.emulation.isa.crc16``.

    Members
    -------
    clear : In(1)
        Restart from the initial value 0xFFFF (takes priority over ``en``).
    en : In(1)
        Fold ``data`` into the CRC.
    data : In(8)
    crc : Out(16)
        CRC of the bytes folded in since the last ``clear``.

    Latency
    -------
    1 cycle: a byte folded in cycle t shows on ``crc`` in cycle t+1.
    """

    def __init__(self):
        super().__init__({"clear": In(1), "en": In(1), "data": In(8), "crc": Out(16, init=CRC16_INIT)})

    def elaborate(self, platform):
        m = Module()
        reg = Signal(16, init=CRC16_INIT)
        with m.If(self.clear):
            m.d.sync += reg.eq(CRC16_INIT)
        with m.Elif(self.en):
            m.d.sync += reg.eq(crc16_update(reg, self.data))
        m.d.comb += self.crc.eq(reg)
        return m
