"""Simulations sharing a work folder, runs that report nothing, and Ctrl-C leaving no simulator behind."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.sim import cocotb_runner
from hwgen.sim.cocotb_runner import CocotbRun, SimulationError
from hwgen.sim.regression import run_regression
from hwgen.sim.toolchain import find_simulator


def _need_icarus():
    if find_simulator("icarus") is None:
        pytest.skip("icarus is not installed")


def _hwgen_sim(work, *args):
    command = [sys.executable, "-m", "hwgen.cli.main", "sim", "--simulator", "icarus", "--work", str(work), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.sim
def test_two_sims_in_one_work_folder_check_their_own_gemms(tmp_path):
    _need_icarus()
    shapes = ("2x2x2", "3x3x3")
    runs = [_hwgen_sim(tmp_path, "--rows", "2", "--cols", "2", "--gemm", shape) for shape in shapes]
    for shape, other, run in zip(shapes, reversed(shapes), runs, strict=True):
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
        assert shape in out and other not in out, out
        assert "PASS: 1 GEMMs" in out


@pytest.mark.sim
def test_two_designs_in_one_work_folder_from_two_threads(tmp_path):
    _need_icarus()
    jobs = {(2, 2, (2, 3, 2)): None, (3, 2, (4, 5, 3)): None}

    def run(key):
        rows, cols, gemm = key
        jobs[key] = run_regression(ArrayConfig(rows=rows, cols=cols), tmp_path, "icarus", (gemm,), seed=3)

    threads = [threading.Thread(target=run, args=(key,)) for key in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    for (rows, cols, gemm), report in jobs.items():
        assert report is not None and report.passed
        assert report.config == ArrayConfig(rows=rows, cols=cols)
        assert [(g["m"], g["k"], g["n"]) for g in report.gemms] == [gemm]


def test_a_run_that_reported_nothing_is_an_error_not_a_zero_gemm_failure(tmp_path, monkeypatch):
    _need_icarus()
    log = tmp_path / "sim.log"
    log.write_text("bench crashed\n")
    monkeypatch.setattr(cocotb_runner.CocotbSession, "build", lambda self: self)
    monkeypatch.setattr(
        cocotb_runner.CocotbSession, "run", lambda self, module, job: CocotbRun("icarus", False, None, 0.1, log)
    )
    with pytest.raises(SimulationError, match=r"sim\.log"):
        run_regression(ArrayConfig(rows=2, cols=2), tmp_path, "icarus", ((2, 2, 2),))


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30, True])
def test_a_bad_seed_is_refused_before_building(tmp_path, seed):
    with pytest.raises(ValueError, match="seed"):
        run_regression(ArrayConfig(rows=2, cols=2), tmp_path, "icarus", ((2, 2, 2),), seed=seed)
    assert not (tmp_path / "rtl").exists()


_INTERRUPTED = """
import sys
from hwgen.sim.cocotb_runner import CocotbSession

work = sys.argv[1]
session = CocotbSession([], "top", "icarus", work)
command = ["sh", "-c", "sleep 300 & echo $! > bg.pid; echo $$ > fg.pid; exec sleep 300"]
try:
    session._runner._execute_cmds([command], work)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_ctrl_c_stops_every_process_the_simulator_started(tmp_path):
    _need_icarus()
    # Output to a file, not a pipe: a leftover process would hold a pipe open.
    output = tmp_path / "output.txt"
    with output.open("w") as sink:
        script = subprocess.Popen([sys.executable, "-c", _INTERRUPTED, str(tmp_path)], stdout=sink, stderr=sink)
    pid_files = [tmp_path / "bg.pid", tmp_path / "fg.pid"]
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text().strip() for p in pid_files):
        assert time.monotonic() < deadline and script.poll() is None, output.read_text()
        time.sleep(0.1)
    pids = [int(p.read_text()) for p in pid_files]
    try:
        script.send_signal(signal.SIGINT)
        script.wait(timeout=30)
        assert script.returncode == 130 and "KeyboardInterrupt" in output.read_text(), output.read_text()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_old_run_folders_go_but_not_one_in_use(tmp_path):
    _need_icarus()
    in_use = cocotb_runner.CocotbSession([], "top", "icarus", tmp_path)
    for _ in range(cocotb_runner.KEEP_RUNS + 3):
        cocotb_runner.CocotbSession([], "top", "icarus", tmp_path)  # dropped at once: its folder is free
    mine = tmp_path / "mine.txt"
    mine.write_text("mine")
    runs = sorted((tmp_path / "sim_icarus").glob("run-*"))
    assert len(runs) == cocotb_runner.KEEP_RUNS + 1
    assert in_use.run_dir in runs and mine.exists()
