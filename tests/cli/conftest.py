"""Fixtures shared by the command-line tests."""

import pytest

from hwgen.cli import main as cli_main


@pytest.fixture
def hwgen(capsys):
    """Run ``hwgen`` in this process; return (status, stdout, stderr)."""

    def run(*argv):
        status = cli_main.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run
