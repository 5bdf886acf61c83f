"""Response-frame framer: sync, header, the processor's payload bytes, and a CRC computed on the fly."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.isa import RSP_SYNC
from hwgen.rtl.crc16 import Crc16

__all__ = ["RESPONSE_HEAD", "FrameSender"]

#: One beat of ``i_rsp_head``: the response's header fields.
RESPONSE_HEAD = data.StructLayout({"seq": 8, "status": 8, "len": 16})

# States whose byte is covered by the CRC (everything after the sync byte and before the CRC).
_COVERED = ("SEQ", "STATUS", "LEN_LO", "LEN_HI", "DATA")


class FrameSender(wiring.Component):
    """Frames responses as ``0x5A seq status len16 payload crc16``, byte-exact with ``isa.encode_response``.

    Members
    -------
    i_rsp_head : In(stream.Signature(RESPONSE_HEAD))
        One beat per response, accepted when the previous frame is out.
    i_rsp_data : In(stream.Signature(8))
        Exactly ``len`` payload bytes after the head; passed through to ``o_tx``
        combinationally (``ready`` follows ``o_tx.ready``).
    o_tx : Out(stream.Signature(8))
        Frame bytes; honours ``ready``.

    Latency
    -------
    The sync byte is offered the cycle after the head is accepted; then one byte per
    cycle while ``o_tx`` is ready and payload is available, so a frame of ``n`` payload
    bytes takes ``n + 8`` cycles at full rate, head beat included.
    """

    def __init__(self):
        super().__init__({
            "i_rsp_head": In(stream.Signature(RESPONSE_HEAD)),
            "i_rsp_data": In(stream.Signature(8)),
            "o_tx": Out(stream.Signature(8)),
        })  # fmt: skip

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        head = Signal(RESPONSE_HEAD)
        remaining = Signal(16)
        out, sent = self.o_tx, self.o_tx.valid & self.o_tx.ready
        m.d.comb += crc.data.eq(out.payload)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.i_rsp_head.ready.eq(1)
                with m.If(self.i_rsp_head.valid):
                    m.d.sync += head.eq(self.i_rsp_head.payload)
                    m.d.comb += crc.clear.eq(1)
                    m.next = "SYNC"
            for state, value, after in (
                ("SYNC", RSP_SYNC, "SEQ"),
                ("SEQ", head.seq, "STATUS"),
                ("STATUS", head.status, "LEN_LO"),
                ("LEN_LO", head.len[:8], "LEN_HI"),
                ("CRC_LO", crc.crc[:8], "CRC_HI"),
                ("CRC_HI", crc.crc[8:], "IDLE"),
            ):
                with m.State(state):
                    m.d.comb += [out.valid.eq(1), out.payload.eq(value)]
                    with m.If(out.ready):
                        m.next = after
            with m.State("LEN_HI"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(head.len[8:])]
                with m.If(out.ready):
                    m.d.sync += remaining.eq(head.len)
                    with m.If(head.len == 0):
                        m.next = "CRC_LO"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [
                    out.valid.eq(self.i_rsp_data.valid),
                    out.payload.eq(self.i_rsp_data.payload),
                    self.i_rsp_data.ready.eq(out.ready),
                ]
                with m.If(sent):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "CRC_LO"
            m.d.comb += crc.en.eq(sent & Cat(*(fsm.ongoing(s) for s in _COVERED)).any())
        return m
