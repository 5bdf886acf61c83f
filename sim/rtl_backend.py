"""The ``rtl`` backend: GEMM programs run on the accelerator top's Verilog (stream link) in cocotb.

Importing this module (``import hwgen.sim`` does) registers :class:`RtlBackend` as
``get_backend("rtl")`` with :func:`hwgen.host.backends.register_backend`.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import cocotb

from hwgen.emulation import isa
from hwgen.emulation.isa import Opcode, Status
from hwgen.host.backends import BACKENDS, ProgramBackend, register_backend
from hwgen.host.program import Program, ProgramError, ProgramResult, run_program
from hwgen.sim.cocotb_runner import CocotbSession, SimulationError, load_job, locked

__all__ = ["RtlBackend", "RtlRun", "rtl_program"]

_TEST_MODULE = "hwgen.sim.rtl_backend"
#: Compiled tops of this process by (TopConfig, simulator): a Verilator build takes a minute, so backends share it.
_SESSIONS: dict = {}


@dataclass(frozen=True)
class RtlRun:
    """Responses of one command sequence on the RTL, and the top's own cycle counters.

    Attributes
    ----------
    responses : list of (int, bytes)
        ``(status, payload)`` of every command, in order.
    run_cycles : list of int
        Cycles each ``RUN`` reported (the top's counter).
    counters : dict
        ``STATUS`` read after the last command (``total_run_cycles``, ``runs``, ...).
    bench_cycles : int
        Clock cycles the whole sequence took, link time included.
    """

    responses: list
    run_cycles: list
    counters: dict
    bench_cycles: int


class RtlBackend(ProgramBackend):
    """Programs executed by the generated Verilog of the accelerator top, through its byte-stream link.

    The top is built once (``build_top`` of a ``TopConfig`` with ``link="stream"``) and compiled once
    per backend; every :meth:`run_program` is one cocotb run that sends the program's
    frames, checks each response frame's CRC and sequence number, and reads ``STATUS``
    at the end, so the cycles come from the top's counters.

    Parameters
    ----------
    rows, cols : int
        Array shape.
    dtype : str
        Value format (the accumulator is the array's: int32 or float32).
    top_dataflow : {"ws", "is"}
        Dataflow the array is built with (the ISA is the same for both).
    dataflow : {"ws", "is"}
        How the host maps GEMMs onto the top.
    memories : dict, optional
        ``w_depth``, ``a_depth``, ``o_depth``, ``max_payload`` of the top (``TopConfig`` fields).
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    work_dir : path
        Build folder (default ``build/rtl_backend/<top>``).

    Raises
    ------
    ConfigError
        If the configuration is not allowed.
    """

    name = "rtl"

    def __init__(
        self,
        rows: int = 4,
        cols: int = 4,
        dtype: str = "int8",
        top_dataflow: str = "ws",
        dataflow: str = "ws",
        memories: dict | None = None,
        simulator: str = "verilator",
        work_dir=None,
    ):
        from hwgen.emulation.units.systolic_config import ACCS
        from hwgen.emulation.units.top_config import TopConfig, device_info

        acc = ACCS.get(dtype, ("int32",))[0]
        self.top_cfg = TopConfig(rows, cols, top_dataflow, dtype, acc, link="stream", **(memories or {}))
        info = device_info(self.top_cfg.array, **self.top_cfg.memories)
        super().__init__(info, self.top_cfg.array.dtype_format, self.top_cfg.array.acc_format, dataflow)
        self.simulator = simulator
        self.work_dir = Path(work_dir or Path("build/rtl_backend") / self.top_cfg.top_name).resolve()
        self.last_run: RtlRun | None = None

    def _built(self) -> CocotbSession:
        """Write the top's Verilog and compile it, once per configuration and simulator in this process."""
        key = (self.top_cfg, self.simulator)
        if key not in _SESSIONS:
            from hwgen.dataflow.accelerator import build_top

            # Another process may run the same top from the same folder: writing the Verilog and
            # compiling it (cached by content) happen under one lock, so neither reads a half-written file.
            with locked(self.work_dir / "rtl.lock"):
                build = build_top(self.top_cfg, self.work_dir / "rtl")
                session = CocotbSession([build.verilog], self.top_cfg.top_name, self.simulator, self.work_dir)
                _SESSIONS[key] = session.build()
        return _SESSIONS[key]

    def run_commands(self, payloads, seed: int = 0, valid_prob: float = 1.0, ready_prob: float = 1.0) -> RtlRun:
        """Send command payloads (then ``STATUS``) to the top; every response, CRC- and ``seq``-checked.

        Raises
        ------
        SimulationError
            If the simulation fails or a response frame is malformed.
        """
        payloads = [bytes(p) for p in payloads] + [isa.status()]
        job = {
            "payloads": [p.hex() for p in payloads],
            "seed": seed,
            "valid_prob": valid_prob,
            "ready_prob": ready_prob,
        }
        run = self._built().run(_TEST_MODULE, job)
        if not run.passed or run.report is None:
            raise SimulationError(f"the RTL run of {len(payloads)} commands failed; see {run.log}")
        responses = []
        for i, frame in enumerate(run.report["responses"]):
            try:
                seq, status, payload = isa.decode_response(bytes.fromhex(frame))
            except ValueError as exc:
                raise SimulationError(f"response {i} is malformed ({exc}); see {run.log}") from None
            if seq != i & 0xFF:
                raise SimulationError(f"response {i} carries seq {seq}; want {i & 0xFF}; see {run.log}")
            responses.append((status, payload))
        *responses, (status, counters) = responses
        if status != Status.OK:
            raise SimulationError(f"STATUS answered {status:#04x}; see {run.log}")
        counters = dict(zip(isa.STATUS_FIELDS, struct.unpack("<IIII", counters), strict=True))
        cycles = [
            struct.unpack("<I", r)[0]
            for p, (s, r) in zip(payloads, responses, strict=False)
            if p[:1] == bytes([Opcode.RUN]) and s == Status.OK
        ]
        return RtlRun(responses, cycles, counters, run.report["bench_cycles"])

    def run_program(self, program: Program) -> ProgramResult:
        """Run ``program`` on the RTL; the result codes and each ``RUN``'s cycles from the top's counter.

        Raises
        ------
        ProgramError
            If a command is rejected, or the top's ``total_run_cycles`` counter disagrees
            with the cycles its ``RUN`` responses reported.
        """
        rtl = self.run_commands(program.payloads)
        self.last_run = rtl
        if rtl.counters["total_run_cycles"] != sum(rtl.run_cycles) or rtl.counters["runs"] != len(rtl.run_cycles):
            raise ProgramError(f"STATUS counters {rtl.counters} disagree with the RUN responses {rtl.run_cycles}")
        return run_program(program, lambda payloads: rtl.responses)


if BACKENDS.get("rtl") is None:  # a re-import (cocotb loads this module as its test module) keeps the first
    register_backend("rtl", RtlBackend)


@cocotb.test()
async def rtl_program(dut):
    """Send the job's command payloads as frames through ``i_rx``; record every response frame from ``o_tx``."""
    from hwgen.sim.top_bench import TopBench

    job = load_job()
    bench = TopBench(dut, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    responses = []
    for i, payload in enumerate(job["payloads"]):
        responses.append((await bench.transact(i & 0xFF, bytes.fromhex(payload))).hex())
    Path(job["report"]).write_text(json.dumps({"responses": responses, "bench_cycles": bench.cycle}))
