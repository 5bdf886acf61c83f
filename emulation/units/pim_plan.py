"""PIM GEMV plan: ``y = W x`` laid out over channels and banks, the channel's command streams, exact cycles.

Pure (NumPy only): the ``pim`` unit's golden and cycle models (``hwgen.emulation.units.catalog``)
and the host (``hwgen.host.pim_mapping``, ``hwgen.host.targets.PimTarget``) both use it, and
``hwgen.sim`` runs the same command streams on the channel's RTL.

A mapped GEMM ``a @ b`` on PIM is ``m`` GEMVs ``y_i = W a_i`` with ``W = b.T`` (``n x k``):
every channel holds its share of ``W`` in its banks (written once, :meth:`GemvLayout.weight_commands`),
and each GEMV runs the same command stream on every channel (:meth:`GemvLayout.gemv_commands`).
Each GEMV starts from an idle channel (banks closed, bank mode, refresh timer just restarted,
as after reset) with the weights resident, so a GEMM of ``m`` rows takes ``m`` times one GEMV's
cycles (:func:`gemm_cycles`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.fp_mac_model import fp_add
from hwgen.emulation.pim_model import PimCommand, PimConfig, PimModel, PimOp, PimOutput, PimRun, float_mac, run_program

__all__ = [
    "MAX_CHANNELS",
    "GemvLayout",
    "gemm_cycles",
    "gemm_golden",
    "gemv_cycles",
    "plan_gemv",
    "run_gemvs",
]

#: Most channels a GEMV may spread over.
MAX_CHANNELS = 256


def _check_cfg(cfg) -> None:
    if not isinstance(cfg, PimConfig):
        raise ConfigError("cfg", cfg, "a PimConfig")


@dataclass(frozen=True)
class GemvLayout:
    """How ``y = W x`` (``W`` is ``n x k``) is laid out over ``channels`` PIM channels.

    Output row ``o`` of ``W`` lives in one bank: ``o = (group * channels + channel) * banks + bank``.
    Its ``k`` weights are cut into chunks of ``lanes * cols`` (one DRAM row each);
    chunk ``j`` of group ``g`` is DRAM row ``g * chunks + j``. The global buffer holds one
    chunk of ``x`` at a time, so the command stream is chunk-major: write the chunk into
    the global buffer, then per group WR_BIAS(0), ACT_ABK, one MAC_ABK per used column,
    PRE_ABK, RD_MAC. The host adds the chunks' partial sums in the accumulator format:
    wrapping integer addition (so the result equals one in-bank accumulation), or for
    float32 ``y = RNE(...RNE(s_0 + s_1) + ... + s_last)`` in chunk order, each ``s_j``
    being one in-bank accumulation from +0 (:func:`hwgen.emulation.pim_model.float_mac`
    per column; padded lanes hold +0 and take part in the lane tree).

    With float lanes, ``W`` and ``x`` are real numbers, encoded to the lane format with
    its rounding (RNE for bfloat16); :meth:`assemble` and :meth:`reference` return float32.
    """

    cfg: PimConfig
    n: int
    k: int
    channels: int

    @property
    def chunk(self) -> int:
        """Elements of ``x`` per DRAM row."""
        return self.cfg.lanes * self.cfg.cols

    @property
    def chunks(self) -> int:
        return math.ceil(self.k / self.chunk)

    @property
    def groups(self) -> int:
        """Output rows per bank."""
        return math.ceil(self.n / (self.channels * self.cfg.banks))

    @property
    def rows_used(self) -> int:
        """DRAM rows used in every bank."""
        return self.groups * self.chunks

    def output_index(self, channel: int, group: int, bank: int) -> int:
        return (group * self.channels + channel) * self.cfg.banks + bank

    def chunk_cols(self, j: int) -> int:
        """Column bursts chunk ``j`` occupies."""
        return math.ceil(min(self.chunk, self.k - j * self.chunk) / self.cfg.lanes)

    def row_image(self, w: np.ndarray, channel: int, bank: int, group: int, j: int) -> np.ndarray:
        """The ``cols x lanes`` values DRAM row ``(group, j)`` of ``bank`` holds (zero padded).

        ``w`` holds command values: integers, or lane-format codes with float lanes.
        """
        out = np.zeros(self.chunk, dtype=np.int64)
        o = self.output_index(channel, group, bank)
        if o < self.n:
            part = w[o, j * self.chunk : (j + 1) * self.chunk]
            out[: part.size] = part
        return out.reshape(self.cfg.cols, self.cfg.lanes)

    def weight_commands(self, w: np.ndarray, channel: int) -> list[PimCommand]:
        """ACT / WR / PRE commands writing ``channel``'s share of ``W`` into its banks."""
        if isinstance(channel, bool) or not isinstance(channel, int | np.integer) or not 0 <= channel < self.channels:
            raise ConfigError("channel", channel, f"an integer from 0 to {self.channels - 1}")
        w = self._lane_codes(self._check_matrix(w))
        cmds = []
        for g in range(self.groups):
            for j in range(self.chunks):
                row = g * self.chunks + j
                cmds += [PimCommand.act(b, row) for b in range(self.cfg.banks)]
                for b in range(self.cfg.banks):
                    image = self.row_image(w, channel, b, g, j)
                    cmds += [PimCommand.wr(b, c, image[c]) for c in range(self.chunk_cols(j))]
                cmds += [PimCommand.pre(b) for b in range(self.cfg.banks)]
        return cmds

    def gemv_commands(self, x: np.ndarray) -> list[PimCommand]:
        """The command stream of one channel (every channel runs the same stream)."""
        x = self._lane_codes(self._check_vector(x))
        lanes, zeros = self.cfg.lanes, [0] * self.cfg.banks
        cmds = []
        for j in range(self.chunks):
            ncols = self.chunk_cols(j)
            part = np.zeros(ncols * lanes, dtype=np.int64)
            seg = x[j * self.chunk : j * self.chunk + ncols * lanes]
            part[: seg.size] = seg
            cmds += [PimCommand.wr_gb(c, part[c * lanes : (c + 1) * lanes]) for c in range(ncols)]
            for g in range(self.groups):
                cmds += [PimCommand.wr_bias(zeros), PimCommand.act_abk(g * self.chunks + j)]
                cmds += [PimCommand.mac_abk(c) for c in range(ncols)]
                cmds += [PimCommand.pre_abk(), PimCommand.rd_mac()]
        return cmds

    def assemble(self, outputs: list[list[PimOutput]]) -> np.ndarray:
        """``y`` from every channel's RD_MAC beats (in stream order), summed in the accumulator format.

        Returns int64 values (integer accumulator) or float32 values (float32 accumulator).
        """
        total = self.groups * self.channels * self.cfg.banks
        partials = np.zeros((self.chunks, total), dtype=np.int64)
        for ch, beats in enumerate(outputs):
            macs = [o for o in beats if o.op == PimOp.RD_MAC]
            if len(macs) != self.chunks * self.groups:
                raise ValueError(f"channel {ch} has {len(macs)} RD_MAC beats; want {self.chunks * self.groups}")
            for i, beat in enumerate(macs):
                j, g = divmod(i, self.groups)
                for b, value in enumerate(beat.values):
                    partials[j, self.output_index(ch, g, b)] = value
        return self._combine(partials[:, : self.n])

    def reference(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Golden ``y`` computed without the command stream.

        Integer lanes: exact dot products wrapped once into the accumulator. Float lanes:
        per chunk and output, :func:`~hwgen.emulation.pim_model.float_mac` over the chunk's
        columns from +0 (zero padded), chunks combined as :meth:`assemble` does.
        """
        w, x = self._check_matrix(w), self._check_vector(x)
        if not self.cfg.is_float:
            return self.cfg.acc_format.fit(w @ x)
        wc, xc = self._lane_codes(w), self._lane_codes(x)
        padded = self.chunks * self.chunk
        wp = np.zeros((self.n, padded), dtype=np.int64)
        xp = np.zeros(padded, dtype=np.int64)
        wp[:, : self.k], xp[: self.k] = wc, xc
        lanes, cfg = self.cfg.lanes, self.cfg
        partials = np.zeros((self.chunks, self.n), dtype=np.int64)
        for j in range(self.chunks):
            for c in range(self.chunk_cols(j)):
                cols = slice(j * self.chunk + c * lanes, j * self.chunk + (c + 1) * lanes)
                partials[j] = float_mac(partials[j], wp[:, cols], xp[cols], cfg.dtype_format, cfg.acc_format)
        return self._combine(partials)

    def _combine(self, partials: np.ndarray) -> np.ndarray:
        """Add the chunks' partial sums (``chunks x outputs`` values / codes) in the accumulator format."""
        acc = self.cfg.acc_format
        if not self.cfg.is_float:
            return acc.fit(partials.sum(axis=0))
        y = partials[0]
        for part in partials[1:]:
            y = fp_add(y, part, acc).astype(np.int64)
        return acc.decode(y, np.float32)

    def _lane_codes(self, a: np.ndarray) -> np.ndarray:
        """Lane values as command values: integers as they are, floats encoded to the lane format's codes."""
        if not self.cfg.is_float:
            return a
        return self.cfg.dtype_format.encode(a).astype(np.int64)

    def _check_matrix(self, w) -> np.ndarray:
        w = self._lane_values("W", w)
        if w.shape != (self.n, self.k):
            raise ValueError(f"W has shape {w.shape}; allowed: ({self.n}, {self.k})")
        return w

    def _check_vector(self, x) -> np.ndarray:
        x = self._lane_values("x", x)
        if x.shape != (self.k,):
            raise ValueError(f"x has shape {x.shape}; allowed: ({self.k},)")
        return x

    def _lane_values(self, field: str, a) -> np.ndarray:
        """``a`` as float64 (float lanes) or int64 values of the lane format (no truncation, no wrap)."""
        a = np.asarray(a)
        fmt = self.cfg.dtype_format
        if self.cfg.is_float:
            if a.dtype.kind not in "iuf":
                raise ConfigError(field, f"array of dtype {a.dtype}", "real numbers (integer or float dtype)")
            return a.astype(np.float64)
        if a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and not np.array_equal(a, np.rint(a))):
            raise ConfigError(field, f"array of dtype {a.dtype}", f"integers of {fmt.name}")
        if a.size and (a.min() < fmt.min_value or a.max() > fmt.max_value):
            raise ConfigError(field, "out of range", f"{fmt.name} values {fmt.min_value}..{fmt.max_value}")
        return a.astype(np.int64)


def plan_gemv(cfg: PimConfig, n: int, k: int, channels: int = 1) -> GemvLayout:
    """Lay out an ``n x k`` GEMV over ``channels`` channels of ``cfg``.

    Raises
    ------
    ConfigError
        If a dimension or ``channels`` is not a positive integer, or ``W`` does not fit
        the banks' rows (the message gives the rows needed).
    """
    _check_cfg(cfg)
    for name, value, hi in (("n", n, None), ("k", k, None), ("channels", channels, MAX_CHANNELS)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (hi and value > hi):
            raise ConfigError(name, value, "an integer >= 1" + (f" and <= {hi}" if hi else ""))
    layout = GemvLayout(cfg, n, k, channels)
    if layout.rows_used > cfg.rows:
        raise ConfigError(
            "n",
            n,
            f"a W that fits: {n} x {k} needs {layout.rows_used} rows per bank but rows={cfg.rows}; "
            "use more channels or a config with more rows",
        )
    return layout


@functools.lru_cache(maxsize=1024)
def gemv_cycles(layout: GemvLayout) -> int:
    """Cycles of one GEMV on the channels (all run the same stream in parallel) from an idle channel.

    The channel model's count (:attr:`hwgen.emulation.pim_model.PimRun.cycles`): cycle 0 is the
    first cycle after reset, the last is the last RD_MAC beat. Timing does not depend on values.
    """
    return run_program(layout.cfg, layout.gemv_commands(np.zeros(layout.k, dtype=np.int64)), values=False).cycles


def _check_rows(m) -> int:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ConfigError("m", m, "an integer >= 1 (GEMVs of the GEMM)")
    return int(m)


def gemm_cycles(cfg: PimConfig, m: int, k: int, n: int, channels: int = 1) -> int:
    """Exact cycles of ``m`` GEMVs ``y = W x`` (``W`` is ``n x k``) on ``channels`` channels of ``cfg``.

    Each GEMV starts from an idle channel (see the module notes), so this is
    ``m * gemv_cycles(plan_gemv(cfg, n, k, channels))``; the channels run in parallel.

    Raises
    ------
    ConfigError
        If a dimension is not a positive integer or ``W`` does not fit the banks (:func:`plan_gemv`).
    """
    m = _check_rows(m)
    return m * gemv_cycles(plan_gemv(cfg, int(n), int(k), int(channels)))


def run_gemvs(layout: GemvLayout, w, xs, channel: int) -> list[PimRun]:
    """Run ``channel``'s command streams of the GEMVs ``W x`` for each ``x`` of ``xs`` on the channel model.

    ``channel``'s share of ``W`` is written once (:meth:`GemvLayout.weight_commands`); each
    GEMV's stream (:meth:`GemvLayout.gemv_commands`) then runs from an idle channel that
    holds those weights. Returns one :class:`~hwgen.emulation.pim_model.PimRun` per ``x``.
    """
    loaded = PimModel(layout.cfg)
    loaded.run(layout.weight_commands(w, channel))
    runs = []
    for x in xs:
        model = PimModel(layout.cfg)
        model.storage = loaded.storage  # GEMV streams only read the banks
        runs.append(model.run(layout.gemv_commands(x)))
    return runs


def gemm_golden(cfg: PimConfig, a, b, channels: int = 1) -> np.ndarray:
    """``a @ b`` as ``m`` GEMVs ``y_i = W a_i`` (``W = b.T``) on ``channels`` channels of ``cfg``.

    Every value comes from the channel model running the command streams the host builds
    (:func:`run_gemvs`); the chunks' partial sums are added as :meth:`GemvLayout.assemble` does.

    Parameters
    ----------
    cfg : PimConfig
    a : array_like, shape (m, k)
        Rows ``x`` of the GEMVs (values of ``cfg.dtype``; real numbers with float lanes).
    b : array_like, shape (k, n)
        ``W.T``.
    channels : int

    Returns
    -------
    numpy.ndarray, shape (m, n)
        int64 values wrapped to the accumulator (float32 with a float32 accumulator).

    Raises
    ------
    ConfigError
        If an operand is not a 2-D array, the shapes disagree, a value does not fit the
        lane format or ``W`` does not fit the banks.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or 0 in a.shape or 0 in b.shape:
        raise ConfigError("shapes", f"{a.shape} @ {b.shape}", "non-empty (m, k) @ (k, n) operands")
    layout = plan_gemv(cfg, int(b.shape[1]), int(a.shape[1]), channels)
    w = b.T
    runs = [run_gemvs(layout, w, a, c) for c in range(layout.channels)]
    rows = [layout.assemble([runs[c][i].outputs for c in range(layout.channels)]) for i in range(a.shape[0])]
    return np.stack(rows)
