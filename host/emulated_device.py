"""A byte-level emulation of the accelerator top's link and command processor, usable as a transport."""

from __future__ import annotations

import struct
from collections import deque

from hwgen.emulation import isa
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import float32, get_format, int32
from hwgen.emulation.int_format import IntFormat
from hwgen.emulation.isa import CMD_SYNC, CRC_BYTES, MAX_DIM, DeviceInfo, Opcode
from hwgen.emulation.units.top_config import TopConfig, memories_info
from hwgen.host.driver import device_formats
from hwgen.host.transports import MAX_BAUD, _int_field

__all__ = ["EmulatedDevice", "emulated_info"]

_CMD_HEADER = 4  # sync, seq, len16
_QUERY_INTS = ("rows", "cols", "w_depth", "a_depth", "o_depth", "max_payload", "baud", "clk_freq")


def emulated_info(
    rows: int = TopConfig.rows, cols: int = TopConfig.cols, dtype: str = TopConfig.dtype, **memories
) -> DeviceInfo:
    """A :class:`DeviceInfo` like the one the RTL top of that shape reports (int32/float32 accumulator).

    Parameters
    ----------
    rows, cols : int
        The array's shape.
    dtype : str
        Operand format name (any of ``hwgen.emulation.get_format``'s).
    **memories
        ``w_depth``, ``a_depth``, ``o_depth``, ``max_payload``: the top's defaults when omitted.

    Raises
    ------
    ConfigError
        If the dtype is unknown or a field is not allowed on the top
        (``hwgen.emulation.units.top_config.memories_info``).
    """
    unknown = set(memories) - {"w_depth", "a_depth", "o_depth", "max_payload"}
    if unknown:
        raise ConfigError(sorted(unknown)[0], memories[sorted(unknown)[0]], "w_depth, a_depth, o_depth, max_payload")
    try:
        value = get_format(dtype)
    except (ValueError, TypeError):
        raise ConfigError("dtype", dtype, "a format name of hwgen.emulation.get_format") from None
    acc = int32 if isinstance(value, IntFormat) else float32
    info = memories_info(rows, cols, value, acc, **memories)
    device_formats(info)  # the dtype must have a 4-byte accumulator
    return info


class EmulatedDevice:
    """The top as the host sees it through its link: a :class:`~hwgen.host.transports.Transport`.

    Bytes written are parsed like the RTL's frame receiver does: hunt for 0xA5,
    read seq and len, drop a frame whose len exceeds ``max_payload``, whose CRC
    fails, or whose bytes are more than ``inter_byte_timeout_s`` apart (each drop
    counted in ``STATUS``'s ``dropped_frames``), and hunt again. Good frames run
    through :meth:`AcceleratorModel.handle` (exactly-once rule included) and are
    answered with :func:`isa.encode_response`.

    Time is simulated, so nothing ever sleeps: ``now`` starts at 0 and advances
    when the host waits in ``read`` or calls ``sleep``. With a ``baud``, each byte
    takes ``10 / baud`` seconds on either line (8N1), and with a ``clk_freq`` a
    RUN's response also waits for its cycles.

    Parameters
    ----------
    info : DeviceInfo, optional
        Shape of the device (default :func:`emulated_info()`: 4x4 int8).
    baud : int, optional
        Line rate to simulate; instantaneous bytes when omitted.
    inter_byte_timeout_s : float, optional
        Default: 64 byte times with a baud, 1 ms without.
    clk_freq : int, optional
        Clock of the simulated top, for RUN's duration.
    mul : "exact" or LMul
        Multiplier of a float array (see :class:`AcceleratorModel`).

    Raises
    ------
    ConfigError
        If ``info`` has more rows or columns than ``MAX_DIM`` (the bound of
        :data:`hwgen.emulation.isa.MAX_DIM`), or another argument is not allowed.
    """

    def __init__(self, info=None, *, baud=None, inter_byte_timeout_s=None, clk_freq=None, mul="exact"):
        info = info or emulated_info()
        for name in ("rows", "cols"):  # the same bound however the shape was made
            _check_int(name, getattr(info, name), MAX_DIM)
        for name, value in (("baud", baud), ("clk_freq", clk_freq)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_BAUD
            ):
                raise ConfigError(name, value, f"an integer in 1..{MAX_BAUD}, or None")
        value_format, acc_format = device_formats(info)
        self.info = info
        self.model = AcceleratorModel(info, value_format, acc_format, lambda m: run_cycles(info, m), mul)
        self.baud, self.clk_freq = baud, clk_freq
        self.byte_time_s = 10.0 / baud if baud else 0.0
        if inter_byte_timeout_s is None:
            inter_byte_timeout_s = 64 * self.byte_time_s if baud else 1e-3
        if not inter_byte_timeout_s > 0:
            raise ConfigError("inter_byte_timeout_s", inter_byte_timeout_s, "a positive number of seconds")
        self.inter_byte_timeout_s = float(inter_byte_timeout_s)
        self.bytes_in = 0
        self.responses = 0
        self._now = 0.0
        self._cmd_line_free = 0.0  # when the host -> device line has sent its last byte
        self._rsp_line_free = 0.0  # same for device -> host
        # Responses on their way: [start, frame, bytes taken]; byte i arrives at start + (i + 1) * byte_time_s.
        self._to_host: deque[list] = deque()
        self._frame = bytearray()
        self._last_byte_at = 0.0

    @classmethod
    def from_query(cls, query: dict) -> EmulatedDevice:
        """From URL query fields (``rows``, ``cols``, ``dtype``, depths, ``max_payload``, ``baud``, ``clk_freq``).

        Raises
        ------
        ConfigError
            If a field is unknown or not an integer where one is needed.
        """
        unknown = set(query) - {*_QUERY_INTS, "dtype"}
        if unknown:
            raise ConfigError("url", sorted(unknown)[0], f"query fields {', '.join((*_QUERY_INTS, 'dtype'))}")
        ints = {key: _int_field(query, key, None) for key in set(query) & set(_QUERY_INTS)}
        baud, clk_freq = ints.pop("baud", None), ints.pop("clk_freq", None)
        info = emulated_info(**ints, dtype=query.get("dtype", "int8"))
        return cls(info, baud=baud, clk_freq=clk_freq)

    # -- transport ----------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Put ``data`` on the host -> device line and return when it has been sent (like a flushed port).

        The device parses each byte as it arrives: byte ``i`` at ``start + (i + 1) * byte_time_s``.
        """
        data = bytes(data)
        start = max(self._now, self._cmd_line_free)
        i = 0
        while i < len(data):
            i = self._receive(data, i, start)
        if data:
            self.bytes_in += len(data)
            self._cmd_line_free = self._now = start + len(data) * self.byte_time_s

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Bytes that reached the host: ``max_bytes`` of them, or what arrived within ``timeout_s``."""
        deadline = self._now + max(0.0, timeout_s)
        if max_bytes <= 0:
            return b""
        out, last = bytearray(), self._now
        while self._to_host and len(out) < max_bytes:
            entry = self._to_host[0]
            start, frame, taken = entry
            there = self._arrived(start, len(frame), deadline)
            count = min(there - taken, max_bytes - len(out))
            if count <= 0:
                break  # later frames arrive later still
            out += frame[taken : taken + count]
            entry[2] = taken = taken + count
            last = start + taken * self.byte_time_s
            if taken < len(frame):
                break  # the rest of this frame is not there yet, or max_bytes is reached
            self._to_host.popleft()
        self._now = max(self._now, last) if len(out) == max_bytes else deadline
        return bytes(out)

    def _arrived(self, start: float, size: int, deadline: float) -> int:
        """How many of a ``size``-byte frame sent from ``start`` have arrived by ``deadline``."""
        bt = self.byte_time_s
        if bt == 0:
            return size if start <= deadline else 0
        count = min(size, max(0, int((deadline - start) / bt)))
        # The division may round either way; settle on the arrival times _send defines.
        while count < size and start + (count + 1) * bt <= deadline:
            count += 1
        while count > 0 and start + count * bt > deadline:
            count -= 1
        return count

    def now(self) -> float:
        """Simulated time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Let simulated time pass."""
        self._now += max(0.0, seconds)

    def close(self) -> None:
        """Nothing to release."""

    # -- device side --------------------------------------------------------------------------------------------
    @property
    def dropped_frames(self) -> int:
        """Frames dropped so far (bad CRC, oversize, timed out)."""
        return self.model.counters["dropped_frames"]

    def _receive(self, data: bytes, i: int, start: float) -> int:
        """Take bytes of ``data`` from ``i``: hunt for a sync byte, or add to the frame; the next index.

        Bytes within one write follow each other at the line rate, so only the first
        can come after a gap longer than the inter-byte timeout; at a line rate too
        slow for that, bytes are taken one by one.
        """
        bt, frame = self.byte_time_s, self._frame
        if frame and start + (i + 1) * bt - self._last_byte_at > self.inter_byte_timeout_s:
            self._drop()
        if not frame:
            found = data.find(CMD_SYNC, i)
            end = len(data) if found < 0 else found + 1
            self._last_byte_at = start + end * bt
            if found >= 0:
                frame.append(CMD_SYNC)
            return end
        have = len(frame)
        wanted = (_CMD_HEADER + _length(frame) + CRC_BYTES if have >= _CMD_HEADER else _CMD_HEADER) - have
        end = min(len(data), i + (wanted if 2 * bt < self.inter_byte_timeout_s else 1))
        frame += data[i:end]
        self._last_byte_at = at = start + end * bt
        if len(frame) < _CMD_HEADER:
            return end
        if _length(frame) > self.info.max_payload:
            self._drop()
        elif len(frame) == _CMD_HEADER + _length(frame) + CRC_BYTES:
            self._complete(at)
        return end

    def _complete(self, at: float) -> None:
        try:
            seq, payload = isa.decode_command(bytes(self._frame))
        except ValueError:
            self._drop()
            return
        self._frame.clear()
        status, response = self.model.handle(seq, payload)
        if self.clk_freq and payload[:1] == bytes([Opcode.RUN]) and len(response) == 4:
            at += struct.unpack("<I", response)[0] / self.clk_freq
        self._send(at, isa.encode_response(seq, status, response))

    def _send(self, at: float, frame: bytes) -> None:
        start = max(at, self._rsp_line_free)
        self._to_host.append([start, frame, 0])
        self._rsp_line_free = start + len(frame) * self.byte_time_s
        self.responses += 1

    def _drop(self) -> None:
        self._frame.clear()
        self.model.counters["dropped_frames"] += 1


def _check_int(name: str, value, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ConfigError(name, value, f"an integer in 1..{top}")


def _length(frame: bytearray) -> int:
    """The ``len`` field of a command frame whose header has arrived."""
    return struct.unpack_from("<H", frame, 2)[0]
