"""Command-frame parser: hunts for the sync byte, stores the payload in block RAM, checks the CRC."""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import CMD_SYNC
from hwgen.rtl.crc16 import Crc16

__all__ = ["COUNTER_MEMBERS", "MAX_PAYLOAD_LIMIT", "FrameReceiver", "check_max_payload", "command_members"]

#: The length field is 16 bits wide.
MAX_PAYLOAD_LIMIT = 0xFFFF

# Parser states in which a frame is under way (the inter-byte timeout counts) and the CRC runs.
_BODY = ("SEQ", "LEN_LO", "LEN_HI", "PAYLOAD")
_FRAME = (*_BODY, "CRC_LO", "CRC_HI")


def check_max_payload(max_payload) -> int:
    """Return ``max_payload`` if it is an int in 1..65535, else raise ConfigError."""
    if not isinstance(max_payload, int) or isinstance(max_payload, bool) or not 1 <= max_payload <= MAX_PAYLOAD_LIMIT:
        raise ConfigError("max_payload", max_payload, f"an integer in 1..{MAX_PAYLOAD_LIMIT} (bytes)")
    return max_payload


def command_members(max_payload: int) -> dict:
    """Signature members of the command side: a good frame waiting in the buffer and its read port."""
    return {
        "cmd_valid": Out(1),
        "cmd_seq": Out(8),
        "cmd_len": Out(16),
        "cmd_rd_addr": In(range(max_payload)),
        "cmd_rd_data": Out(8),
        "cmd_done": In(1),
    }


#: Frame counters of the receiver (and of the link that contains it).
COUNTER_MEMBERS = {"good_frames": Out(32), "dropped_frames": Out(32)}


class FrameReceiver(wiring.Component):
    """Receives ``0xA5 seq len16 payload crc16`` frames (``hwgen.emulation.isa``) into a frame buffer.

    It hunts for the sync byte, reads ``seq`` and ``len``, writes the payload into a
    ``max_payload``-byte :class:`~amaranth.lib.memory.Memory` and checks the CRC. A good
    frame raises ``cmd_valid`` until ``cmd_done``; bytes arriving meanwhile are accepted
    and discarded. A frame whose ``len`` exceeds ``max_payload``, whose CRC fails, or that
    sees ``timeout_cycles`` consecutive cycles without a byte is dropped and counted, and
    the parser hunts again from the next byte. Golden model: ``isa.decode_command``.

    Parameters
    ----------
    max_payload : int
        Frame-buffer size in bytes, 1..65535.
    timeout_cycles : int
        Inter-byte timeout in clock cycles, >= 1.

    Members
    -------
    i_rx : In(stream.Signature(8))
        Link bytes; ``ready`` is always high.
    cmd_valid : Out(1)
    cmd_seq : Out(8)
    cmd_len : Out(16)
    cmd_rd_addr : In(range(max_payload))
    cmd_rd_data : Out(8)
        Buffer byte at the address presented the cycle before.
    cmd_done : In(1)
        Release the buffer: ``cmd_valid`` falls and hunting resumes.
    good_frames : Out(32)
    dropped_frames : Out(32)

    Latency
    -------
    ``cmd_valid`` rises the cycle after the last CRC byte; one byte per cycle accepted.
    """

    def __init__(self, max_payload: int = 1024, timeout_cycles: int = 4096):
        try:
            self.max_payload = check_max_payload(max_payload)
            if not isinstance(timeout_cycles, int) or isinstance(timeout_cycles, bool) or timeout_cycles < 1:
                raise ConfigError("timeout_cycles", timeout_cycles, "an integer >= 1 (clock cycles)")
        except ConfigError:
            self._MustUse__silence = True  # a rejected component is not one someone forgot to use
            raise
        self.timeout_cycles = timeout_cycles
        super().__init__({"i_rx": In(stream.Signature(8)), **command_members(max_payload), **COUNTER_MEMBERS})

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        m.submodules.buffer = buffer = Memory(shape=8, depth=self.max_payload, init=[])
        wr, rd = buffer.write_port(), buffer.read_port()
        m.d.comb += [rd.addr.eq(self.cmd_rd_addr), self.cmd_rd_data.eq(rd.data), self.i_rx.ready.eq(1)]

        byte, got = self.i_rx.payload, self.i_rx.valid
        count = Signal(range(self.max_payload))
        crc_lo = Signal(8)
        timer = Signal(range(self.timeout_cycles))
        good, drop = Signal(), Signal()
        timeout = ~got & (timer == self.timeout_cycles - 1)
        on_byte = partial(_on_byte, m, got, timeout, drop)
        m.d.comb += [crc.data.eq(byte), wr.addr.eq(count), wr.data.eq(byte)]

        with m.FSM() as fsm:
            with m.State("HUNT"):
                with m.If(got & (byte == CMD_SYNC)):
                    m.d.comb += crc.clear.eq(1)
                    m.next = "SEQ"
            with m.State("SEQ"), on_byte():
                m.d.sync += self.cmd_seq.eq(byte)
                m.next = "LEN_LO"
            with m.State("LEN_LO"), on_byte():
                m.d.sync += self.cmd_len[:8].eq(byte)
                m.next = "LEN_HI"
            with m.State("LEN_HI"), on_byte():
                self._length(m, byte, count, drop)
            with m.State("PAYLOAD"), on_byte():
                m.d.comb += wr.en.eq(1)
                m.d.sync += count.eq(count + 1)
                with m.If(count == self.cmd_len - 1):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"), on_byte():
                m.d.sync += crc_lo.eq(byte)
                m.next = "CRC_HI"
            with m.State("CRC_HI"), on_byte():
                with m.If(Cat(crc_lo, byte) == crc.crc):
                    m.d.comb += good.eq(1)
                    m.next = "WAIT"
                with m.Else():
                    m.d.comb += drop.eq(1)
                    m.next = "HUNT"
            with m.State("WAIT"):
                with m.If(self.cmd_done):
                    m.next = "HUNT"
        in_frame = Cat(*(fsm.ongoing(s) for s in _FRAME)).any()
        m.d.comb += [
            crc.en.eq(got & Cat(*(fsm.ongoing(s) for s in _BODY)).any()),
            self.cmd_valid.eq(fsm.ongoing("WAIT")),
        ]
        # The timer counts idle cycles since the last byte of the frame (or its sync byte).
        with m.If(got | ~in_frame):
            m.d.sync += timer.eq(0)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)
        with m.If(good):
            m.d.sync += self.good_frames.eq(self.good_frames + 1)
        with m.If(drop):
            m.d.sync += self.dropped_frames.eq(self.dropped_frames + 1)
        return m

    def _length(self, m, byte, count, drop):
        length = Cat(self.cmd_len[:8], byte)
        m.d.sync += [self.cmd_len[8:].eq(byte), count.eq(0)]
        with m.If(length > self.max_payload):
            m.d.comb += drop.eq(1)
            m.next = "HUNT"
        with m.Elif(length == 0):
            m.next = "CRC_LO"
        with m.Else():
            m.next = "PAYLOAD"


@contextmanager
def _on_byte(m, got, timeout, drop):
    """Body runs when a byte arrives; a timeout instead drops the frame and hunts."""
    with m.If(got):
        yield
    with m.Elif(timeout):
        m.d.comb += drop.eq(1)
        m.next = "HUNT"
