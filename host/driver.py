"""Host driver of the accelerator top: framed commands with sequence numbers, CRC, timeouts and bounded retries."""

from __future__ import annotations

import functools
import math
import numbers
import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from hwgen.emulation import isa
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import get_format
from hwgen.emulation.int_format import IntFormat
from hwgen.emulation.isa import CRC_BYTES, RSP_HEADER, RSP_SYNC, SEQ_BITS, DeviceInfo, Opcode, Space, Status

__all__ = [
    "MAX_RETRIES",
    "MAX_TIMEOUT_S",
    "CommandRejectedError",
    "Device",
    "DeviceError",
    "LinkStats",
    "device_formats",
]

#: Longest ``timeout`` of one attempt, in seconds: a dead link must fail in minutes, never hang.
MAX_TIMEOUT_S = 60.0
#: Most resends of one command.
MAX_RETRIES = 100

_RUN_ARGS = struct.calcsize("<HHHHB")
_RW_ARGS = struct.calcsize("<BHH")
_SIDE_EFFECTS = (Opcode.WRITE, Opcode.RUN)
# Below this a deadline has passed: float rounding in a transport's clock must not spin the receive loop.
_EPSILON_S = 1e-9


class DeviceError(RuntimeError):
    """The device did not answer a command correctly within the retry bound.

    Attributes
    ----------
    command : str
        The command (opcode name and arguments).
    attempts : int
        Frames sent for it.
    last_fault : str
        What went wrong on the last attempt.
    """

    def __init__(self, command: str, attempts: int, last_fault: str):
        self.command, self.attempts, self.last_fault = command, attempts, last_fault
        super().__init__(f"{command}: no valid response after {attempts} attempt(s); last fault: {last_fault}")


class CommandRejectedError(DeviceError):
    """The device answered a command with a status other than OK (retrying cannot help)."""

    def __init__(self, command: str, status: int):
        self.command, self.attempts, self.status = command, 1, status
        self.last_fault = f"status {_status_name(status)}"
        RuntimeError.__init__(self, f"{command}: the device answered {self.last_fault}")


@dataclass
class LinkStats:
    """What the driver saw on the link since it was opened."""

    commands: int = 0
    frames_sent: int = 0
    retries: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    stale_responses: int = 0
    skipped_bytes: int = 0

    def as_dict(self) -> dict:
        """The counters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _LinkFaultError(Exception):
    """One attempt failed (timeout or corrupted response); the command may be retried."""


def device_formats(info: DeviceInfo):
    """``(value_format, acc_format)`` of a device: its dtype and the accumulator its ``acc_bytes`` imply.

    Raises
    ------
    ConfigError
        If the dtype is unknown or ``acc_bytes`` fits no accumulator of it.
    """
    try:
        value = get_format(info.dtype)
    except ValueError:
        raise ConfigError("dtype", info.dtype, "a format name of hwgen.emulation.get_format") from None
    acc_name = f"int{8 * info.acc_bytes}" if isinstance(value, IntFormat) else "float32"
    acc = get_format(acc_name) if acc_name in ("int32", "int16", "int64", "float32") else None
    if acc is None or math.ceil(acc.width / 8) != info.acc_bytes:
        raise ConfigError("acc_bytes", info.acc_bytes, f"the byte size of the {info.dtype} accumulator")
    return value, acc


class Device:
    """The accelerator top behind a transport, driven one command at a time (stop-and-wait).

    Every command goes out as a frame with a fresh sequence number (modulo 256).
    A response counts only if its sync byte, sequence number, status/length pair
    and CRC are right; anything else is skipped (the receiver resynchronises on
    the next ``0x5A``) and stale responses to earlier attempts are discarded. An
    attempt without a valid response by its timeout is retried with the *same*
    sequence number, which the device's exactly-once rule makes safe for WRITE and
    RUN. After ``retries`` retries the command fails with :class:`DeviceError`: a
    result the CRC did not vouch for is never returned.

    Parameters
    ----------
    transport : Transport
        See :mod:`hwgen.host.transports`.
    timeout : float
        Seconds (of the transport's clock) an attempt waits beyond the frames' own
        line time (``byte_time_s`` times the bytes of command and response), in
        ``(0, MAX_TIMEOUT_S]``. Must exceed the device's inter-byte timeout, so that
        a command frame cut short by a lost byte is dropped by the device before the
        retry arrives, and cover the device's own time (a ``RUN``'s cycles).
    retries : int
        Resends of one command after its first attempt, in ``0..MAX_RETRIES``.

    Raises
    ------
    ConfigError
        If ``timeout`` or ``retries`` is not allowed (also when set later).

    Notes
    -----
    **Worst-case time.** One frame takes at most ``(retries + 1) * (timeout +
    line)`` seconds, ``line`` being ``byte_time_s`` times the bytes of the command
    frame and of its expected response frame; each public call says how many
    frames it sends. The first call of a session also sends the ``PING`` that
    reads :meth:`info`. With the bounds on ``timeout`` and ``retries`` no call can
    wait forever on a dead link.

    **Sessions.** The device answers a ``WRITE``/``RUN`` from its exactly-once
    record when its seq equals that of the ``WRITE``/``RUN`` just before it (see
    :mod:`hwgen.emulation.isa`). Within a session consecutive commands differ in
    seq, so only a retry can match. A new session starts at seq 0 and could meet a
    record an earlier session left; so before its first ``WRITE``/``RUN`` a session
    has a side-effect-free command answered, which empties the record. That is the
    ``PING`` of :meth:`info`, which every other command needs first, so it costs
    no extra frame. Two sessions must not drive one device at the same time.

    A damaged response is accepted only if it still has a plausible status/length
    pair, the expected seq and a matching CRC-16: random damage passes all three
    with odds well below 2**-16 per damaged frame.
    """

    def __init__(self, transport, timeout: float = 0.25, retries: int = 8):
        self.timeout, self.retries = timeout, retries
        if not all(callable(getattr(transport, name, None)) for name in ("write", "read", "now", "close")):
            raise ConfigError(
                "transport", transport, "a Transport (see hwgen.host.transports), e.g. open_transport(url)"
            )
        self.transport = transport
        self.stats = LinkStats()
        self._seq = 0
        self._fenced = False  # a side-effect-free command has been answered in this session
        self._info: DeviceInfo | None = None
        self._rx = bytearray()

    @property
    def timeout(self) -> float:
        """Seconds an attempt waits beyond its line time, in ``(0, MAX_TIMEOUT_S]``."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._timeout = _check_timeout(value)

    @property
    def retries(self) -> int:
        """Resends of one command after its first attempt, in ``0..MAX_RETRIES``."""
        return self._retries

    @retries.setter
    def retries(self, value: int) -> None:
        self._retries = _check_retries(value)

    @classmethod
    def open(cls, url: str, timeout: float = 0.25, retries: int = 8) -> Device:
        """A device on the transport ``url`` names (see :func:`hwgen.host.transports.open_transport`).

        Raises
        ------
        ConfigError
            If ``timeout`` or ``retries`` is not allowed (checked before the port opens) or the URL is not.
        """
        from hwgen.host.transports import open_transport

        _check_timeout(timeout)
        _check_retries(retries)
        return cls(open_transport(url), timeout, retries)

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- commands -----------------------------------------------------------------------------------------------
    def info(self, refresh: bool = False) -> DeviceInfo:
        """The device's shape and memories (``PING``; cached after the first call).

        Sends one frame when not cached (or with ``refresh``), none otherwise; see
        the class notes for a frame's worst-case time.

        Raises
        ------
        DeviceError
            If the ``PING`` gets no valid response within the retry bound.
        ValueError
            If the device reports another ISA version or a malformed payload.
        """
        if self._info is None or refresh:
            self._info = DeviceInfo.decode(self._command(isa.ping(), "PING"))
        return self._info

    def status(self) -> dict:
        """``STATUS`` counters: ``total_run_cycles``, ``runs``, ``good_frames``, ``dropped_frames``.

        One frame (worst case: ``(retries + 1) * (timeout + line)``, see the class notes).
        """
        return dict(zip(isa.STATUS_FIELDS, struct.unpack("<IIII", self._command(isa.status(), "STATUS")), strict=True))

    def run(self, w_addr: int, a_addr: int, o_addr: int, m: int, accumulate: bool = False) -> int:
        """``RUN`` one tile (see :class:`hwgen.emulation.isa.Opcode`); the cycles the device counted.

        One frame (worst case: ``(retries + 1) * (timeout + line)``, see the class
        notes; ``timeout`` must cover the run's own cycles).
        """
        w_addr, a_addr, o_addr, m = (
            _check_u16(name, value)
            for name, value in (("w_addr", w_addr), ("a_addr", a_addr), ("o_addr", o_addr), ("m", m))
        )
        accumulate = _check_flag("accumulate", accumulate)
        name = f"RUN(w={w_addr}, a={a_addr}, o={o_addr}, m={m}, accumulate={bool(accumulate)})"
        (cycles,) = struct.unpack("<I", self._command(isa.run(w_addr, a_addr, o_addr, m, accumulate), name))
        return cycles

    def write(self, space: Space, addr: int, values, codes: bool = False) -> None:
        """Write whole words into a scratchpad, in as many frames as ``max_payload`` needs.

        Sends ``ceil(count / words_per_frame)`` frames, ``words_per_frame`` being
        ``(max_payload - 6) // word_bytes``; each takes at most ``(retries + 1) *
        (timeout + line)`` (see the class notes).

        Parameters
        ----------
        space : Space
        addr : int
            First word.
        values : array_like
            ``(count, word_len)`` values of the space's format (the dtype for W and
            A, the accumulator for O; ``word_len`` is ``cols`` for W and O, ``rows``
            for A), or one word as a 1-D array. Encoded with the format's
            ``encode`` (floats round to nearest even); integers must be in range.
        codes : bool
            ``values`` are already the format's codes (unsigned bit patterns).

        Raises
        ------
        ValueError
            If the shape, a value or the address range is not allowed.
        """
        space = _space(space)
        words = self._encode(space, values, _check_flag("codes", codes))
        addr = self._check_range(space, addr, len(words))
        per_frame = (self.info().max_payload - 1 - _RW_ARGS) // max(1, words.shape[1])
        if per_frame < 1:
            raise ValueError(f"a {space.name} word of {words.shape[1]} bytes does not fit max_payload")
        for start in range(0, len(words), per_frame):
            chunk = words[start : start + per_frame]
            self._command(isa.write(space, addr + start, chunk), f"WRITE({space.name}[{addr + start}], {len(chunk)})")

    def read(self, space: Space, addr: int, count: int, codes: bool = False) -> np.ndarray:
        """Read ``count`` words of a scratchpad as a ``(count, word_len)`` array.

        Sends ``ceil(count / words_per_frame)`` frames, ``words_per_frame`` being
        ``max_payload // word_bytes``; each takes at most ``(retries + 1) * (timeout +
        line)`` (see the class notes).

        Values are decoded with the space's format (int64 for integers, float32
        for floats) unless ``codes`` asks for the raw codes.

        Raises
        ------
        ValueError
            If the address range is outside the scratchpad.
        """
        space = _space(space)
        codes = _check_flag("codes", codes)
        count = _check_u16("count", count)
        addr = self._check_range(space, addr, count)
        info = self.info()
        per_frame = max(1, info.max_payload // info.word_bytes(space))
        chunks = []
        for start in range(addr, addr + count, per_frame):
            n = min(per_frame, addr + count - start)
            chunks.append(self._command(isa.read(space, start, n), f"READ({space.name}[{start}], {n})"))
        return self._decode(space, b"".join(chunks), count, codes)

    def execute(self, program, progress: bool = False) -> list[bytes]:
        """Run command payloads in order; the response payload of each.

        One frame per payload, each taking at most ``(retries + 1) * (timeout +
        line)`` (see the class notes).

        Parameters
        ----------
        program : iterable of bytes
            Payloads as built by :mod:`hwgen.emulation.isa` (``isa.write``, ``isa.run``...).
        progress : bool
            Show a rich progress bar.

        Raises
        ------
        CommandRejectedError
            If the device answers a command with a status other than OK.
        DeviceError
            If a command gets no valid response within the retry bound.
        """
        program = _payloads(program)
        if not progress:
            return [self._command(p, _describe(p)) for p in program]
        from rich.progress import track

        return [self._command(p, _describe(p)) for p in track(program, description="device commands")]

    # -- framing ------------------------------------------------------------------------------------------------
    def _command(self, payload: bytes, name: str) -> bytes:
        status, response = self._transact(payload, name)
        if status != Status.OK:
            raise CommandRejectedError(name, status)
        return response

    def _transact(self, payload: bytes, name: str) -> tuple[int, bytes]:
        if payload and payload[0] != Opcode.PING and len(payload) > self.info().max_payload:
            raise ValueError(f"{name}: payload of {len(payload)} bytes; allowed: <= {self.info().max_payload}")
        ok_lengths = self._ok_lengths(payload)
        side_effects = bool(payload) and payload[0] in _SIDE_EFFECTS
        if side_effects and not self._fenced:
            self.info(refresh=True)  # see the class notes: the session's first frame must not be a WRITE/RUN
        seq, self._seq = self._seq, (self._seq + 1) % (1 << SEQ_BITS)
        frame = isa.encode_command(seq, payload)
        line = (len(frame) + RSP_HEADER + max(ok_lengths, default=0) + CRC_BYTES) * self.transport.byte_time_s
        self.stats.commands += 1
        fault = ""
        for attempt in range(1, self.retries + 2):
            self.stats.frames_sent += 1
            self.stats.retries += attempt > 1
            # The deadline counts from before the write, so an attempt never outlasts timeout + line.
            deadline = self.transport.now() + self.timeout + line
            self.transport.write(frame)
            try:
                answer = self._receive(seq, ok_lengths, deadline)
            except _LinkFaultError as exc:
                fault = str(exc)
                continue
            self._fenced |= not side_effects  # the device has emptied its exactly-once record
            return answer
        raise DeviceError(f"{name} (seq {seq})", self.retries + 1, fault)

    def _receive(self, seq: int, ok_lengths: range, deadline: float) -> tuple[int, bytes]:
        while True:
            found, need = self._scan(seq, ok_lengths)
            if found is not None:
                return found
            remaining = deadline - self.transport.now()
            if remaining < _EPSILON_S:
                self.stats.timeouts += 1
                raise _LinkFaultError(f"timeout: no valid response (seq {seq}) within the deadline")
            self._rx += self.transport.read(need, remaining)

    def _scan(self, seq: int, ok_lengths: range):
        """Hunt the receive buffer for the response; ``(found, bytes still needed)``."""
        buf = self._rx
        while True:
            start = buf.find(RSP_SYNC)
            if start < 0:
                self.stats.skipped_bytes += len(buf)
                buf.clear()
                return None, RSP_HEADER
            self.stats.skipped_bytes += start
            del buf[:start]
            if len(buf) < RSP_HEADER:
                return None, RSP_HEADER - len(buf)
            rseq, status, length = struct.unpack_from("<BBH", buf, 1)
            if not _plausible(status, length, ok_lengths):
                self.stats.skipped_bytes += 1
                del buf[:1]  # not a response header: resynchronise on the next sync byte
                continue
            total = RSP_HEADER + length + CRC_BYTES
            if len(buf) < total:
                return None, total - len(buf)
            body = bytes(buf[1 : total - CRC_BYTES])
            if isa.crc16(body) != struct.unpack_from("<H", buf, total - CRC_BYTES)[0]:
                self.stats.crc_errors += 1
                self.stats.skipped_bytes += 1
                del buf[:1]
                if rseq == seq:  # most likely our response, damaged: resend now rather than at the timeout
                    raise _LinkFaultError(f"response (seq {seq}) failed its CRC")
                continue
            del buf[:total]
            if rseq != seq:
                self.stats.stale_responses += 1
                continue
            return (status, body[4:]), 0

    def _ok_lengths(self, payload: bytes) -> range:
        """Payload lengths an OK response to ``payload`` may have; empty when only an error status can come back.

        A ``PING`` answer may be shorter than this ISA's: the payload then reaches
        :meth:`DeviceInfo.decode`, which names the device's version instead of the
        driver timing out on a response it cannot parse.
        """
        if not payload or payload[0] not in Opcode.__members__.values():
            return range(0)
        opcode = Opcode(payload[0])
        if opcode is Opcode.READ:
            if len(payload) != 1 + _RW_ARGS or payload[1] > max(Space):
                return range(0)
            _, space, _, count = struct.unpack("<BBHH", payload)
            length = count * self.info().word_bytes(Space(space))
            return range(length, length + 1)
        if opcode is Opcode.PING:
            return range(1, DeviceInfo.SIZE + 1)
        length = {Opcode.WRITE: 0, Opcode.RUN: isa.CYCLES_SIZE, Opcode.STATUS: isa.STATUS_SIZE}[opcode]
        return range(length, length + 1)

    # -- words --------------------------------------------------------------------------------------------------
    def _format(self, space: Space):
        value, acc = _cached_formats(self.info())
        return acc if space is Space.O else value

    def _word_shape(self, space: Space) -> tuple[int, int]:
        """(values per word, bytes per value) of ``space``."""
        info = self.info()
        length = info.rows if space is Space.A else info.cols
        return length, info.acc_bytes if space is Space.O else info.value_bytes

    def _encode(self, space: Space, values, codes: bool) -> np.ndarray:
        """``(count, word_bytes)`` uint8 words of ``values``."""
        length, nbytes = self._word_shape(space)
        fmt = self._format(space)
        try:
            arr = np.asarray(values)
        except ValueError:  # ragged nested sequences
            raise ValueError(f"{space.name} values are ragged; allowed: a (count, {length}) array") from None
        arr = arr[None] if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[1] != length:
            shape = np.shape(values)
            raise ValueError(f"{space.name} values of shape {shape}; allowed: (count, {length}) or ({length},)")
        if codes:
            if arr.dtype.kind not in "iu" or (arr.size and (arr.min() < 0 or arr.max() >= 1 << fmt.width)):
                raise ValueError(f"{space.name} codes must be integers in [0, 2**{fmt.width})")
            code_arr = arr.astype(np.uint64)
        else:
            code_arr = fmt.encode(arr).astype(np.uint64)
            if isinstance(fmt, IntFormat) and arr.size and not np.array_equal(fmt.decode(code_arr), arr):
                raise ValueError(
                    f"{space.name} values outside {fmt.name}'s range [{fmt.min_value}, {fmt.max_value}] or not integers"
                )
        shifts = np.arange(nbytes, dtype=np.uint64) * np.uint64(8)
        return ((code_arr[..., None] >> shifts) & np.uint64(0xFF)).astype(np.uint8).reshape(len(arr), length * nbytes)

    def _decode(self, space: Space, data: bytes, count: int, codes: bool) -> np.ndarray:
        length, nbytes = self._word_shape(space)
        fmt = self._format(space)
        if nbytes in (1, 2, 4, 8):  # a NumPy unsigned type of that size reads the little-endian codes at once
            code_arr = np.frombuffer(data, f"<u{nbytes}").reshape(count, length)
        else:
            raw = np.frombuffer(data, np.uint8).reshape(count, length, nbytes).astype(np.uint64)
            code_arr = (raw << (np.arange(nbytes, dtype=np.uint64) * np.uint64(8))).sum(axis=-1, dtype=np.uint64)
        code_arr = code_arr.astype(fmt.code_dtype)
        return code_arr if codes else fmt.decode(code_arr)

    def _check_range(self, space: Space, addr: int, count: int) -> int:
        """``addr`` as a Python int (NumPy scalars would wrap in ``addr + count``), checked against the depth."""
        addr = _check_u16("addr", addr)
        depth = self.info().depth(space)
        if addr + count > depth:
            raise ValueError(f"{space.name}[{addr}:{addr + count}] is outside the scratchpad; allowed: [0:{depth}]")
        return addr


@functools.lru_cache(maxsize=8)
def _cached_formats(info: DeviceInfo):
    """:func:`device_formats`, looked up once per device rather than once per word packed or unpacked."""
    return device_formats(info)


def _space(space) -> Space:
    try:
        return Space(space)
    except ValueError:
        raise ValueError(f"space {space!r} is not allowed; allowed: {', '.join(s.name for s in Space)}") from None


def _check_u16(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 0xFFFF:
        raise ValueError(f"{name}={value!r} is not allowed; allowed: an integer in 0..65535")
    return int(value)


def _check_flag(name: str, value) -> bool:
    """A bool (a string such as ``"no"`` would be truthy)."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(name, value, "True or False")
    return bool(value)


def _payloads(program) -> list[bytes]:
    """Command payloads as bytes: each a bytes-like object short enough for a frame's 16-bit length."""
    if isinstance(program, bytes | bytearray | memoryview | str) or not isinstance(program, Iterable):
        raise ConfigError("program", program, "an iterable of command payloads (bytes)")
    payloads = []
    for p in program:
        if not isinstance(p, bytes | bytearray | memoryview) or len(bytes(p)) > 0xFFFF:
            raise ConfigError("payload", p, "bytes of at most 65535 bytes (built with hwgen.emulation.isa)")
        payloads.append(bytes(p))
    return payloads


def _check_timeout(timeout) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise ConfigError("timeout", timeout, f"a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    return float(timeout)


def _check_retries(retries) -> int:
    if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or not 0 <= retries <= MAX_RETRIES:
        raise ConfigError("retries", retries, f"an integer in 0..{MAX_RETRIES}")
    return int(retries)


def _plausible(status: int, length: int, ok_lengths: range) -> bool:
    """Whether a response header can answer the command: OK with an expected length, or an error with none."""
    if status == Status.OK:
        return length in ok_lengths
    return status in (Status.BAD_OPCODE, Status.BAD_ARGS) and length == 0


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"0x{status:02x}"


def _describe(payload: bytes) -> str:
    """A short name of a command payload for error messages."""
    if not payload or payload[0] not in Opcode.__members__.values():
        return f"command 0x{payload[:1].hex() or 'empty'}"
    return f"{Opcode(payload[0]).name}({payload[1 : 1 + _RUN_ARGS].hex()})"
