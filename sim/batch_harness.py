"""Verilog testbench that streams whole batches from memory images, so simulation runs free of Python.

A per-cycle cocotb loop costs a Python round trip every clock; this harness instead
loads each input stream's beats with ``$readmemh``, drives them with valid/ready
(optionally idling sources and stalling the sink from an LFSR), captures every output
beat into memory, counts cycles from the first input handshake to the last output
handshake, and writes the outputs with ``$writememh`` when the expected number has
arrived. cocotb only starts the clock and waits for ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StreamPort", "HARNESS_TOP", "harness_verilog", "stream_ports"]

#: Module name of the generated harness.
HARNESS_TOP = "hwgen_batch_harness"


@dataclass(frozen=True)
class StreamPort:
    """One ``amaranth.lib.stream`` port of the DUT as it appears in Verilog."""

    name: str
    width: int
    is_input: bool


def stream_ports(ports: list[dict]) -> list[StreamPort]:
    """Find the stream ports in a manifest's port list (``<name>__payload/valid/ready``)."""
    by_name = {p["name"]: p for p in ports}
    found = []
    for p in ports:
        if p["name"].endswith("__payload"):
            base = p["name"][: -len("__payload")]
            if f"{base}__valid" in by_name and f"{base}__ready" in by_name:
                found.append(StreamPort(base, p["width"], p["direction"] == "input"))
    return found


def harness_verilog(dut_top: str, streams: list[StreamPort], depth: int, stall_percent: int) -> str:
    """Verilog source of the harness around ``dut_top``.

    Parameters
    ----------
    dut_top : str
        DUT module name (ports ``clk``, ``rst`` and the streams).
    streams : list of StreamPort
        Exactly one output stream; any number of input streams.
    depth : int
        Beats each memory holds (the largest batch the build can run).
    stall_percent : int
        0 for full rate; otherwise the percentage of cycles in which an idle source
        holds back and the sink refuses (from a free-running LFSR, reproducible).

    Files (in the simulator's working directory): ``<port>.hex`` per input stream,
    ``counts.hex`` (one line per input stream, in the order given, then the number of
    output beats, as hex), and ``<port>.out.hex`` written at the end.
    """
    outputs = [s for s in streams if not s.is_input]
    inputs = [s for s in streams if s.is_input]
    if len(outputs) != 1:
        raise ValueError(f"harness needs exactly one output stream, found {[s.name for s in outputs]}")
    out = outputs[0]
    # An 8-bit slice of a free-running LFSR against this threshold decides each stall.
    threshold = round(stall_percent * 256 / 100)
    lines = [
        f"module {HARNESS_TOP}(input clk, input rst, output reg done, output reg [63:0] cycles);",
        f"  reg [31:0] counts [0:{len(inputs)}];",
        "  reg [15:0] lfsr;",
        "  reg started;",
        "  reg [63:0] elapsed;",
        f"  wire [{out.width - 1}:0] {out.name}__payload;",
        f"  wire {out.name}__valid;",
        f"  wire {out.name}__ready = ~rst & ~done & (lfsr[15:8] >= 8'd{threshold});",
        f"  reg [{out.width - 1}:0] {out.name}_mem [0:{depth - 1}];",
        f"  reg [31:0] {out.name}_count;",
    ]
    handshakes = []
    for i, s in enumerate(inputs):
        lines += [
            f"  reg [{s.width - 1}:0] {s.name}_mem [0:{depth - 1}];",
            f"  reg [31:0] {s.name}_index;",
            f"  reg {s.name}__valid;",
            f"  wire {s.name}__ready;",
            f"  wire [{s.width - 1}:0] {s.name}__payload = {s.name}_mem[{s.name}_index];",
            f"  wire {s.name}_more = {s.name}_index < counts[{i}];",
            # An offered beat stays offered until taken (the stream rule); a new one is offered unless stalled.
            f"  wire {s.name}_offer = {s.name}__valid | ({s.name}_more & (lfsr[7:0] >= 8'd{threshold}));",
        ]
        handshakes.append(f"{s.name}__valid & {s.name}__ready")
    any_input = " | ".join(f"({h})" for h in handshakes) or "1'b0"
    connections = ", ".join(
        [".clk(clk)", ".rst(rst)"]
        + [f".{s.name}__{sig}({s.name}__{sig})" for s in streams for sig in ("payload", "valid", "ready")]
    )
    lines += [
        f"  {dut_top} dut({connections});",
        "  initial begin",
        '    $readmemh("counts.hex", counts);',
        *[f'    $readmemh("{s.name}.hex", {s.name}_mem);' for s in inputs],
        "  end",
        "  always @(posedge clk) begin",
        "    if (rst) begin",
        "      lfsr <= 16'hace1; started <= 0; elapsed <= 0; done <= 0; cycles <= 0;",
        f"      {out.name}_count <= 0;",
        *[f"      {s.name}_index <= 0; {s.name}__valid <= 0;" for s in inputs],
        "    end else begin",
        "      lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};",
        f"      if ({any_input}) started <= 1;",
        f"      if (started | {any_input}) elapsed <= elapsed + 1;",
        *[line for i, s in enumerate(inputs) for line in _source_step(s.name, i, threshold)],
        f"      if ({out.name}__valid & {out.name}__ready) begin",
        f"        {out.name}_mem[{out.name}_count] <= {out.name}__payload;",
        f"        {out.name}_count <= {out.name}_count + 1;",
        f"        if ({out.name}_count + 1 == counts[{len(inputs)}]) begin",
        "          done <= 1;",
        "          cycles <= elapsed + 1;",
        "        end",
        "      end",
        "    end",
        "  end",
        "  always @(posedge done) begin",
        f'    $writememh("{out.name}.out.hex", {out.name}_mem, 0, counts[{len(inputs)}] - 1);',
        "  end",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def _source_step(name: str, index: int, threshold: int) -> tuple[str, ...]:
    """Per-clock update of one input stream: advance on a handshake, else keep or make an offer."""
    gate = f"(lfsr[7:0] >= 8'd{threshold})"
    return (
        f"      if ({name}__valid & {name}__ready) begin",
        f"        {name}_index <= {name}_index + 1;",
        f"        {name}__valid <= ({name}_index + 1 < counts[{index}]) & {gate};",
        "      end else",
        f"        {name}__valid <= {name}_offer;",
    )
