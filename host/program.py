"""The accelerator top's program for one GEMM: command payloads from a mapping, execution, result assembly."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hwgen.emulation import isa
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.float_format import FloatFormat
from hwgen.emulation.isa import Space, Status
from hwgen.host.mapper import GemmMap, Read, Run, Write

__all__ = ["Program", "ProgramError", "ProgramResult", "emit_program", "model_executor", "run_program"]

#: ``execute(payloads) -> [(status, response payload), ...]``: one answer per command, in order.
Executor = Callable[[Sequence[bytes]], Sequence[tuple[int, bytes]]]


class ProgramError(RuntimeError):
    """The device answered a program's command with a bad status."""


@dataclass(frozen=True)
class Program:
    """Command payloads of one GEMM on the top, aligned with the mapping's steps.

    Attributes
    ----------
    mapping : GemmMap
    payloads : tuple of bytes
        One ``isa`` command payload per step of ``mapping.steps``.
    """

    mapping: GemmMap
    payloads: tuple[bytes, ...]

    def predicted_run_cycles(self) -> list[int]:
        """Cycles every ``RUN`` will report, in order (the top's cycle contract)."""
        from hwgen.emulation.accelerator_timing import run_cycles

        return [run_cycles(self.mapping.info, r.m) for r in self.mapping.runs]

    def frames(self, first_seq: int = 0) -> list[bytes]:
        """The command frames, ``seq`` counting from ``first_seq`` modulo 256 (``first_seq`` an int in 0..255)."""
        if isinstance(first_seq, bool) or not isinstance(first_seq, int) or not 0 <= first_seq <= 255:
            raise ConfigError("first_seq", first_seq, "an integer in 0..255")
        return [isa.encode_command(first_seq + i, p) for i, p in enumerate(self.payloads)]


@dataclass(frozen=True)
class ProgramResult:
    """What running a program returned.

    Attributes
    ----------
    codes : numpy.ndarray of int64, shape (m, n)
        Accumulator codes of ``a @ b`` (unsigned bit patterns of the accumulator format).
    run_cycles : list of int
        Cycles each ``RUN`` reported.
    """

    codes: np.ndarray
    run_cycles: list[int]


def _pad_value(fmt, negative_zero: bool) -> int:
    """Code of the padding value: 0, or ``-0`` in the held operand of a float format.

    ``(+0) * (-0) = -0`` is the exact additive identity of round-to-nearest-even, so
    padded K rows never change a float sum (``hwgen.emulation.units.systolic_plan``).
    """
    if isinstance(fmt, FloatFormat) and negative_zero:
        return int(fmt.encode(np.array([-0.0]))[0])
    return 0


def _to_bytes(codes: np.ndarray, nbytes: int) -> np.ndarray:
    codes = np.asarray(codes, np.int64)
    return ((codes[..., None] >> (8 * np.arange(nbytes))) & 0xFF).astype(np.uint8).reshape(codes.shape[0], -1)


def _block(matrix: np.ndarray, r0: int, c0: int, count: int, width: int, fill: int) -> np.ndarray:
    out = np.full((count, width), fill, np.int64)
    part = matrix[r0 : r0 + count, c0 : c0 + width]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def _check_codes(name: str, codes, fmt) -> np.ndarray:
    """``codes`` as int64 if they are an integer array of codes of ``fmt`` (a float is not truncated, nothing wraps)."""
    top = (1 << fmt.width) - 1
    try:
        raw = np.asarray(codes)
    except ValueError:  # ragged nested sequences
        raw = np.asarray(None)
    if raw.dtype.kind not in "iu":
        shown = f"an array of dtype {raw.dtype}" if raw.dtype != object else codes
        raise ConfigError(name, shown, f"an integer array of codes in 0..{top} ({fmt.name})")
    if raw.size and (raw.min() < 0 or raw.max() > top):
        raise ConfigError(name, f"codes {raw.min()}..{raw.max()}", f"{fmt.name} codes, not codes outside 0..{top}")
    return raw.astype(np.int64)


def emit_program(mapping: GemmMap, a_codes, b_codes, value_format) -> Program:
    """The command payloads that compute ``a @ b`` as ``mapping`` lays it out.

    Parameters
    ----------
    mapping : GemmMap
        From :func:`hwgen.host.mapper.plan_top_gemm`.
    a_codes, b_codes : array_like of int
        ``(m, k)`` and ``(k, n)`` codes of ``value_format`` (unsigned bit patterns).
    value_format : IntFormat or FloatFormat
        The top's W/A dtype.

    Raises
    ------
    ConfigError
        If ``mapping`` is not a GemmMap, ``value_format`` is not a format of the top's
        value width, or the operands are not integer code arrays of the mapping's shapes
        whose codes fit the format (a float code such as 1.5 is not truncated).
    """
    if not isinstance(mapping, GemmMap):
        raise ConfigError("mapping", mapping, "a GemmMap from hwgen.host.mapper.plan_top_gemm")
    width = getattr(value_format, "width", None)
    if isinstance(width, bool) or not isinstance(width, int) or -(-width // 8) != mapping.info.value_bytes:
        raise ConfigError("value_format", value_format, f"a format of {mapping.info.value_bytes} bytes (the top's)")
    a, b = _check_codes("a_codes", a_codes, value_format), _check_codes("b_codes", b_codes, value_format)
    if a.shape != (mapping.m, mapping.k) or b.shape != (mapping.k, mapping.n):
        raise ConfigError(
            "operands", f"{a.shape} @ {b.shape}", f"({mapping.m}, {mapping.k}) @ ({mapping.k}, {mapping.n}) as mapped"
        )
    streamed, held = (b.T, a.T) if mapping.dataflow == "is" else (a, b)
    info, vb = mapping.info, mapping.info.value_bytes
    w_fill, a_fill = _pad_value(value_format, True), _pad_value(value_format, False)
    payloads = []
    for step in mapping.steps:
        if isinstance(step, Write):
            held_side = step.space is Space.W
            src, width, fill = (held, info.cols, w_fill) if held_side else (streamed, info.rows, a_fill)
            words = _block(src, step.r0, step.c0, step.count, width, fill)
            payloads.append(isa.write(step.space, step.addr, _to_bytes(words, vb)))
        elif isinstance(step, Run):
            payloads.append(isa.run(step.w_addr, step.a_addr, step.o_addr, step.m, step.accumulate))
        else:
            payloads.append(isa.read(Space.O, step.addr, step.count))
    return Program(mapping, tuple(payloads))


def run_program(program: Program, execute: Executor) -> ProgramResult:
    """Execute ``program`` through ``execute`` and assemble the ``m x n`` accumulator codes.

    Raises
    ------
    ConfigError
        If ``program`` is not a Program or ``execute`` is not callable.
    ProgramError
        If a command's status is not OK or a response is not a (status, bytes) pair of the right size.
    """
    if not isinstance(program, Program):
        raise ConfigError("program", program, "a Program from emit_program")
    if not callable(execute):
        raise ConfigError("execute", execute, "a callable taking the payloads and returning (status, bytes) pairs")
    mapping, info = program.mapping, program.mapping.info
    answers = list(execute(program.payloads))
    if len(answers) != len(program.payloads):
        raise ProgramError(f"{len(answers)} responses for {len(program.payloads)} commands")
    for i, answer in enumerate(answers):
        if not (isinstance(answer, tuple | list) and len(answer) == 2 and isinstance(answer[1], bytes | bytearray)):
            raise ProgramError(f"response {i} is {answer!r:.80}; want a (status, bytes) pair")
    out = np.zeros((mapping.streamed, mapping.width), np.int64)
    cycles = []
    ab = info.acc_bytes
    for i, (step, (status, payload)) in enumerate(zip(mapping.steps, answers, strict=True)):
        if status != Status.OK:
            raise ProgramError(f"command {i} ({type(step).__name__}) answered status {status:#04x}")
        if isinstance(step, Run):
            if len(payload) != 4:
                raise ProgramError(f"RUN {i} returned {len(payload)} bytes; want 4 (the cycle count)")
            cycles.append(struct.unpack("<I", payload)[0])
        elif isinstance(step, Read):
            if len(payload) != step.count * info.word_bytes(Space.O):
                raise ProgramError(f"READ {i} returned {len(payload)} bytes; want {step.count * info.cols * ab}")
            raw = np.frombuffer(payload, np.uint8).reshape(step.count, info.cols, ab).astype(np.int64)
            words = (raw << (8 * np.arange(ab))).sum(axis=-1)
            width = min(info.cols, mapping.width - step.c0)
            out[step.r0 : step.r0 + step.count, step.c0 : step.c0 + width] = words[:, :width]
    codes = out.T if mapping.dataflow == "is" else out
    return ProgramResult(np.ascontiguousarray(codes), cycles)


def model_executor(model) -> Executor:
    """An executor running payloads on an :class:`~hwgen.emulation.accelerator_model.AcceleratorModel`."""
    if not callable(getattr(model, "execute", None)):
        raise ConfigError("model", model, "an AcceleratorModel (an object with execute(payload))")

    def execute(payloads: Sequence[bytes]) -> list[tuple[int, bytes]]:
        """``(status, response)`` of each payload, executed in order."""
        return [model.execute(p) for p in payloads]

    return execute
