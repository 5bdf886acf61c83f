"""The accelerator top's instruction set and link framing, defined once for the RTL, the emulator and the host.

Everything is little-endian. A **command frame** (host → device) is::

    0xA5 | seq u8 | len u16 | payload[len] | crc u16

and a **response frame** (device → host) is::

    0x5A | seq u8 | status u8 | len u16 | payload[len] | crc u16

The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
xor) over every byte after the sync byte and before the CRC. A command payload is
an opcode byte followed by its arguments (see :class:`Opcode`). The device answers
each good frame with one response frame carrying the same ``seq``; it drops a frame
whose CRC fails or whose ``len`` exceeds ``max_payload``, sends nothing for it, and
hunts for the next sync byte. A frame left incomplete for longer than the device's
inter-byte timeout is dropped too, so lost bytes cannot wedge the parser.

**Exactly once.** The device keeps one record: if the last good frame it received
was a ``WRITE`` or ``RUN`` (executed or rejected), that frame's ``seq`` and the status
and payload it was answered with; after any other good frame (``PING``, ``READ``,
``STATUS``, a bad opcode), and after reset, the record is empty. A ``WRITE`` or ``RUN``
whose ``seq`` equals the record's is a retry of it (the host resending after a lost
response): the device does not execute it again but resends the recorded status and
payload, and the record stays. Every other good frame executes and then sets or
clears the record as above. Dropped frames (see above) leave it untouched. ``READ``,
``STATUS`` and ``PING`` have no side effects and simply execute again when retried.

So a host that gives each new command the next ``seq`` modulo 256 (:data:`SEQ_BITS`
bits) and, stop-and-wait, sends nothing else between a command's attempts never has a
command lost or applied twice: two consecutive commands differ in ``seq``, so only a
resend of the same frame can match the record, however many side-effect-free commands
pass between two ``WRITE``/``RUN``s. A new session must not begin with a ``WRITE`` or
``RUN`` (its seq might equal a record an earlier session left); the host driver's
first frame is a ``PING``, which empties the record.

**Scratchpads** hold words, addressed by word:

- ``W`` (space 0): one word is one stationary row, ``cols`` values of the dtype;
- ``A`` (space 1): one word is one streamed row, ``rows`` values of the dtype;
- ``O`` (space 2): one word is one output row, ``cols`` accumulators.

A word's bytes are its values in order, each value's code in ``ceil(width / 8)``
little-endian bytes.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .errors import ConfigError

__all__ = [
    "CMD_SYNC",
    "CYCLES_SIZE",
    "ISA_VERSION",
    "MAX_DIM",
    "RSP_SYNC",
    "SEQ_BITS",
    "STATUS_SIZE",
    "DeviceInfo",
    "Opcode",
    "Space",
    "Status",
    "crc16",
    "decode_command",
    "decode_response",
    "encode_command",
    "encode_response",
    "ping",
    "read",
    "run",
    "status",
    "write",
]

CMD_SYNC = 0xA5
RSP_SYNC = 0x5A
CMD_HEADER = 4  # sync, seq, len (2)
RSP_HEADER = 5  # sync, seq, status, len (2)
CRC_BYTES = 2
#: Width of ``seq``: the host counts commands modulo ``2 ** SEQ_BITS``.
SEQ_BITS = 8
#: Largest rows/cols of an array behind the top (and of any systolic array hwgen builds): the
#: ``DeviceInfo`` fields are one byte, and beyond 64 Verilator builds and wide stream payloads
#: stop being practical. Defined here, in the pure layer, so the host and the RTL read one number.
MAX_DIM = 64
#: What ``PING`` reports as ``version``; 2 widened the dtype name to 32 bytes.
ISA_VERSION = 2


class Opcode(enum.IntEnum):
    """First payload byte of a command; the arguments that follow it.

    - ``PING`` (no args) → payload: :class:`DeviceInfo` (``DeviceInfo.SIZE`` bytes).
    - ``WRITE space u8, addr u16, count u16, data`` → empty payload. ``data`` is
      ``count >= 1`` words of that space. A ``count = 0`` WRITE answers ``BAD_ARGS``
      and changes no memory; like every ``WRITE``/``RUN`` frame, rejected or not, it is
      recorded for the exactly-once rule.
    - ``READ space u8, addr u16, count u16`` → ``count`` words of that space.
    - ``RUN w_addr u16, a_addr u16, o_addr u16, m u16, flags u8`` → ``cycles u32``
      (:data:`CYCLES_SIZE` bytes).
      Loads ``rows`` stationary words ``W[w_addr:w_addr+rows]`` into the array, streams
      ``m`` words ``A[a_addr:a_addr+m]`` through it and writes the ``m`` output rows to
      ``O[o_addr:o_addr+m]``: ``O[o+i][c] = sum_r A[a+i][r] * W[w+r][c]`` in the
      accumulator format, added onto the old ``O`` word when ``flags`` bit 0
      (``ACCUMULATE``) is set (integers wrap; floats round to nearest even).
      ``cycles`` counts clock cycles from the run's first scratchpad read to its
      last output write.
    - ``STATUS`` (no args) → ``total_run_cycles u32, runs u32, good_frames u32,
      dropped_frames u32`` (:data:`STATUS_SIZE` bytes; dropped = bad CRC, oversize or
      timed out).
    """

    PING = 0x01
    WRITE = 0x02
    READ = 0x03
    RUN = 0x04
    STATUS = 0x05


class Space(enum.IntEnum):
    """Scratchpad selector of ``WRITE``/``READ``."""

    W = 0
    A = 1
    O = 2  # noqa: E741 - the output scratchpad's name in the papers and the RTL


class Status(enum.IntEnum):
    """Response status byte."""

    OK = 0x00
    BAD_OPCODE = 0x01
    BAD_ARGS = 0x02  # unknown space, address range outside the scratchpad, bad length


ACCUMULATE = 0x01
STATUS_FIELDS = ("total_run_cycles", "runs", "good_frames", "dropped_frames")
#: Payload bytes of an OK ``STATUS`` response (one u32 per field) and of an OK ``RUN`` response.
STATUS_SIZE = 4 * len(STATUS_FIELDS)
CYCLES_SIZE = 4


@dataclass(frozen=True)
class DeviceInfo:
    """What ``PING`` returns: the shape of the array and its memories.

    Encoded as ``version u8, rows u8, cols u8, value_bytes u8, acc_bytes u8,
    dataflow u8 (0 ws, 1 is, 2 os), w_depth u16, a_depth u16, o_depth u16,
    max_payload u16, dtype[DTYPE_BYTES]`` (the dtype's name, NUL-padded ASCII;
    ``DTYPE_BYTES`` holds every name :data:`hwgen.emulation.formats.FORMATS` knows).

    Raises
    ------
    ValueError
        If ``dtype`` is not printable ASCII of 1 to ``DTYPE_BYTES`` characters, or
        ``dataflow`` is not one of ``DATAFLOWS``; :class:`~hwgen.emulation.errors.ConfigError`
        (a ValueError) if a number field is not an int that fits its u8/u16 field.
    """

    rows: int
    cols: int
    value_bytes: int
    acc_bytes: int
    w_depth: int
    a_depth: int
    o_depth: int
    max_payload: int
    dtype: str = "int8"
    dataflow: str = "ws"
    version: int = ISA_VERSION

    DTYPE_BYTES = 32
    _FORMAT = f"<BBBBBBHHHH{DTYPE_BYTES}s"
    SIZE = struct.calcsize(_FORMAT)
    DATAFLOWS = ("ws", "is", "os")
    _FIELD_BITS: ClassVar[dict[str, int]] = {"version": 8, "rows": 8, "cols": 8, "value_bytes": 8, "acc_bytes": 8}
    _FIELD_BITS |= {"w_depth": 16, "a_depth": 16, "o_depth": 16, "max_payload": 16}

    def __post_init__(self):
        for field, bits in self._FIELD_BITS.items():
            _check_uint(field, getattr(self, field), bits)
        name, limit = self.dtype, self.DTYPE_BYTES
        # A name cut to fit would reach the host as another name, or clash with one.
        if not (isinstance(name, str) and 1 <= len(name) <= limit and name.isascii() and name.isprintable()):
            raise ValueError(
                f"DeviceInfo dtype {name!r} is not allowed; allowed: printable ASCII, 1..{limit} characters"
            )
        if self.dataflow not in self.DATAFLOWS:
            raise ValueError(
                f"DeviceInfo dataflow {self.dataflow!r} is not allowed; allowed: {', '.join(self.DATAFLOWS)}"
            )

    def word_bytes(self, space: Space) -> int:
        """Bytes in one word of ``space``."""
        space = Space(space)
        if space is Space.W:
            return self.cols * self.value_bytes
        if space is Space.A:
            return self.rows * self.value_bytes
        return self.cols * self.acc_bytes

    def depth(self, space: Space) -> int:
        """Words in ``space``."""
        return {Space.W: self.w_depth, Space.A: self.a_depth, Space.O: self.o_depth}[Space(space)]

    def encode(self) -> bytes:
        """The ``PING`` response payload."""
        return struct.pack(
            self._FORMAT, self.version, self.rows, self.cols, self.value_bytes, self.acc_bytes,
            self.DATAFLOWS.index(self.dataflow), self.w_depth, self.a_depth, self.o_depth,
            self.max_payload, self.dtype.encode("ascii"),
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> DeviceInfo:
        """Parse a ``PING`` response payload.

        Raises
        ------
        ValueError
            If the payload is not ``SIZE`` bytes, its version is not
            :data:`ISA_VERSION` or its dtype name is not allowed.
        """
        if payload[:1] and payload[0] != ISA_VERSION:
            raise ValueError(f"PING reports ISA version {payload[0]}; allowed: {ISA_VERSION} (rebuild the bitstream)")
        if len(payload) != cls.SIZE:
            raise ValueError(f"PING payload has {len(payload)} bytes; allowed: {cls.SIZE}")
        version, rows, cols, vb, ab, flow, wd, ad, od, mp, name = struct.unpack(cls._FORMAT, payload)
        return cls(rows, cols, vb, ab, wd, ad, od, mp, name.rstrip(b"\0").decode("ascii"), cls.DATAFLOWS[flow], version)


def _crc16_table() -> tuple[int, ...]:
    """CRC-16/CCITT-FALSE of each byte value shifted into the high byte: one lookup per byte instead of eight steps."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of ``b"123456789"`` is 0x29B1)."""
    table = _CRC16_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFF00) ^ table[(crc >> 8) ^ byte]
    return crc


def _check_uint(field: str, value, bits: int) -> int:
    """``value`` as an int if it fits an unsigned field of ``bits`` bits; ConfigError otherwise (bools too)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 1 << bits:
        raise ConfigError(field, value, f"an int in 0..{(1 << bits) - 1}")
    return int(value)


def _check_payload(payload) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ConfigError("payload", payload, "bytes, bytearray or memoryview")
    payload = bytes(payload)
    if len(payload) > 0xFFFF:
        raise ConfigError("payload", f"<{len(payload)} bytes>", "at most 65535 bytes (the u16 length field)")
    return payload


def _check_seq(seq) -> int:
    """A non-negative int sequence number, taken modulo ``2 ** SEQ_BITS``."""
    if isinstance(seq, (bool, np.bool_)) or not isinstance(seq, (int, np.integer)) or seq < 0:
        raise ConfigError("seq", seq, f"a non-negative int (sent modulo {1 << SEQ_BITS})")
    return int(seq) % (1 << SEQ_BITS)


def _check_space(space) -> Space:
    if isinstance(space, (bool, np.bool_)) or not isinstance(space, (int, np.integer)) or space not in set(Space):
        raise ConfigError("space", space, "a Space (W=0, A=1, O=2)")
    return Space(space)


def encode_command(seq: int, payload: bytes) -> bytes:
    """One command frame around ``payload``.

    Raises
    ------
    ConfigError
        If ``seq`` is not a non-negative int (it is sent modulo ``2 ** SEQ_BITS``), or
        ``payload`` is not bytes-like of at most 65535 bytes.
    """
    seq, payload = _check_seq(seq), _check_payload(payload)
    body = struct.pack("<BH", seq, len(payload)) + payload
    return bytes([CMD_SYNC]) + body + struct.pack("<H", crc16(body))


def encode_response(seq: int, status: int, payload: bytes = b"") -> bytes:
    """One response frame around ``payload`` (checked as in :func:`encode_command`; ``status`` is a u8)."""
    seq, status, payload = _check_seq(seq), _check_uint("status", status, 8), _check_payload(payload)
    body = struct.pack("<BBH", seq, status, len(payload)) + payload
    return bytes([RSP_SYNC]) + body + struct.pack("<H", crc16(body))


def decode_command(frame: bytes) -> tuple[int, bytes]:
    """``(seq, payload)`` of a whole, well-formed command frame.

    Raises
    ------
    ValueError
        If the sync byte, length or CRC is wrong.
    """
    if len(frame) < CMD_HEADER + CRC_BYTES or frame[0] != CMD_SYNC:
        raise ValueError("not a command frame: too short or no 0xA5 sync byte")
    seq, length = struct.unpack_from("<BH", frame, 1)
    if len(frame) != CMD_HEADER + length + CRC_BYTES:
        raise ValueError(f"command frame length field {length} does not match its {len(frame)} bytes")
    (crc,) = struct.unpack_from("<H", frame, CMD_HEADER + length)
    if crc != crc16(frame[1 : CMD_HEADER + length]):
        raise ValueError("command frame CRC mismatch")
    return seq, bytes(frame[CMD_HEADER : CMD_HEADER + length])


def decode_response(frame: bytes) -> tuple[int, int, bytes]:
    """``(seq, status, payload)`` of a whole, well-formed response frame.

    Raises
    ------
    ValueError
        If the sync byte, length or CRC is wrong.
    """
    if len(frame) < RSP_HEADER + CRC_BYTES or frame[0] != RSP_SYNC:
        raise ValueError("not a response frame: too short or no 0x5A sync byte")
    seq, status, length = struct.unpack_from("<BBH", frame, 1)
    if len(frame) != RSP_HEADER + length + CRC_BYTES:
        raise ValueError(f"response frame length field {length} does not match its {len(frame)} bytes")
    (crc,) = struct.unpack_from("<H", frame, RSP_HEADER + length)
    if crc != crc16(frame[1 : RSP_HEADER + length]):
        raise ValueError("response frame CRC mismatch")
    return seq, status, bytes(frame[RSP_HEADER : RSP_HEADER + length])


def ping() -> bytes:
    """``PING`` payload."""
    return bytes([Opcode.PING])


def status() -> bytes:
    """``STATUS`` payload."""
    return bytes([Opcode.STATUS])


def write(space: Space, addr: int, words: np.ndarray) -> bytes:
    """``WRITE`` payload; ``words`` is a ``(count, word_bytes)`` array of byte values (0..255) of whole words.

    Fields are only checked to fit the wire format (a ``count`` of 0 or an address
    past the scratchpad is sent, for the device to answer ``BAD_ARGS``).

    Raises
    ------
    ConfigError
        If ``space`` is not a :class:`Space`, ``addr`` not a u16, or ``words`` not a
        2-D integer array of byte values with at most 65535 rows.
    """
    space, addr = _check_space(space), _check_uint("addr", addr, 16)
    arr = np.asarray(words)
    if arr.ndim != 2 or arr.dtype.kind not in "iu" or (arr.size and not 0 <= int(arr.min()) <= int(arr.max()) <= 255):
        raise ConfigError("words", words, "a (count, word_bytes) integer array of byte values 0..255")
    count = _check_uint("count", arr.shape[0], 16)
    return struct.pack("<BBHH", Opcode.WRITE, space, addr, count) + arr.astype(np.uint8).tobytes()


def read(space: Space, addr: int, count: int) -> bytes:
    """``READ`` payload (fields checked as in :func:`write`)."""
    space, addr, count = _check_space(space), _check_uint("addr", addr, 16), _check_uint("count", count, 16)
    return struct.pack("<BBHH", Opcode.READ, space, addr, count)


def run(w_addr: int, a_addr: int, o_addr: int, m: int, accumulate: bool = False) -> bytes:
    """``RUN`` payload; each address and ``m`` must fit a u16, ``accumulate`` must be a bool (ConfigError)."""
    fields = {"w_addr": w_addr, "a_addr": a_addr, "o_addr": o_addr, "m": m}
    args = [_check_uint(name, value, 16) for name, value in fields.items()]
    if not isinstance(accumulate, (bool, np.bool_)):
        raise ConfigError("accumulate", accumulate, "a bool")
    return struct.pack("<BHHHHB", Opcode.RUN, *args, ACCUMULATE if accumulate else 0)
