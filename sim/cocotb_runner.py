"""Run a cocotb test module against a Verilog file on Verilator or Icarus, with a JSON job and report."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import operator
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from hwgen.sim.toolchain import SIMULATORS, ensure_verilator, find_simulator

__all__ = [
    "JOB_ENV",
    "KEEP_RUNS",
    "MAX_SEED",
    "CocotbRun",
    "CocotbSession",
    "SimulationError",
    "flow_job",
    "load_job",
    "locked",
    "run_cocotb",
]

#: Environment variable naming the JSON job file the simulator process reads.
JOB_ENV = "HWGEN_SIM_JOB"
#: Largest seed of a bench (32 bits, as NumPy's legacy seeding and most tools take).
MAX_SEED = 2**32 - 1
#: Session folders kept per simulator in a work folder; older ones not in use are removed.
KEEP_RUNS = 8
# Written into a build folder once its build has finished: the key of what was built.
_STAMP = "hwgen-build.key"
_TIMESCALE = ("1ns", "1ps")


class SimulationError(RuntimeError):
    """The simulator could not build or run the design; the message names the log."""


@dataclass(frozen=True)
class CocotbRun:
    """Outcome of one cocotb run.

    Attributes
    ----------
    passed : bool
        Every cocotb test passed and the bench wrote its report.
    report : object
        What the bench wrote to ``job["report"]`` (JSON), or None.
    wall_seconds : float
        Build plus simulation time.
    log : Path
        The simulation log.
    """

    simulator: str
    passed: bool
    report: object
    wall_seconds: float
    log: Path


def flow_job(seed: int, valid_prob: float, ready_prob: float) -> dict:
    """The job entries every stream bench reads: seed and flow-control probabilities, checked.

    Raises
    ------
    ValueError
        If the seed is not an integer from 0 to ``MAX_SEED`` or a probability is outside (0, 1].
    """
    try:
        value = None if isinstance(seed, bool) else operator.index(seed)  # NumPy integers too
    except TypeError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise ValueError(f"seed={seed!r} is not allowed; allowed: an integer from 0 to {MAX_SEED}")
    for name, p in (("valid_prob", valid_prob), ("ready_prob", ready_prob)):
        if not 0 < p <= 1:
            raise ValueError(f"{name}={p} is not allowed; allowed: 0 < p <= 1")
    return {"seed": value, "valid_prob": valid_prob, "ready_prob": ready_prob}


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing), across processes and threads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_job() -> dict:
    """Inside a cocotb test: the job dict the runner passed (``report`` holds the report path)."""
    import os

    return json.loads(Path(os.environ[JOB_ENV]).read_text())


class CocotbSession:
    """A design built once for one simulator, then run by any number of cocotb jobs.

    Sessions may share a work folder, in one process or several, at the same time: each
    has its own run folder for its jobs, reports and logs, and the compiled design is
    shared only between sessions that build exactly the same thing.

    Parameters
    ----------
    sources : list of Path
        Verilog files (Amaranth's Verilog has no ``timescale``; the session supplies 1 ns / 1 ps).
    top : str
        Top module name.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    work_dir : Path
        Work folder. The compiled design goes to ``<work_dir>/sim_<simulator>/build-<key>``,
        ``key`` a hash of the sources, top, simulator and its version; it is compiled
        once, under a lock, and reused. Jobs run in this session's own ``run_dir``,
        ``<work_dir>/sim_<simulator>/run-<date>-<time>-<pid>-<random>``, so files a
        testbench reads by relative path go there too. The newest ``KEEP_RUNS`` run
        folders are kept; older ones are removed unless a session still uses them.

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing.
    """

    def __init__(self, sources, top: str, simulator: str, work_dir):
        if simulator not in SIMULATORS:
            raise ValueError(f"simulator {simulator!r} is not known; allowed: {', '.join(SIMULATORS)}")
        self._version = find_simulator(simulator)
        if self._version is None:
            raise SimulationError(f"simulator {simulator!r} is not installed; run `hwgen doctor` for the fix")
        ensure_verilator()
        self.sources = [Path(src) for src in sources]
        self.top = top
        self.simulator = simulator
        self.sim_dir = Path(work_dir).resolve() / f"sim_{simulator}"
        self.sim_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = _claim_run_dir(self)
        self.build_dir: Path | None = None
        self._runner = _runner_class(simulator)()
        self.build_seconds = 0.0

    def build(self) -> CocotbSession:
        """Compile the sources, or reuse their finished build; raise SimulationError naming the log if that fails."""
        start = time.perf_counter()
        key = self._build_key()
        self.build_dir = self.sim_dir / f"build-{key[:16]}"
        stamp, log = self.build_dir / _STAMP, self.build_dir / "build.log"
        with locked(self.sim_dir / f"build-{key[:16]}.lock"):
            if not (stamp.is_file() and stamp.read_text() == key):
                try:
                    self._runner.build(
                        sources=self.sources,
                        hdl_toplevel=self.top,
                        build_dir=self.build_dir,
                        timescale=_TIMESCALE,
                        always=True,
                        clean=True,  # whatever an interrupted build left
                        log_file=log,
                        build_args=_build_args(self.simulator),
                    )
                except RuntimeError as exc:
                    raise SimulationError(f"{self.simulator} could not build {self.top} ({exc}); see {log}") from None
                stamp.write_text(key)
        self.build_seconds = time.perf_counter() - start
        return self

    def run(self, test_module: str, job: dict) -> CocotbRun:
        """Run ``test_module`` with ``job`` (its JSON path in ``HWGEN_SIM_JOB``; ``job["report"]`` is set here).

        The bench reads the job with ``load_job()`` and writes its findings as JSON to
        ``job["report"]``; ``CocotbRun.report`` holds them.
        """
        from cocotb_tools.check_results import get_results

        if self.build_dir is None:
            raise RuntimeError(f"CocotbSession of {self.top}: call build() before run()")
        report_path = self.run_dir / "report.json"
        report_path.unlink(missing_ok=True)
        job_path = self.run_dir / "job.json"
        job_path.write_text(json.dumps({**job, "report": str(report_path)}))
        log = self.run_dir / "sim.log"
        start = time.perf_counter()
        results_xml = self.run_dir / "results.xml"
        results_xml.unlink(missing_ok=True)
        try:
            self._runner.test(
                test_module=test_module,
                hdl_toplevel=self.top,
                hdl_toplevel_lang="verilog",  # a reused build was not built by this runner
                build_dir=self.build_dir,
                test_dir=self.run_dir,
                extra_env={JOB_ENV: str(job_path)},
                log_file=log,
                results_xml=str(results_xml),
            )
        except (RuntimeError, SystemExit):
            # cocotb's runner exits the process when a test fails under pytest, or when the
            # simulator returns an error; the results file, if written, tells which tests failed.
            if not results_xml.exists():
                raise SimulationError(f"{self.simulator} stopped while running {self.top}; see {log}") from None
        wall = time.perf_counter() - start
        tests, fails = get_results(results_xml)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return CocotbRun(self.simulator, tests > 0 and fails == 0 and report is not None, report, wall, log)

    def _build_key(self) -> str:
        digest = hashlib.sha256()
        facts = [self.simulator, self._version, version("cocotb"), self.top, *_TIMESCALE, *_build_args(self.simulator)]
        for fact in facts:
            digest.update(str(fact).encode() + b"\0")
        for source in self.sources:
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
        return digest.hexdigest()


def run_cocotb(verilog: Path, top: str, test_module: str, job: dict, simulator: str, work_dir: Path) -> CocotbRun:
    """Build ``verilog`` with ``simulator`` and run the cocotb ``test_module`` on it once.

    Shorthand for ``CocotbSession([verilog], top, simulator, work_dir).build().run(test_module, job)``;
    the returned ``wall_seconds`` covers build and run.

    Raises
    ------
    ValueError
        If the simulator is unknown.
    SimulationError
        If the simulator is missing, or the build or the run fails.
    """
    session = CocotbSession([verilog], top, simulator, work_dir).build()
    run = session.run(test_module, job)
    return CocotbRun(run.simulator, run.passed, run.report, run.wall_seconds + session.build_seconds, run.log)


def _build_args(simulator: str) -> list[str]:
    if simulator != "verilator":
        return []
    # Style warnings are lint's business (`hwgen build` lints); a simulation build must not stop on them.
    return ["-Wno-fatal", "-j", "2"]


def _claim_run_dir(session: CocotbSession) -> Path:
    """A new run folder, locked while ``session`` lives; of the rest, all but the ``KEEP_RUNS`` last used go."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{stamp}-{os.getpid()}-", dir=session.sim_dir))
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    weakref.finalize(session, os.close, fd)
    for old in sorted(session.sim_dir.glob("run-*"), key=_modified)[:-KEEP_RUNS]:
        _remove_if_unused(old)
    return run_dir


def _modified(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0  # removed meanwhile by another session


def _remove_if_unused(run_dir: Path) -> None:
    try:
        fd = os.open(run_dir / ".lock", os.O_RDWR)
    except OSError:
        return  # not a run folder, or already going
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return  # a session is using it
    try:
        shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        os.close(fd)


@functools.cache
def _runner_class(simulator: str) -> type:
    """cocotb's runner for ``simulator``, with every command run by `_run_group`."""
    from cocotb_tools.runner import SUPPORTED_RUNNERS

    base = SUPPORTED_RUNNERS[simulator]
    return type(f"Grouped{base.__name__}", (base,), {"_execute_cmds": _execute_cmds})


def _execute_cmds(self, cmds, cwd, stdout=None) -> None:
    for cmd in cmds:
        self.log.info("Running command %s in directory %s", shlex.join(map(str, cmd)), cwd)
        status = _run_group([str(part) for part in cmd], cwd, self.env, stdout)
        if status != 0:
            raise RuntimeError(f"Command failed with return code: {status}")


def _run_group(cmd: list[str], cwd, env: dict, stdout) -> int:
    """Run ``cmd`` in a process group of its own and return its exit status.

    If the wait is interrupted (Ctrl-C, or SIGTERM/SIGHUP, which raise KeyboardInterrupt
    meanwhile), the whole group (make, the compilers, the simulator) is stopped before
    the exception goes on: nothing is left running.
    """
    stderr = None if stdout is None else subprocess.STDOUT
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, process_group=0
    )
    try:
        with _interrupted_by_termination():
            return process.wait()
    except BaseException:
        _stop_group(process)
        raise


def _stop_group(process: subprocess.Popen) -> None:
    # SIGTERM first: make and the compilers then delete half-written outputs.
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if _group_gone(process, grace):
            break
    process.wait()


def _group_gone(process: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        process.poll()  # reap the leader: until then it is still a member of its group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@contextmanager
def _interrupted_by_termination() -> Iterator[None]:
    """While a child runs, SIGTERM and SIGHUP raise KeyboardInterrupt (so it is stopped) instead of killing hwgen."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signals = [s for s in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(s) is signal.SIG_DFL]
    previous = {s: signal.signal(s, interrupt) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
