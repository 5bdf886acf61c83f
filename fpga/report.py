"""Synthesis report and error types, and parsers of Yosys ``stat -json`` and nextpnr ``--report`` files."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CELL_CLASSES", "SynthReport", "SynthesisError", "cell_counts", "classify", "overused", "parse_pnr_report"]

#: Cell types counted under each report field, per family. Every ``SB_DFF*`` variant is a flip-flop.
CELL_CLASSES = {
    "ice40": {"luts": ("SB_LUT4",), "carry": ("SB_CARRY",), "bram": ("SB_RAM40_4K",), "dsp": ("SB_MAC16",)},
    "ecp5": {
        "luts": ("LUT4",),
        "ffs": ("TRELLIS_FF",),
        "carry": ("CCU2C",),
        "bram": ("DP16KD", "PDPW16KD"),
        "dsp": ("MULT18X18D", "ALU54B"),
    },
}
# Yosys bookkeeping cells that are not hardware.
_NOT_CELLS = ("$scopeinfo",)
# A line of nextpnr's "Device utilisation" table: "Info:   ICESTORM_LC:  1085/  384  282%".
_UTILISATION_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")


class SynthesisError(RuntimeError):
    """Synthesis or place-and-route failed: the design does not fit, or a tool reported an error.

    Parameters
    ----------
    target : str
        Family and device, e.g. ``"ice40 up5k-sg48"``.
    cause : str
        One line: the tool's first error message.
    log : Path or None
        Log of the failing tool run.
    """

    def __init__(self, target: str, cause: str, log: Path | None = None):
        self.target = target
        self.cause = cause
        self.log = log
        where = f" (log: {log})" if log else ""
        super().__init__(f"synthesis for {target} failed: {cause}{where}")


@dataclass(frozen=True)
class SynthReport:
    """Resource and timing figures of one design on one FPGA.

    Cell counts are those of the design itself as Yosys mapped it (an I/O harness, if
    one was needed, is not counted); ``utilisation`` is nextpnr's view of the whole
    placed netlist, harness included.

    Attributes
    ----------
    family, device, package : str
    luts : int
        LUT4 cells outside carry chains (``SB_LUT4`` / ``LUT4``). On iCE40 an
        ``SB_CARRY`` shares a logic cell with the LUT computing its sum bit; on ECP5 each
        ``CCU2C`` is a further two LUT4s, see `fabric_luts`.
    ffs : int
        Flip-flops (``SB_DFF*`` / ``TRELLIS_FF``).
    carry : int
        Carry cells (``SB_CARRY`` / ``CCU2C``).
    bram : int
        Block RAMs (``SB_RAM40_4K`` / ``DP16KD``).
    dsp : int
        Multiplier blocks (``SB_MAC16`` / ``MULT18X18D``).
    cells : int
        All mapped cells.
    fmax_mhz : float or None
        Achieved frequency of the ``clk`` domain after routing; None if not placed.
    timing_met : bool or None
        Whether ``fmax_mhz`` reaches the requested target; None if not placed or no
        target was requested. A miss is reported here, never raised.
    utilisation : dict
        nextpnr resource use, ``{bel_type: {"used": n, "available": m}}`` for every bel
        type in use; empty if not placed.
    tool_versions : dict
        Versions of the tools that produced the figures.
    io_strategy : str
        How the design's ports met the package: ``"out-of-context"`` (nextpnr-ecp5 left
        ports unplaced), ``"serial-harness"`` (iCE40: see `hwgen.fpga.harness`) or
        ``"none"`` (synthesis only).
    clock_mhz_target : float or None
        Requested frequency.
    cells_by_type : dict
        Every mapped cell type of the design and its count.
    runtime_s : dict
        Wall-clock seconds of each step (``"yosys"``, ``"nextpnr"``).
    """

    family: str
    device: str
    package: str
    luts: int
    ffs: int
    carry: int
    bram: int
    dsp: int
    cells: int
    fmax_mhz: float | None
    timing_met: bool | None
    utilisation: dict
    tool_versions: dict
    io_strategy: str
    clock_mhz_target: float | None
    cells_by_type: dict
    runtime_s: dict

    @property
    def fabric_luts(self) -> int:
        """LUT4s the logic occupies, carry chains included (ECP5: two per ``CCU2C``)."""
        return self.luts + 2 * self.carry if self.family == "ecp5" else self.luts

    def to_dict(self) -> dict:
        """Return the report as a JSON-serialisable dict for build manifests."""
        return {**dataclasses.asdict(self), "fabric_luts": self.fabric_luts}


def cell_counts(stat_json: Path, module: str | None = None) -> dict[str, int]:
    """Cell counts by type from a Yosys ``stat -json`` file.

    Parameters
    ----------
    stat_json : Path
    module : str, optional
        Count only this module (as named in the source); the whole design if omitted.
    """
    stat = json.loads(stat_json.read_text())
    if module is None:
        counts = stat["design"]["num_cells_by_type"]
    else:
        modules = stat["modules"]
        # Yosys escapes public names with a backslash in stat output.
        counts = modules.get(f"\\{module}", modules.get(module))["num_cells_by_type"]
    return {cell: int(n) for cell, n in counts.items() if cell not in _NOT_CELLS}


def classify(family: str, counts: dict[str, int]) -> dict[str, int]:
    """Fold cell counts into the report fields ``luts, ffs, carry, bram, dsp, cells``."""
    classes = CELL_CLASSES[family]
    fields = {name: sum(counts.get(cell, 0) for cell in cells) for name, cells in classes.items()}
    if family == "ice40":
        fields["ffs"] = sum(n for cell, n in counts.items() if cell.startswith("SB_DFF"))
    fields["cells"] = sum(counts.values())
    return fields


def parse_pnr_report(report_json: Path, clock: str = "clk") -> tuple[float | None, float | None, dict]:
    """Read nextpnr's ``--report`` file.

    Returns
    -------
    fmax_mhz, constraint_mhz : float or None
        Of ``clock``, or of a clock net derived from it (nextpnr renames a clock routed
        through a global buffer, e.g. ``clk$SB_IO_IN_$glb_clk``); None if no such clock.
    utilisation : dict
        ``{bel_type: {"used", "available"}}`` for bel types in use.
    """
    report = json.loads(report_json.read_text())
    fmax = report.get("fmax", {})
    name = clock if clock in fmax else next((n for n in sorted(fmax) if n.startswith(clock + "$")), None)
    achieved = constraint = None
    if name is not None:
        achieved, constraint = float(fmax[name]["achieved"]), float(fmax[name]["constraint"])
    utilisation = {
        bel: {"used": int(u["used"]), "available": int(u["available"])}
        for bel, u in report.get("utilization", {}).items()
        if u["used"]
    }
    return achieved, constraint, utilisation


def overused(nextpnr_log: Path) -> list[str]:
    """Resources a nextpnr log's utilisation table shows over capacity, as ``"ICESTORM_LC 1085/384"``."""
    try:
        lines = nextpnr_log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    over = []
    for line in lines:
        match = _UTILISATION_LINE.match(line.strip())
        if match and int(match[2]) > int(match[3]):
            over.append(f"{match[1]} {match[2]}/{match[3]}")
    return over
