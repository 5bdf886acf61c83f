"""cocotb bench for the PIM channel: a command program, values bit-exact and cycles equal to the model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb

from hwgen.emulation.pim_model import PimCommand, PimConfig, PimOp, PimRun, run_program
from hwgen.host.pim_mapping import output_codes, pack_command, unpack_output
from hwgen.sim.clocked_bench import ClockedBench
from hwgen.sim.cocotb_runner import load_job
from hwgen.sim.streams import StreamDriver, StreamMonitor

__all__ = ["PimBench", "command_from_dict", "command_to_dict"]


def command_to_dict(cmd: PimCommand) -> dict:
    """JSON form of a command (for the job file)."""
    return {"op": int(cmd.op), "bank": cmd.bank, "row": cmd.row, "col": cmd.col, "data": cmd.data, "bias": cmd.bias}


def command_from_dict(d: dict) -> PimCommand:
    """Inverse of :func:`command_to_dict`."""
    return PimCommand(PimOp(d["op"]), d["bank"], d["row"], d["col"], tuple(d["data"]), tuple(d["bias"]))


class PimBench(ClockedBench):
    """Drives ``i_cmd``, monitors ``o_out`` and checks both against ``PimModel``.

    Parameters
    ----------
    dut : cocotb handle of the generated top
    cfg : PimConfig
    valid_prob, ready_prob : float
        Source idleness and sink back-pressure; at 1.0 each, every command's issue
        cycle and every output's cycle must equal the model's.
    seed : int
    """

    def __init__(self, dut, cfg: PimConfig, valid_prob: float, ready_prob: float, seed: int):
        super().__init__(dut)
        self.cfg = cfg
        flow = random.Random(seed)
        self.cmds = StreamDriver(dut, "i_cmd", valid_prob, flow)
        self.outs = StreamMonitor(dut, "o_out", ready_prob, flow)
        self.full_rate = valid_prob == 1.0 and ready_prob == 1.0

    async def run(self, program: list[PimCommand]) -> dict:
        """Execute ``program`` (from reset) and return the report dict."""
        model = run_program(self.cfg, program)
        self.cmds.send(pack_command(self.cfg, c) for c in program)
        limit = 20 * model.cycles + 1000
        while not self.cmds.idle or len(self.outs.beats) < len(model.outputs):
            if self.cycle > limit:
                raise TimeoutError(f"PIM program stalled: {len(self.outs.beats)} outputs after {limit} cycles")
            await self._step()
        for _ in range(4):  # let a late error flag show
            await self._step()
        return self._report(model)

    def _report(self, model: PimRun) -> dict:
        mismatches = []
        for i, (beat, want) in enumerate(zip(self.outs.beats, model.outputs, strict=False)):
            op, data, mac = unpack_output(self.cfg, beat)
            got = mac if op == PimOp.RD_MAC else data
            if op != want.op or got != output_codes(self.cfg, want):
                mismatches.append(
                    f"output {i}: got {op.name} {got}, want {want.op.name} {output_codes(self.cfg, want)}"
                )
        if len(self.outs.beats) != len(model.outputs):
            mismatches.append(f"got {len(self.outs.beats)} outputs, want {len(model.outputs)}")
        cycles_equal = self.cmds.taken_cycles == model.issue_cycles and self.outs.cycles == [
            o.cycle for o in model.outputs
        ]
        error = int(self.dut.error.value)
        return {
            "commands": len(model.issue_cycles),
            "outputs": len(self.outs.beats),
            "mismatches": mismatches[:20],
            "error_flag": error,
            "full_rate": self.full_rate,
            "cycles": (self.outs.cycles[-1:] or self.cmds.taken_cycles[-1:] or [-1])[-1] + 1,
            "model_cycles": model.cycles,
            "cycles_equal": cycles_equal,
            "refreshes": len(model.refreshes),
            "passed": not mismatches and not error and (cycles_equal or not self.full_rate),
        }

    async def _step(self) -> None:
        await self.step((self.cmds, self.outs))


@cocotb.test()
async def pim_regression(dut):
    """Run the job's program and write a JSON report beside it."""
    job = load_job()
    cfg = PimConfig.from_dict(job["config"])
    bench = PimBench(dut, cfg, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    report = await bench.run([command_from_dict(d) for d in job["program"]])
    Path(job["report"]).write_text(json.dumps(report, indent=1))
    assert report["passed"], report
