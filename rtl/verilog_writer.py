"""Convert an Amaranth component to Verilog: the deliverable copy and an attribute-free copy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from amaranth.back import rtlil
from amaranth.back.verilog import _convert_rtlil_text
from amaranth.lib import wiring

__all__ = ["FSM_LINT_WAIVERS", "LINT_WAIVERS", "GeneratedVerilog", "generate_verilog"]

#: Verilator configuration shipped beside every generated file. Amaranth folds a
#: sign-extended operand back to its own width, so Yosys writes ``acc + $signed(product)``
#: with a narrower product; IEEE 1364 sign-extends it, which is exactly the MAC we want,
#: but Verilator's style lint flags it. Only that message is waived; every other warning
#: still fails ``verilator --lint-only``.
LINT_WAIVERS = """`verilator_config
lint_off -rule WIDTHEXPAND -file "*" -match "Operator ADD expects * bits on the RHS, but RHS's SIGNED generates * bits."
"""

#: ``LINT_WAIVERS`` plus the style messages of designs with finite-state machines (the
#: host link, the command processor): Yosys writes their states and constant compares as
#: ``casez`` without a default and with narrower constants, both well defined in Verilog
#: and in Amaranth's semantics; only those messages are waived.
FSM_LINT_WAIVERS = (
    LINT_WAIVERS
    + """lint_off -rule CASEINCOMPLETE -file "*"
lint_off -rule WIDTHEXPAND -file "*" -match "*CONST*"
lint_off -rule WIDTHEXPAND -file "*" -match "Operator EQ expects * bits on the LHS, but LHS's VARREF *"
lint_off -rule WIDTHTRUNC -file "*" -match "Logical operator LOGNOT expects 1 bit*"
"""
)


@dataclass(frozen=True)
class GeneratedVerilog:
    """Verilog of one design.

    Attributes
    ----------
    top : str
        Name of the top module.
    text : str
        Verilog with Yosys source attributes: the file users and simulators get.
    noattr_text : str
        The same netlist written with ``write_verilog -noattr``: pyverilog 1.3 cannot
        parse ``(* ... *)`` attributes, so read-back tools parse this copy.
    """

    top: str
    text: str
    noattr_text: str

    @property
    def sha256(self) -> str:
        """Content hash of ``text``."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def generate_verilog(component: wiring.Component, top: str) -> GeneratedVerilog:
    """Elaborate ``component`` once and write it as Verilog twice (with and without attributes).

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
        The design; its signature gives the ports (streams flatten to
        ``i_act__payload``, ``i_act__valid``, ...), plus ``clk`` and ``rst``.
    top : str
        Verilog name of the top module.
    """
    # The RTLIL is elaborated once; the private helper is stable in the pinned amaranth 0.5.x.
    rtlil_text = rtlil.convert(component, name=top)
    text = _convert_rtlil_text(rtlil_text, strip_internal_attrs=True)
    noattr = _convert_rtlil_text(rtlil_text, strip_internal_attrs=True, write_verilog_opts=("-noattr",))
    return GeneratedVerilog(top=top, text=text, noattr_text=noattr)
