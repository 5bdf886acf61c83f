"""Golden model of the accelerator top's command processor: scratchpads and the ISA's effect on them."""

from __future__ import annotations

import struct

import numpy as np

from .float_format import FloatFormat
from .fp_mac_model import fp_add, fp_dot
from .int_format import IntFormat
from .isa import ACCUMULATE, DeviceInfo, Opcode, Space, Status

__all__ = ["AcceleratorModel"]

_UINT_BYTES = (1, 2, 4)  # element sizes a NumPy unsigned type holds (8 would not fit the int64 codes)


class AcceleratorModel:
    """Executes command payloads (see :mod:`hwgen.emulation.isa`) on modelled scratchpads.

    Bit-exact reference for the RTL top and the emulator backend of the host
    driver. Words are held as value codes; ``RUN`` computes with
    :func:`hwgen.emulation.ops` semantics: integers as exact products summed in the
    wrapping accumulator, floats as :func:`fp_dot` over the rows (sequential, row 0
    first, RNE into the accumulator) and, when accumulating, one RNE add onto the
    old output. ``RUN`` reports no cycles of its own: ``run_cycles`` (a callable of
    ``m``) supplies them, so the model can stand in for a device whose timing is
    known.

    Parameters
    ----------
    info : DeviceInfo
    value_format, acc_format : IntFormat or FloatFormat
        The dtype of the W and A words and of the O words.
    run_cycles : callable, optional
        ``run_cycles(m) -> int`` cycles of a ``RUN`` of ``m`` rows; 0 when omitted.
    mul : "exact" or LMul
        The float multiplier.
    """

    def __init__(self, info: DeviceInfo, value_format, acc_format, run_cycles=None, mul="exact"):
        self.info, self.value_format, self.acc_format, self.mul = info, value_format, acc_format, mul
        self.run_cycles = run_cycles or (lambda m: 0)
        self.memory = {
            Space.W: np.zeros((info.w_depth, info.cols), np.int64),
            Space.A: np.zeros((info.a_depth, info.rows), np.int64),
            Space.O: np.zeros((info.o_depth, info.cols), np.int64),
        }
        self.counters = dict.fromkeys(("total_run_cycles", "runs", "good_frames", "dropped_frames"), 0)
        # The exactly-once record: (seq, status, payload) when the last good frame was a WRITE/RUN, else None.
        self._record: tuple[int, int, bytes] | None = None

    # -- frames -------------------------------------------------------------------------------------------------
    def handle(self, seq: int, payload: bytes) -> tuple[int, bytes]:
        """``(status, response payload)`` of a good frame, under the exactly-once rule of :mod:`~hwgen.emulation.isa`.

        A ``WRITE``/``RUN`` with the ``seq`` of a recorded ``WRITE``/``RUN`` (the good
        frame just before it) is answered from the record without executing; every
        other frame executes and then records itself if it is a ``WRITE``/``RUN`` and
        empties the record if not.
        """
        self.counters["good_frames"] += 1
        side_effects = payload[:1] in (bytes([Opcode.WRITE]), bytes([Opcode.RUN]))
        if side_effects and self._record is not None and self._record[0] == seq:
            return self._record[1], self._record[2]
        result = self.execute(payload)
        self._record = (seq, *result) if side_effects else None
        return result

    def execute(self, payload: bytes) -> tuple[int, bytes]:
        """Run one command payload; ``(status, response payload)``."""
        if not payload or payload[0] not in Opcode.__members__.values():
            return Status.BAD_OPCODE, b""
        opcode, args = Opcode(payload[0]), payload[1:]
        try:
            return getattr(self, f"_{opcode.name.lower()}")(args)
        except (struct.error, ValueError):
            return Status.BAD_ARGS, b""

    # -- commands -----------------------------------------------------------------------------------------------
    def _ping(self, args: bytes):
        self._no_args(args)
        return Status.OK, self.info.encode()

    def _status(self, args: bytes):
        self._no_args(args)
        c = self.counters
        return Status.OK, struct.pack("<IIII", c["total_run_cycles"], c["runs"], c["good_frames"], c["dropped_frames"])

    def _write(self, args: bytes):
        space, addr, count = struct.unpack_from("<BHH", args)
        space = self._space(space, addr, count)
        data = args[5:]
        if count == 0:
            raise ValueError("WRITE count must be >= 1")
        if len(data) != count * self.info.word_bytes(space):
            raise ValueError("WRITE data is not count whole words")
        self.memory[space][addr : addr + count] = self._words_to_codes(space, data, count)
        return Status.OK, b""

    def _read(self, args: bytes):
        space, addr, count = struct.unpack("<BHH", args)
        space = self._space(space, addr, count)
        return Status.OK, self._codes_to_words(space, self.memory[space][addr : addr + count])

    def _run(self, args: bytes):
        w, a, o, m, flags = struct.unpack("<HHHHB", args)
        rows = self.info.rows
        for space, addr, count in ((Space.W, w, rows), (Space.A, a, m), (Space.O, o, m)):
            self._space(space, addr, count)
        if m < 1:
            raise ValueError("RUN m must be >= 1")
        acts, weights = self.memory[Space.A][a : a + m], self.memory[Space.W][w : w + rows]
        result = self._product(acts, weights)
        if flags & ACCUMULATE:
            result = self._add(self.memory[Space.O][o : o + m], result)
        self.memory[Space.O][o : o + m] = result
        cycles = int(self.run_cycles(m))
        self.counters["runs"] += 1
        self.counters["total_run_cycles"] = (self.counters["total_run_cycles"] + cycles) & 0xFFFFFFFF
        return Status.OK, struct.pack("<I", cycles)

    # -- arithmetic ---------------------------------------------------------------------------------------------
    def _product(self, act_codes: np.ndarray, weight_codes: np.ndarray) -> np.ndarray:
        """``(m, cols)`` accumulator codes of ``act @ weight``."""
        if isinstance(self.value_format, IntFormat):
            values = self.value_format.decode(act_codes) @ self.value_format.decode(weight_codes)
            return self.acc_format.fit(values).astype(np.int64) & ((1 << self.acc_format.width) - 1)
        a = np.broadcast_to(act_codes[:, None, :], (act_codes.shape[0], weight_codes.shape[1], act_codes.shape[1]))
        b = np.broadcast_to(weight_codes.T[None], a.shape)
        return fp_dot(np.ascontiguousarray(a), np.ascontiguousarray(b), self.value_format, self.acc_format, self.mul)

    def _add(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        acc = self.acc_format
        if isinstance(acc, IntFormat):
            return (old + new) & ((1 << acc.width) - 1)
        assert isinstance(acc, FloatFormat)
        return fp_add(old, new, acc)  # the FpAdder's golden model, canonical NaN included

    # -- words --------------------------------------------------------------------------------------------------
    def _space(self, space: int, addr: int, count: int) -> Space:
        if space not in (0, 1, 2):
            raise ValueError(f"space {space}")
        space = Space(space)
        if count > self.info.depth(space) or addr + count > self.info.depth(space):
            raise ValueError(f"{space.name}[{addr}:{addr + count}] outside the scratchpad")
        return space

    def _element_bytes(self, space: Space) -> int:
        return self.info.acc_bytes if space is Space.O else self.info.value_bytes

    def _words_to_codes(self, space: Space, data: bytes, count: int) -> np.ndarray:
        nbytes = self._element_bytes(space)
        if nbytes in _UINT_BYTES:  # a NumPy unsigned type of that size reads the little-endian codes at once
            return np.frombuffer(data, f"<u{nbytes}").reshape(count, -1).astype(np.int64)
        raw = np.frombuffer(data, np.uint8).reshape(count, -1, nbytes).astype(np.int64)
        return (raw << (8 * np.arange(nbytes))).sum(axis=-1)  # unsigned codes

    def _codes_to_words(self, space: Space, codes: np.ndarray) -> bytes:
        nbytes = self._element_bytes(space)
        codes = np.asarray(codes, np.int64) & ((1 << (8 * nbytes)) - 1)
        if nbytes in _UINT_BYTES:
            return codes.astype(f"<u{nbytes}").tobytes()
        return ((codes[..., None] >> (8 * np.arange(nbytes))) & 0xFF).astype(np.uint8).tobytes()

    @staticmethod
    def _no_args(args: bytes) -> None:
        if args:
            raise ValueError("command takes no arguments")
