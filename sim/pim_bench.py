"""cocotb bench for the PIM channel: a command program, values bit-exact and cycles equal to the model.

A job holds either one ``program`` (the regression: run from reset) or a list of
``segments`` (a mapped layer, :func:`hwgen.sim.unit_layers.pim_layer`): each segment runs
from reset, and the channel is reset between segments while its banks keep their data,
so weights written in one segment are read by the GEMVs of the next ones.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from hwgen.emulation.pim_model import PimCommand, PimConfig, PimModel, PimOp, PimRun
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
        return await self._segment(PimModel(self.cfg), program)

    async def run_segments(self, segments: list[list[PimCommand]]) -> dict:
        """Execute each program of ``segments`` from reset, the banks keeping their data; one report each.

        Returns ``{"segments": [...], "passed": ...}``; each segment's report is :meth:`run`'s,
        its cycles counted from the segment's first cycle after reset, plus ``beats`` (the
        RTL's own output beats as ``[op, data codes, accumulator codes]``), ``issue_cycles``
        and ``out_cycles``.
        """
        model, reports = PimModel(self.cfg), []
        for i, program in enumerate(segments):
            if i:
                await self.restart()
                storage, model = model.storage, PimModel(self.cfg)
                model.storage = storage  # DRAM keeps its data over a reset; timing and registers restart
            report = await self._segment(model, program)
            reports.append(report)
        return {"segments": reports, "passed": all(r["passed"] for r in reports)}

    async def restart(self, cycles: int = 2) -> None:
        """Hold ``rst`` for ``cycles`` rising edges with the clock running (the bank memories are not reset)."""
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def _segment(self, model: PimModel, program: list[PimCommand]) -> dict:
        """Send ``program`` from the channel's state after reset and check it against ``model`` run on it."""
        base, cmd0, out0 = self.cycle, len(self.cmds.taken_cycles), len(self.outs.beats)
        want = model.run(program)
        self.cmds.send(pack_command(self.cfg, c) for c in program)
        limit = base + 20 * want.cycles + 1000
        while not self.cmds.idle or len(self.outs.beats) - out0 < len(want.outputs):
            if self.cycle > limit:
                raise TimeoutError(f"PIM program stalled: {len(self.outs.beats) - out0} outputs after {limit} cycles")
            await self._step()
        for _ in range(4):  # let a late error flag show
            await self._step()
        issues = [c - base for c in self.cmds.taken_cycles[cmd0:]]
        outs = [c - base for c in self.outs.cycles[out0:]]
        return self._report(want, self.outs.beats[out0:], issues, outs)

    def _report(self, model: PimRun, beats: list[int], issues: list[int], outs: list[int]) -> dict:
        mismatches, decoded = [], [unpack_output(self.cfg, beat) for beat in beats]
        for i, ((op, data, mac), want) in enumerate(zip(decoded, model.outputs, strict=False)):
            got = mac if op == PimOp.RD_MAC else data
            if op != want.op or got != output_codes(self.cfg, want):
                mismatches.append(
                    f"output {i}: got {op.name} {got}, want {want.op.name} {output_codes(self.cfg, want)}"
                )
        if len(beats) != len(model.outputs):
            mismatches.append(f"got {len(beats)} outputs, want {len(model.outputs)}")
        cycles_equal = issues == model.issue_cycles and outs == [o.cycle for o in model.outputs]
        error = int(self.dut.error.value)
        return {
            "commands": len(model.issue_cycles),
            "outputs": len(beats),
            "mismatches": mismatches[:20],
            "error_flag": error,
            "full_rate": self.full_rate,
            "cycles": (outs[-1:] or issues[-1:] or [-1])[-1] + 1,
            "model_cycles": model.cycles,
            "cycles_equal": cycles_equal,
            "refreshes": len(model.refreshes),
            "passed": not mismatches and not error and (cycles_equal or not self.full_rate),
            "beats": [[int(op), list(data), list(mac)] for op, data, mac in decoded],
            "issue_cycles": issues,
            "out_cycles": outs,
        }

    async def _step(self) -> None:
        await self.step((self.cmds, self.outs))


@cocotb.test()
async def pim_regression(dut):
    """Run the job's program (or its segments) and write a JSON report beside it."""
    job = load_job()
    cfg = PimConfig.from_dict(job["config"])
    bench = PimBench(dut, cfg, job["valid_prob"], job["ready_prob"], job["seed"])
    await bench.reset()
    if "segments" in job:
        report = await bench.run_segments([[command_from_dict(d) for d in seg] for seg in job["segments"]])
    else:
        report = await bench.run([command_from_dict(d) for d in job["program"]])
    Path(job["report"]).write_text(json.dumps(report, indent=1))
    assert report["passed"], report
