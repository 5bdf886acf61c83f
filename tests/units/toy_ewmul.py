"""A toy unit written through the unit contract: an element-wise multiplier of ``lanes`` signed integers.

It stands for the guide in ``docs/adding-a-unit.md``: one pure part (config, golden
model, cycle model, host target), one hardware part (the Amaranth component), and one
registry entry, with no edit anywhere in hwgen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.units import Hardware, Unit

NAME = "toy-ewmul"


# --- pure layer (what would live in hwgen/emulation/units/) -------------------------------------------------------
@dataclass(frozen=True)
class EwMulConfig:
    """``lanes`` multipliers of ``width``-bit signed integers, one product register."""

    lanes: int = 4
    width: int = 8

    def __post_init__(self):
        for name, value, top in (("lanes", self.lanes, 64), ("width", self.width, 32)):
            if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= top:
                raise ConfigError(name, value, f"an integer from 2 to {top}")

    @property
    def top_name(self) -> str:
        return f"ewmul_{self.lanes}x{self.width}"

    def to_dict(self) -> dict:
        return asdict(self)


def golden(cfg: EwMulConfig, a, b) -> np.ndarray:
    """Exact products ``a * b`` (no wrap: the output is ``2 * width`` bits)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    lo, hi = -(1 << (cfg.width - 1)), (1 << (cfg.width - 1)) - 1
    if a.shape != b.shape or a.min(initial=0) < lo or a.max(initial=0) > hi or b.min(initial=0) < lo:
        raise ConfigError("a, b", (a.shape, b.shape), f"equal shapes of {cfg.width}-bit signed integers")
    return a * b


def beats(cfg: EwMulConfig, size: int) -> int:
    """Beats to stream ``size`` elements (the last beat zero-padded)."""
    return -(-size // cfg.lanes)


def cycles(cfg: EwMulConfig, size: int) -> int:
    """Full-rate cycles, first accepted beat to last product inclusive: one beat per cycle plus the register."""
    return beats(cfg, size) + 1


@dataclass(frozen=True)
class EwMulTarget:
    """The host's view: how an element-wise multiply of ``size`` elements streams onto the unit, and its traffic."""

    cfg: EwMulConfig

    def cycles(self, size: int) -> int:
        return cycles(self.cfg, size)

    def traffic_bytes(self, size: int) -> tuple[int, int]:
        """Bytes to the unit (both operands) and back (the products), whole beats."""
        words = beats(self.cfg, size) * self.cfg.lanes
        return 2 * words * -(-self.cfg.width // 8), words * -(-2 * self.cfg.width // 8)


# --- hardware layer (what would live in hwgen/dataflow/) ------------------------------------------------------------
def in_layout(cfg: EwMulConfig) -> data.StructLayout:
    vec = data.ArrayLayout(signed(cfg.width), cfg.lanes)
    return data.StructLayout({"a": vec, "b": vec})


def out_layout(cfg: EwMulConfig) -> data.StructLayout:
    return data.StructLayout({"p": data.ArrayLayout(signed(2 * cfg.width), cfg.lanes)})


class EwMul(wiring.Component):
    """``o_out.p[i] = i_in.a[i] * i_in.b[i]``, one register stage; a stalled output holds the input."""

    def __init__(self, cfg: EwMulConfig):
        self.cfg = cfg
        super().__init__(
            {"i_in": In(stream.Signature(in_layout(cfg))), "o_out": Out(stream.Signature(out_layout(cfg)))}
        )

    def elaborate(self, platform):
        m = Module()
        advance = ~self.o_out.valid | self.o_out.ready
        m.d.comb += self.i_in.ready.eq(advance)
        with m.If(advance):
            m.d.sync += self.o_out.valid.eq(self.i_in.valid)
            for i in range(self.cfg.lanes):
                m.d.sync += self.o_out.payload.p[i].eq(self.i_in.payload.a[i] * self.i_in.payload.b[i])
        return m


# --- the one registry entry --------------------------------------------------------------------------------------
def make_unit() -> Unit:
    """The toy's :class:`Unit`, hardware included (a real unit gets its hardware from ``hwgen.dataflow``)."""
    return Unit(
        NAME,
        "toy element-wise multiplier (the unit-contract guide's example)",
        EwMulConfig,
        golden=golden,
        cycles=cycles,
        target=EwMulTarget,
        hardware=Hardware(EwMul),
    )
