"""The host runtime needs only the emulator: importing every ``hwgen.host`` module loads no hardware layer."""

import ast
import subprocess
import sys
from pathlib import Path

import hwgen.host

_HARDWARE = ("amaranth", "cocotb", "cocotb_tools", "hwgen.dataflow", "hwgen.rtl", "hwgen.pe", "hwgen.sim")

_PROBE = f"""
import importlib, pkgutil, sys
import hwgen.host
for module in pkgutil.iter_modules(hwgen.host.__path__):
    importlib.import_module(f"hwgen.host.{{module.name}}")
hardware = {(*_HARDWARE, "hwgen.fpga", "hwgen.cli")!r}
print(sorted(name for name in sys.modules if name == "hwgen.host" or name.startswith(hardware)))
"""

#: The only importlib uses a host module may make: finding the installed model *data* package and its
#: version (``host/model_files.py``). Nothing here imports code.
_ALLOWED_IMPORTLIB = {
    "importlib.util.find_spec",
    "importlib.metadata.version",
    "importlib.metadata.PackageNotFoundError",
}


def test_host_imports_no_hardware_layer():
    # A fresh interpreter: this test process has long since imported everything.
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['hwgen.host']", done.stdout


def _host_sources() -> list[Path]:
    return sorted(Path(next(iter(hwgen.host.__path__))).glob("*.py"))


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _dynamic_imports(path: Path) -> list[str]:
    """``importlib`` and ``__import__`` uses in ``path`` beyond :data:`_ALLOWED_IMPORTLIB` (line: what)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib":
            found += [f"{node.lineno}: from {node.module} import {a.name}" for a in node.names]
        elif isinstance(node, ast.Import):  # an alias would hide the uses from the attribute scan below
            found += [
                f"{node.lineno}: import {a.name} as {a.asname}"
                for a in node.names
                if a.asname and "importlib" in a.name
            ]
        elif isinstance(node, ast.Name) and node.id == "__import__":
            found.append(f"{node.lineno}: __import__")
        elif isinstance(node, ast.Attribute) and not isinstance(getattr(node, "_parent", None), ast.Attribute):
            name = _dotted(node)
            if name and name.split(".")[0] == "importlib" and name not in _ALLOWED_IMPORTLIB:
                found.append(f"{node.lineno}: {name}")
        for child in ast.iter_child_nodes(node):
            child._parent = node
    return found


def test_no_host_module_imports_dynamically():
    """No ``importlib.import_module``/``__import__`` in the host: its imports are all static, so the probe above
    sees every layer the host can reach (hardware backends are plugged in from above, never looked up)."""
    sources = _host_sources()
    assert len(sources) > 10
    found = {path.name: uses for path in sources if (uses := _dynamic_imports(path))}
    assert found == {}


def test_the_scan_sees_a_dynamic_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import importlib\nm = importlib.import_module('hwgen.sim')\nn = __import__('amaranth')\n")
    assert _dynamic_imports(bad) == ["2: importlib.import_module", "3: __import__"]
    fine = tmp_path / "fine.py"
    fine.write_text("import importlib.util\nspec = importlib.util.find_spec('pkg')\n")
    assert _dynamic_imports(fine) == []
