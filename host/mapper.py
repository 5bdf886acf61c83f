"""Map GEMMs onto a target: tiles, scratchpad placement with double buffering, dataflow choice, command steps."""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import DeviceInfo, Space
from hwgen.emulation.units.top_config import TOP_DATAFLOWS, TopConfig, memories_info
from hwgen.host.targets import MixedTarget, SystolicTarget, Target
from hwgen.host.workload import Elementwise, Gemm, checked_sequence

__all__ = [
    "DEFAULT_DEPTHS",
    "DEFAULT_MAX_PAYLOAD",
    "LINK_BYTES_PER_CYCLE",
    "MAX_RUNS",
    "GemmMap",
    "LayerMap",
    "Read",
    "Run",
    "Write",
    "device_info",
    "map_gemm",
    "map_workloads",
    "plan_top_gemm",
]

#: Scratchpad depths (W, A, O words) assumed when no device is attached: the accelerator top's defaults.
DEFAULT_DEPTHS = (TopConfig.w_depth, TopConfig.a_depth, TopConfig.o_depth)
#: Largest command payload assumed when no device is attached (the top's default).
DEFAULT_MAX_PAYLOAD = TopConfig.max_payload
#: Host↔device bytes per cycle the mapper assumes when it weighs re-sending data against short runs.
LINK_BYTES_PER_CYCLE = 8.0
#: Most ``RUN`` commands one product may take on the top (the step list is built in memory).
MAX_RUNS = 1 << 20
_WRITE_HEADER = 6  # opcode, space, addr u16, count u16


@dataclass(frozen=True)
class Write:
    """``WRITE`` of ``count`` words: rows ``r0..`` of the stationary (W) or streamed (A) operand, columns ``c0..``."""

    space: Space
    addr: int
    r0: int
    c0: int
    count: int


@dataclass(frozen=True)
class Run:
    """``RUN`` of ``m`` streamed words (``accumulate``: add onto the old output words)."""

    w_addr: int
    a_addr: int
    o_addr: int
    m: int
    accumulate: bool


@dataclass(frozen=True)
class Read:
    """``READ`` of ``count`` output words: rows ``r0..`` and columns ``c0..`` of the streamed product."""

    addr: int
    r0: int
    c0: int
    count: int


@dataclass(frozen=True)
class GemmMap:
    """The command steps that compute one ``m x k x n`` product ``a @ b`` on the accelerator top.

    Weight-stationary holds tiles of ``b`` (``rows x cols``) and streams rows of ``a``;
    input-stationary runs the transposed product ``b.T @ a.T``: tiles of ``a.T`` stay,
    rows of ``b.T`` stream and the output words are columns of the result. K splits
    into ``rows``-deep tiles whose runs add onto the same output words (``ACCUMULATE``);
    ragged edges are zero-padded.

    Attributes
    ----------
    info : DeviceInfo
    m, k, n : int
    dataflow : {"ws", "is"}
    chunk : int
        Streamed rows per output block (fits the A and O scratchpads, double-buffered).
    a_resident : bool
        All K-slices of a chunk stay in A while every N-tile runs (else re-sent per run).
    w_resident : bool
        Every weight tile fits W at once, so each is written once.
    steps : tuple of Write, Run and Read
    """

    info: DeviceInfo
    m: int
    k: int
    n: int
    dataflow: str
    chunk: int
    a_resident: bool
    w_resident: bool
    steps: tuple

    @property
    def streamed(self) -> int:
        """Rows of the streamed operand (``m`` for ws, ``n`` for is)."""
        return self.n if self.dataflow == "is" else self.m

    @property
    def width(self) -> int:
        """Columns of the stationary operand (``n`` for ws, ``m`` for is)."""
        return self.m if self.dataflow == "is" else self.n

    @property
    def runs(self) -> list[Run]:
        """The ``RUN`` steps, in order."""
        return [s for s in self.steps if isinstance(s, Run)]

    def run_cycles(self) -> int:
        """Predicted cycles of every ``RUN`` (``hwgen.emulation.accelerator_timing.run_cycles``), summed."""
        from hwgen.emulation.accelerator_timing import run_cycles

        return sum(run_cycles(self.info, r.m) for r in self.runs)

    def traffic(self) -> dict[str, int]:
        """Bytes moved: ``host_to_device`` (WRITEs), ``device_to_host`` (READs), ``array`` (scratchpads↔array)."""
        info = self.info
        wb = {s: info.word_bytes(s) for s in Space}
        down = sum(s.count * wb[s.space] for s in self.steps if isinstance(s, Write))
        up = sum(s.count * wb[Space.O] for s in self.steps if isinstance(s, Read))
        array = sum(
            info.rows * wb[Space.W] + r.m * (wb[Space.A] + wb[Space.O] * (2 if r.accumulate else 1)) for r in self.runs
        )
        return {"host_to_device": down, "device_to_host": up, "array": array}


def device_info(target: SystolicTarget, value_format, acc_format, depths=DEFAULT_DEPTHS, max_payload=None):
    """The :class:`DeviceInfo` of an accelerator top built for ``target`` (used when no device reports its own).

    The top's own rules (``hwgen.emulation.units.top_config.memories_info``) check the
    shape, formats, depths and payload; the top runs ``ws`` (and ``is`` programs).

    Raises
    ------
    ConfigError
        If ``target`` is not a SystolicTarget, ``depths`` is not three scratchpad depths
        (W, A, O words), or the top refuses a field (e.g. a format with no integer
        ``width`` and string ``name``, a depth or ``max_payload`` out of range).
    """
    if not isinstance(target, SystolicTarget):
        raise ConfigError("target", target, "a SystolicTarget")
    if not isinstance(depths, tuple | list) or len(depths) != 3:
        raise ConfigError("depths", depths, "three scratchpad depths (W, A, O words)")
    w, a, o = depths
    payload = DEFAULT_MAX_PAYLOAD if max_payload is None else max_payload
    memories = {"w_depth": w, "a_depth": a, "o_depth": o, "max_payload": payload}
    return memories_info(target.rows, target.cols, value_format, acc_format, **memories)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _halves(depth: int, need: int) -> tuple[int, int]:
    """(slot size, slots): two slots of ``need`` words when they fit (double buffering), else one."""
    return (need, 2) if 2 * need <= depth else (need, 1)


def _chunkings(info: DeviceInfo, streamed: int, ktiles: int) -> list[tuple[int, bool]]:
    """Candidate (streamed rows per block, all K-slices of a block resident in A) layouts.

    Resident K-slices cross the link once per block but may force short runs;
    re-sending each slice per run allows runs as long as half of A.
    """
    o_room = info.o_depth // 2 or info.o_depth
    resident = min(streamed, (info.a_depth // 2) // ktiles, o_room)
    streaming = min(streamed, info.a_depth // 2 or info.a_depth, o_room)
    options = [(resident, True)] if resident >= 1 else []
    if not options or (streaming > resident and ktiles > 1):
        options.append((streaming, False))
    return options


def _split_writes(space: Space, addr: int, r0: int, c0: int, count: int, info: DeviceInfo) -> list[Write]:
    per = (info.max_payload - _WRITE_HEADER) // info.word_bytes(space)
    return [Write(space, addr + i, r0 + i, c0, min(per, count - i)) for i in range(0, count, per)]


def _split_reads(addr: int, r0: int, c0: int, count: int, info: DeviceInfo) -> list[Read]:
    per = info.max_payload // info.word_bytes(Space.O)
    return [Read(addr + i, r0 + i, c0, min(per, count - i)) for i in range(0, count, per)]


def _check_fits(info: DeviceInfo) -> None:
    if info.w_depth < info.rows:
        raise ConfigError("w_depth", info.w_depth, f">= rows ({info.rows}): one stationary tile must fit W")
    if min(info.a_depth, info.o_depth) < 1:
        raise ConfigError("a_depth", min(info.a_depth, info.o_depth), ">= 1 word in A and O")
    for space in Space:
        if info.word_bytes(space) + _WRITE_HEADER > info.max_payload:
            raise ConfigError("max_payload", info.max_payload, f">= one {space.name} word plus the WRITE header")


def _check_info(info) -> None:
    if not isinstance(info, DeviceInfo):
        raise ConfigError("info", info, "a DeviceInfo (from the device or hwgen.host.mapper.device_info)")


def plan_top_gemm(info: DeviceInfo, m: int, k: int, n: int, dataflow: str = "ws") -> GemmMap:
    """Tile an ``m x k x n`` product onto the accelerator top ``info`` and list its command steps.

    Parameters
    ----------
    info : DeviceInfo
        The top (array shape, scratchpad depths, largest payload).
    m, k, n : int
        The product ``(m, k) @ (k, n)``.
    dataflow : {"ws", "is"}
        Which operand stays in the array (``is`` maps the transposed product).

    Raises
    ------
    ConfigError
        If ``info`` is not a DeviceInfo, a dimension is not a positive integer, the
        dataflow cannot run on the top, the scratchpads cannot hold one tile, or the
        product needs more than :data:`MAX_RUNS` runs.
    """
    _check_info(info)
    for name, value in (("m", m), ("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(name, value, "an integer >= 1")
    if dataflow not in TOP_DATAFLOWS:
        raise ConfigError("dataflow", dataflow, f"{', '.join(TOP_DATAFLOWS)} (the accelerator top)")
    _check_fits(info)
    streamed, width = (n, m) if dataflow == "is" else (m, n)
    ktiles = _cdiv(k, info.rows)
    options = _chunkings(info, streamed, ktiles)
    chunk, a_resident = min(options, key=lambda o: _cost(info, streamed, width, ktiles, *o))
    runs = _cdiv(streamed, chunk) * _cdiv(width, info.cols) * ktiles
    if runs > MAX_RUNS:
        raise ConfigError(
            "m x k x n", f"{m}x{k}x{n}", f"a product of at most {MAX_RUNS} runs on this top; it needs {runs}"
        )
    return _plan(info, m, k, n, dataflow, chunk, a_resident)


def _cost(info: DeviceInfo, streamed: int, width: int, ktiles: int, chunk: int, a_resident: bool) -> float:
    """Cycles of the runs plus the link's cycles for the host bytes of a layout (the link does not overlap runs)."""
    from hwgen.emulation.accelerator_timing import run_cycles

    rows, ntiles, blocks = info.rows, _cdiv(width, info.cols), _cdiv(streamed, chunk)
    runs = ntiles * ktiles * (blocks * (run_cycles(info, 1) - 1) + streamed)
    w_words = ktiles * ntiles * rows * (1 if ktiles * ntiles * rows <= info.w_depth else blocks)
    a_words = ktiles * streamed * (1 if a_resident else ntiles)
    host = w_words * info.word_bytes(Space.W) + a_words * info.word_bytes(Space.A)
    return runs + (host + ntiles * streamed * info.word_bytes(Space.O)) / LINK_BYTES_PER_CYCLE


def _plan(info: DeviceInfo, m: int, k: int, n: int, dataflow: str, chunk: int, a_resident: bool) -> GemmMap:
    rows, cols = info.rows, info.cols
    streamed, width = (n, m) if dataflow == "is" else (m, n)
    ktiles, ntiles = _cdiv(k, rows), _cdiv(width, cols)
    w_resident = ktiles * ntiles * rows <= info.w_depth
    _, w_slots = _halves(info.w_depth, rows)
    a_need = chunk * ktiles if a_resident else chunk
    _, a_slots = _halves(info.a_depth, a_need)
    _, o_slots = _halves(info.o_depth, chunk)
    steps: list = []
    written: set[int] = set()
    tile = block = 0
    for bi, r0 in enumerate(range(0, streamed, chunk)):
        size = min(chunk, streamed - r0)
        a_base = (bi % a_slots) * a_need
        if a_resident:
            for ki in range(ktiles):
                steps += _split_writes(Space.A, a_base + ki * chunk, r0, ki * rows, size, info)
        for ni in range(ntiles):
            o_addr = (block % o_slots) * chunk
            block += 1
            for ki in range(ktiles):
                if w_resident:
                    w_addr = (ni * ktiles + ki) * rows
                    if w_addr not in written:
                        written.add(w_addr)
                        steps += _split_writes(Space.W, w_addr, ki * rows, ni * cols, rows, info)
                else:
                    w_addr = (tile % w_slots) * rows
                    steps += _split_writes(Space.W, w_addr, ki * rows, ni * cols, rows, info)
                a_addr = a_base + ki * chunk if a_resident else (tile % a_slots) * chunk
                if not a_resident:
                    steps += _split_writes(Space.A, a_addr, r0, ki * rows, size, info)
                steps.append(Run(w_addr, a_addr, o_addr, size, ki > 0))
                tile += 1
            steps += _split_reads(o_addr, r0, ni * cols, size, info)
    return GemmMap(info, m, k, n, dataflow, chunk, a_resident, w_resident, tuple(steps))


@dataclass(frozen=True)
class LayerMap:
    """One GEMM mapped onto one target.

    Attributes
    ----------
    gemm : Gemm
    target : a single target (not mixed)
    dataflow : str or None
        Chosen systolic dataflow (None for other targets).
    cycles : int
        Cycles of all ``batch`` products on the target (its exact full-rate formula).
    top : GemmMap or None
        The command steps of one product on the accelerator top (ws/is systolic targets
        when a :class:`DeviceInfo` is given).
    """

    gemm: Gemm
    target: object
    dataflow: str | None
    cycles: int
    top: GemmMap | None = None

    @property
    def utilisation(self) -> float:
        """Useful MACs over the target's peak MACs in these cycles."""
        return self.gemm.macs / (self.target.peak_macs_per_cycle() * self.cycles)


def map_gemm(gemm: Gemm, target, info: DeviceInfo | None = None, phase: str | None = None) -> LayerMap:
    """Map ``gemm`` onto ``target`` (the phase's part of a mixed target; ``phase`` None: decode when ``m == 1``).

    The target schedules the product (``target.schedule``: its dataflow and its unit's
    cycles). With ``info`` (the accelerator top), a product in a dataflow the top runs
    gets its program steps, and a systolic ``auto`` chooses among those dataflows.

    Raises
    ------
    ConfigError
        If ``gemm`` is not a Gemm, ``target`` not a target, ``info`` not a DeviceInfo or
        None, ``phase`` not None, ``"prefill"`` or ``"decode"``, or the GEMM does not fit
        the target (e.g. a PIM weight matrix larger than its banks).
    """
    if not isinstance(gemm, Gemm):
        raise ConfigError("gemm", gemm, "a hwgen.host.workload.Gemm")
    if not isinstance(target, Target | MixedTarget):
        raise ConfigError("target", target, "a target from hwgen.host.targets.parse_target")
    if info is not None:
        _check_info(info)
    if phase not in (None, "prefill", "decode"):
        raise ConfigError("phase", phase, "None, prefill, decode")
    target = target.for_phase(phase or ("decode" if gemm.m == 1 else "prefill"))
    m, k, n = gemm.m, gemm.k, gemm.n
    try:
        flow, cycles = target.schedule(m, k, n, on_top=info is not None)
    except ConfigError as exc:
        raise ConfigError("target", str(target), f"a target that fits layer {gemm.name}: {exc}") from None
    top = plan_top_gemm(info, m, k, n, flow) if info is not None and flow in TOP_DATAFLOWS else None
    return LayerMap(gemm, target, flow, gemm.batch * cycles, top)


def map_workloads(workloads, target, info: DeviceInfo | None = None, phase: str | None = None, progress=None):
    """Map every GEMM of ``workloads``; elementwise work passes through unchanged (it runs on the host).

    ``progress(done, total)`` is called after each item when given.

    Raises
    ------
    ConfigError
        If ``workloads`` is not a sequence of Gemm and Elementwise, or as :func:`map_gemm`.
    """
    workloads = checked_sequence("workloads", workloads, (Gemm, Elementwise), "a sequence of Gemm and Elementwise")
    out = []
    for i, work in enumerate(workloads):
        out.append(work if isinstance(work, Elementwise) else map_gemm(work, target, info, phase))
        if progress is not None:
            progress(i + 1, len(workloads))
    return out
