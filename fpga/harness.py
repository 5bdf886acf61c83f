"""Serial I/O harness that lets a design with hundreds of port bits be placed on a small package."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HARNESS_TOP", "PASS_THROUGH", "Port", "harness_verilog", "read_ports"]

#: Module name of the harness top.
HARNESS_TOP = "hwgen_serial_harness"
#: One-bit inputs wired straight to a pin of the same name (clock and reset must not be serialised).
PASS_THROUGH = ("clk", "rst")

_SIMPLE_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Port:
    """One port of the wrapped design: ``name``, ``direction`` (``"input"``/``"output"``) and ``width``."""

    name: str
    direction: str
    width: int


def read_ports(netlist_json: Path, top: str) -> list[Port]:
    """Ports of module ``top`` in a Yosys ``write_json`` netlist.

    Raises
    ------
    KeyError
        If ``top`` is not in the netlist.
    """
    modules = json.loads(netlist_json.read_text())["modules"]
    ports = modules[top]["ports"]
    return [Port(name, p["direction"], len(p["bits"])) for name, p in ports.items()]


def harness_verilog(top: str, ports: list[Port]) -> str:
    """Verilog of a top that feeds ``top``'s inputs from a shift register and shifts its outputs out.

    All input bits (except `PASS_THROUGH` ones) come from one shift register loaded from
    pin ``hwgen_sin``; all output bits are captured into a second shift register when
    ``hwgen_capture`` is high and shifted out on ``hwgen_sout`` otherwise. Every port bit
    thus stays live (nothing is optimised away) while the harness needs only
    ``len(PASS_THROUGH) + 3`` pins. The registers add one flip-flop per port bit, and
    the output register a 2:1 multiplexer per output bit.

    Parameters
    ----------
    top : str
        Module name of the wrapped design.
    ports : list of Port

    Raises
    ------
    ValueError
        If a port is bidirectional or the design has no output.
    """
    for port in ports:
        if port.direction not in ("input", "output"):
            raise ValueError(f"port {port.name} is {port.direction}; the serial harness supports input and output")
    passed = [p for p in ports if p.direction == "input" and p.name in PASS_THROUGH and p.width == 1]
    ins = [p for p in ports if p.direction == "input" and p not in passed]
    outs = [p for p in ports if p.direction == "output"]
    if not outs:
        raise ValueError(f"{top} has no outputs; a synthesis report of it would be empty")
    n_in, n_out = sum(p.width for p in ins), sum(p.width for p in outs)
    # The harness registers need a clock even when the wrapped design is combinational.
    pins = ["input wire clk"] + [f"input wire {_ident(p.name)}" for p in passed if p.name != "clk"]
    pins += ["input wire hwgen_sin", "input wire hwgen_capture", "output wire hwgen_sout"]
    lines = [f"module {HARNESS_TOP}(", "  " + ",\n  ".join(pins), ");"]
    if n_in:
        shifted = "hwgen_sin" if n_in == 1 else f"{{in_sr[{n_in - 2}:0], hwgen_sin}}"
        lines += [f"  reg [{n_in - 1}:0] in_sr;", f"  always @(posedge clk) in_sr <= {shifted};"]
    shifted_out = "1'b0" if n_out == 1 else f"{{out_sr[{n_out - 2}:0], 1'b0}}"
    lines += [
        f"  wire [{n_out - 1}:0] outs;",
        f"  reg [{n_out - 1}:0] out_sr;",
        f"  always @(posedge clk) out_sr <= hwgen_capture ? outs : {shifted_out};",
        f"  assign hwgen_sout = out_sr[{n_out - 1}];",
    ]
    conns = [f".{_ident(p.name)}({_ident(p.name)})" for p in passed]
    conns += _slices(ins, "in_sr") + _slices(outs, "outs")
    lines += [f"  {_ident(top)} dut (", "    " + ",\n    ".join(conns), "  );", "endmodule", ""]
    return "\n".join(lines)


def _slices(ports: list[Port], bus: str) -> list[str]:
    conns, lsb = [], 0
    for port in ports:
        conns.append(f".{_ident(port.name)}({bus}[{lsb + port.width - 1}:{lsb}])")
        lsb += port.width
    return conns


def _ident(name: str) -> str:
    # Escaped identifiers end at whitespace, so the trailing space is part of the syntax.
    return name if _SIMPLE_IDENT.fullmatch(name) else f"\\{name} "
