"""The accelerator top's program for one GEMM: command payloads from a mapping, execution, result assembly."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hwgen.emulation import isa
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
        """The command frames, ``seq`` counting from ``first_seq`` modulo 256."""
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
    padded K rows never change a float sum (``hwgen.dataflow.systolic_model``).
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
    ValueError
        If the operand shapes are not the mapping's, or a code does not fit the format.
    """
    a, b = np.asarray(a_codes, np.int64), np.asarray(b_codes, np.int64)
    if a.shape != (mapping.m, mapping.k) or b.shape != (mapping.k, mapping.n):
        raise ValueError(
            f"operands {a.shape} @ {b.shape} are not allowed; allowed: ({mapping.m}, {mapping.k}) @ "
            f"({mapping.k}, {mapping.n}) as mapped"
        )
    for name, x in (("a", a), ("b", b)):
        if x.size and (x.min() < 0 or x.max() >= 1 << value_format.width):
            raise ValueError(f"{name} codes outside 0..{(1 << value_format.width) - 1} ({value_format.name})")
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
    ProgramError
        If a command's status is not OK or a response has the wrong size.
    """
    mapping, info = program.mapping, program.mapping.info
    answers = list(execute(program.payloads))
    if len(answers) != len(program.payloads):
        raise ProgramError(f"{len(answers)} responses for {len(program.payloads)} commands")
    out = np.zeros((mapping.streamed, mapping.width), np.int64)
    cycles = []
    ab = info.acc_bytes
    for i, (step, (status, payload)) in enumerate(zip(mapping.steps, answers, strict=True)):
        if status != Status.OK:
            raise ProgramError(f"command {i} ({type(step).__name__}) answered status {status:#04x}")
        if isinstance(step, Run):
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

    def execute(payloads: Sequence[bytes]) -> list[tuple[int, bytes]]:
        """``(status, response)`` of each payload, executed in order."""
        return [model.execute(p) for p in payloads]

    return execute
