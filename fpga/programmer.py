"""Load a bitstream into a board with openFPGALoader, iceprog or fujprog found on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hwgen.emulation.errors import ConfigError
from hwgen.fpga.boards import Board, Programmer, get_board

__all__ = ["ProgrammerNotFoundError", "check_bitstream", "find_programmer", "program_board"]


class ProgrammerNotFoundError(RuntimeError):
    """No programming tool for the board is on PATH; the message says what to install and run.

    Attributes
    ----------
    board : Board
    bitstream : Path
    """

    def __init__(self, board: Board, bitstream: Path, names: tuple[str, ...] = ()):
        self.board = board
        self.bitstream = bitstream
        tools = [p for p in board.programmers if not names or p.tool in names]
        lines = [
            f"no programmer for {board.name} on PATH (looked for {', '.join(p.tool for p in tools)}); install one:"
        ]
        for p in tools:
            lines.append(f"  {p.tool}: {p.install}; then run: {' '.join(p.command(str(bitstream)))}")
        super().__init__("\n".join(lines))


def check_bitstream(board: str | Board, bitstream: str | Path) -> Path:
    """The bitstream file, checked to exist and to have the board's suffix (``.bin``/``.bit``).

    Raises
    ------
    ConfigError
        If the board is unknown, or the file is missing or of the wrong kind.
    """
    board = get_board(board) if isinstance(board, str) else board
    path = Path(bitstream)
    kind = f"an existing {board.bitstream_suffix} file (from `hwgen fpga build --board {board.name}`)"
    if path.suffix != board.bitstream_suffix or not path.is_file():
        raise ConfigError("bitstream", str(bitstream), kind)
    return path


def find_programmer(board: str | Board, tool: str | None = None) -> tuple[Programmer, str] | None:
    """The first of the board's programmers (or ``tool`` only) on PATH, with its executable's path.

    Raises
    ------
    ConfigError
        If ``tool`` is not one of the board's programmers.
    """
    board = get_board(board) if isinstance(board, str) else board
    names = tuple(p.tool for p in board.programmers)
    if tool is not None and tool not in names:
        raise ConfigError("programmer", tool, f"for {board.name}: {', '.join(names)}")
    for programmer in board.programmers:
        exe = shutil.which(programmer.tool) if tool in (None, programmer.tool) else None
        if exe:
            return programmer, exe
    return None


def program_board(
    board: str | Board, bitstream: str | Path, *, tool: str | None = None, dry_run: bool = False
) -> tuple[list[str], int]:
    """Load ``bitstream`` into ``board`` with the first programmer found on PATH.

    Parameters
    ----------
    board : str or Board
    bitstream : path
        Output of `hwgen.fpga.bitstream.build_bitstream` for this board.
    tool : str, optional
        Use only this programmer (a ``Programmer.tool`` of the board).
    dry_run : bool
        Return the command without running it.

    Returns
    -------
    command : list of str
        The command line (its first item the executable's path).
    returncode : int
        The programmer's exit status; 0 for a dry run.

    Raises
    ------
    ConfigError
        If the board, bitstream or tool is not allowed.
    ProgrammerNotFoundError
        If no programmer is on PATH; its message says what to install and the command to run.
    """
    board = get_board(board) if isinstance(board, str) else board
    path = check_bitstream(board, bitstream)
    found = find_programmer(board, tool)
    if found is None:
        raise ProgrammerNotFoundError(board, path, (tool,) if tool else ())
    programmer, exe = found
    command = [exe, *programmer.command(str(path))[1:]]
    if dry_run:
        return command, 0
    return command, subprocess.run(command, stdin=subprocess.DEVNULL).returncode
