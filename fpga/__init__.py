"""FPGA synthesis and place-and-route reports (Yosys and nextpnr, YoWASP builds)."""

from hwgen.fpga.devices import DEFAULT_DEVICES, FAMILIES
from hwgen.fpga.report import SynthesisError, SynthReport
from hwgen.fpga.synth import generic_gates, synthesize

__all__ = ["DEFAULT_DEVICES", "FAMILIES", "SynthReport", "SynthesisError", "generic_gates", "synthesize"]
