"""Read ports and module hierarchy back from generated Verilog with pyverilog."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Port", "VerilogSummary", "read_back"]


@dataclass(frozen=True)
class Port:
    """A port of the top module as the Verilog declares it."""

    name: str
    direction: str
    width: int


@dataclass(frozen=True)
class VerilogSummary:
    """What the Verilog itself says: top ports and which module instantiates which."""

    top: str
    ports: list[Port]
    hierarchy: dict[str, list[dict[str, str]]]

    def to_dict(self) -> dict:
        """JSON-serialisable form for the build manifest."""
        return {
            "top": self.top,
            "ports": [vars(p) for p in self.ports],
            "hierarchy": self.hierarchy,
        }


def read_back(noattr_text: str, top: str) -> VerilogSummary:
    """Parse attribute-free Verilog text and summarise it.

    The parser is called on the text: pyverilog's file-level ``parse()`` shells out to
    ``iverilog -E``, which a machine without Icarus lacks.

    Parameters
    ----------
    noattr_text : str
        Verilog without ``(* *)`` attributes (``GeneratedVerilog.noattr_text``).
    top : str
        Name of the top module.

    Raises
    ------
    ValueError
        If ``top`` is not a module of the text.
    """
    from pyverilog.vparser import ast
    from pyverilog.vparser.parser import VerilogParser

    # Per process: ply writes its parser tables there, and parallel test workers must not race.
    table_dir = Path(tempfile.gettempdir()) / f"hwgen-pyverilog-tables-{os.getpid()}"
    tree = VerilogParser(outputdir=str(table_dir), debug=False).parse(noattr_text)
    modules = {d.name: d for d in tree.description.definitions if isinstance(d, ast.ModuleDef)}
    if top not in modules:
        raise ValueError(f"top module {top!r} is not in the Verilog; modules: {', '.join(sorted(modules))}")
    hierarchy = {name.lstrip("\\"): _instances(mod, ast) for name, mod in modules.items()}
    return VerilogSummary(top=top, ports=_ports(modules[top], ast), hierarchy=hierarchy)


def _ports(module, ast) -> list[Port]:
    declared = {}
    for node in _walk(module, ast):
        if isinstance(node, (ast.Input, ast.Output, ast.Inout)):
            declared[node.name] = Port(node.name, type(node).__name__.lower(), _width(node.width))
    return [declared[p.name] for p in _port_names(module, ast) if p.name in declared]


def _port_names(module, ast):
    for port in module.portlist.ports:
        yield port.first if isinstance(port, ast.Ioport) else port


def _width(width) -> int:
    if width is None:
        return 1
    return abs(int(width.msb.value) - int(width.lsb.value)) + 1


def _instances(module, ast) -> list[dict[str, str]]:
    return [
        {"instance": inst.name, "module": inst.module.lstrip("\\")}
        for node in _walk(module, ast)
        if isinstance(node, ast.InstanceList)
        for inst in node.instances
    ]


def _walk(node, ast):
    yield node
    for child in node.children():
        yield from _walk(child, ast)
