"""Run planned GEMMs through the batch harness: memory images in, Verilog free-running, outputs checked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwgen.dataflow.hardware import build_unit
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.systolic_plan import gemm_cycles, plan_gemm
from hwgen.sim.batch_harness import HARNESS_TOP, harness_verilog, stream_ports
from hwgen.sim.cocotb_runner import CocotbSession
from hwgen.sim.systolic_vectors import check_outputs, input_beats

__all__ = ["BatchResult", "BatchRunner"]


@dataclass(frozen=True)
class BatchResult:
    """One GEMM through the harness: correctness, cycles, and how fast the simulator ran."""

    m: int
    k: int
    n: int
    mismatches: list[str]
    cycles: int
    expected_cycles: int | None
    sim_seconds: float
    wall_seconds: float

    @property
    def passed(self) -> bool:
        return not self.mismatches and (self.expected_cycles is None or self.cycles == self.expected_cycles)

    @property
    def macs_per_second(self) -> float:
        """Useful MACs simulated per second of simulator time."""
        return self.m * self.k * self.n / self.sim_seconds if self.sim_seconds else 0.0


class BatchRunner:
    """Builds an array and its batch harness once, then runs GEMMs through them.

    Parameters
    ----------
    cfg : ArrayConfig
    work_dir : path
    simulator : str
        ``"verilator"`` (default) or ``"icarus"``.
    depth : int
        Most beats one stream of a GEMM may carry.
    stall_percent : int
        0..90: share of cycles in which sources idle and the sink stalls (0: full rate,
        where cycles must equal the formula).

    Raises
    ------
    ValueError
        If ``depth`` or ``stall_percent`` is out of range.
    """

    def __init__(
        self, cfg: ArrayConfig, work_dir, simulator: str = "verilator", depth: int = 4096, stall_percent: int = 0
    ):
        if not 1 <= depth <= 1 << 22:
            raise ValueError(f"depth={depth} is not allowed; allowed: 1 to {1 << 22}")
        if not 0 <= stall_percent <= 90:
            raise ValueError(f"stall_percent={stall_percent} is not allowed; allowed: 0 to 90")
        self.cfg, self.depth, self.stall_percent = cfg, depth, stall_percent
        work = Path(work_dir).resolve()
        build = build_unit(cfg, work / "rtl")
        harness = work / "rtl" / f"{HARNESS_TOP}.v"
        streams = stream_ports(build.manifest_data["ports"])
        self._widths = {s.name: s.width for s in streams}
        self._inputs = [s.name for s in streams if s.is_input]
        self._output = next(s.name for s in streams if not s.is_input)
        harness.write_text(harness_verilog(build.manifest_data["top"], streams, depth, stall_percent))
        self.session = CocotbSession([build.verilog, harness], HARNESS_TOP, simulator, work).build()

    def run(self, a: np.ndarray, b: np.ndarray) -> BatchResult:
        """Run ``a @ b``; compare every output beat with the emulator and the cycles with the formula."""
        plan = plan_gemm(self.cfg, a.shape[0], a.shape[1], b.shape[1])
        beats = input_beats(plan, a, b)
        want = len(plan.output_beats(a, b))
        longest = max(want, *(len(v) for v in beats.values()))
        if longest > self.depth:
            raise ValueError(f"GEMM {a.shape[0]}x{a.shape[1]}x{b.shape[1]} needs {longest} beats; depth={self.depth}")
        run_dir = self.session.run_dir
        for port in self._inputs:
            _write_hex(run_dir / f"{port}.hex", beats[port], self._widths[port])
        counts = [len(beats[port]) for port in self._inputs] + [want]
        (run_dir / "counts.hex").write_text("".join(f"{c:x}\n" for c in counts))
        out_file = run_dir / f"{self._output}.out.hex"
        out_file.unlink(missing_ok=True)
        expected = gemm_cycles(plan)
        start = time.perf_counter()
        run = self.session.run("hwgen.sim.batch_bench", {"max_cycles": 50 * expected + 1000})
        wall = time.perf_counter() - start
        got = _read_hex(out_file) if out_file.exists() else []
        report = run.report or {"cycles": 0, "sim_seconds": 0.0}
        return BatchResult(
            plan.m,
            plan.k,
            plan.n,
            mismatches=check_outputs(plan, a, b, got) if run.passed else [f"simulation failed; see {run.log}"],
            cycles=report["cycles"],
            expected_cycles=None if self.stall_percent else expected,
            sim_seconds=report["sim_seconds"],
            wall_seconds=wall,
        )


def _read_hex(path: Path) -> list[int]:
    # Icarus writes "// 0x..." address comments into $writememh files; Verilator does not.
    return [
        int(word, 16) for line in path.read_text().splitlines() if not line.startswith("//") for word in line.split()
    ]


def _write_hex(path: Path, values: list[int], width: int) -> None:
    digits = (width + 3) // 4
    path.write_text("".join(f"{v:0{digits}x}\n" for v in values) or "0\n")
