"""What :func:`hwgen.host.run` returns: the per-layer tables, and the backend's outputs and checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hwgen.host.perf_model import LayerPerf, totals

__all__ = ["MAX_CYCLE_ERROR", "EmbeddingCheck", "GenerationCheck", "LayerCheck", "LayerTable", "RunResult"]

MAX_CYCLE_ERROR = 0.02  # a layer run passes when bit-exact and its predicted cycles are within this


@dataclass(frozen=True)
class LayerTable:
    """The performance model's per-layer table of one graph (one phase of the decoder).

    Attributes
    ----------
    title : str
        E.g. ``"MiniLM-L6, 8 tokens"``.
    phase : str or None
        ``"prefill"`` or ``"decode"`` for the decoder; None for MiniLM.
    perfs : tuple of LayerPerf
        Every layer, GEMMs and host (elementwise) ops, in graph order.
    """

    title: str
    phase: str | None
    perfs: tuple[LayerPerf, ...]

    @property
    def totals(self) -> dict:
        """Whole-graph sums (:func:`hwgen.host.perf_model.totals`): cycles, top_cycles, energy_pj, ..."""
        return totals(self.perfs)

    @property
    def rows(self) -> list[dict]:
        """JSON-serialisable rows (:func:`hwgen.host.report.perf_records`)."""
        from hwgen.host.report import perf_records

        return perf_records(list(self.perfs))


@dataclass(frozen=True)
class LayerCheck:
    """One mapped layer run as a program on the backend, compared bit for bit with the emulator."""

    layer: str
    shape: tuple[int, int, int]
    backend: str
    bit_exact: bool
    runs: int
    measured_cycles: int
    predicted_cycles: int
    cycle_error: float

    @property
    def ok(self) -> bool:
        """Bit-exact, and the predicted cycles within :data:`MAX_CYCLE_ERROR` of the measured."""
        return self.bit_exact and self.cycle_error <= MAX_CYCLE_ERROR

    def record(self) -> dict:
        """The JSON record of ``hwgen run --json``'s ``layer_run``."""
        return {"layer": self.layer, "shape": list(self.shape), "backend": self.backend, "bit_exact": self.bit_exact,
                "measured_cycles": self.measured_cycles, "predicted_cycles": self.predicted_cycles,
                "cycle_error": self.cycle_error}  # fmt: skip


@dataclass(frozen=True)
class EmbeddingCheck:
    """MiniLM's sentence embeddings on the backend next to the float32 reference."""

    backend: str
    embeddings: np.ndarray
    reference: np.ndarray
    cosine: tuple[float, ...]

    def record(self) -> dict:
        """The JSON record of ``hwgen run --json``'s ``embeddings``."""
        return {"backend": self.backend, "sentences": len(self.cosine), "cosine": list(self.cosine)}


@dataclass(frozen=True)
class GenerationCheck:
    """The decoder's prefill logits and greedy tokens on the backend next to the float32 reference."""

    backend: str
    logits_cosine: float
    tokens_equal: int
    steps: int

    def record(self) -> dict:
        """The JSON record of ``hwgen run --json``'s ``generation``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` found: the per-layer tables, and the backend's outputs and checks when it executed.

    Attributes
    ----------
    model : str
        ``"minilm"`` or ``"decoder"``.
    target, formats : str
        The target and the quantisation policy, as text.
    tokens : int
        Tokens of the analysed graph (the decoder's prefill length).
    tables : tuple of LayerTable
        One per graph (MiniLM: one; decoder: one per phase).
    bandwidth : float
        Host bytes per cycle of the roofline.
    description : str or None
        MiniLM: the line naming the loaded checkpoint.
    model_source : dict or None
        MiniLM: where the checkpoint came from.
    context : int or None
        Decoder: the decode step's KV-cache length.
    embeddings : EmbeddingCheck or None
        MiniLM run on the backend (no ``layer``).
    layer_run : LayerCheck or None
        The ``layer`` run as a program on the backend.
    generation : GenerationCheck or None
        Decoder run on the backend.
    """

    model: str
    target: str
    formats: str
    tokens: int
    tables: tuple[LayerTable, ...]
    bandwidth: float
    description: str | None = None
    model_source: dict | None = None
    context: int | None = None
    embeddings: EmbeddingCheck | None = None
    layer_run: LayerCheck | None = None
    generation: GenerationCheck | None = None

    @property
    def layers(self) -> list[dict]:
        """Rows of every table, in order."""
        return [row for table in self.tables for row in table.rows]

    @property
    def cycles(self) -> int:
        """Modelled cycles of every GEMM of every table."""
        return sum(table.totals["cycles"] for table in self.tables)

    @property
    def energy_pj(self) -> float:
        """Modelled energy of every layer of every table, in pJ."""
        return sum(table.totals["energy_pj"] for table in self.tables)

    @property
    def ok(self) -> bool:
        """False only when a layer run is not bit-exact or its cycles are off by more than 2%."""
        return self.layer_run is None or self.layer_run.ok

    def records(self) -> dict:
        """The JSON document of ``hwgen run --json``."""
        out = {"model": self.model}
        if self.model == "minilm":
            out["model_source"] = self.model_source
            out.update({"target": self.target, "formats": self.formats, "tokens": self.tokens})
            out["layers"] = self.tables[0].rows
        else:
            out.update({"target": self.target, "formats": self.formats})
            out["phases"] = {table.phase: table.rows for table in self.tables}
        for name in ("layer_run", "embeddings", "generation"):
            check = getattr(self, name)
            if check is not None:
                out[name] = check.record()
        return out
