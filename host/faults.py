"""Seeded fault injection on a transport: bit flips, lost, duplicated and inserted bytes, stalls, a dead link."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from hwgen.emulation.errors import ConfigError
from hwgen.host.transports import WrappedTransport

__all__ = ["DIRECTIONS", "FaultyTransport", "Faults"]

#: ``"tx"``: host -> device bytes; ``"rx"``: device -> host bytes.
DIRECTIONS = ("tx", "rx")
# Longest garbage burst: a burst is allocated at once, so it must stay small.
_MAX_GARBAGE = 65535
_RATES = ("flip", "drop", "duplicate", "garbage", "stall")


@dataclass(frozen=True)
class Faults:
    """What to inject and how often.

    Parameters
    ----------
    flip, drop, duplicate, garbage : float
        Per-byte probabilities: flip one random bit, lose the byte, send it twice,
        insert 1..``max_garbage`` random bytes before it.
    stall : float
        Per-call probability of a stall: a ``write`` is split at a random byte and
        the line stays silent for ``stall_s`` in between (longer than the device's
        inter-byte timeout, this costs the frame); a ``read`` delivers its bytes
        ``stall_s`` late.
    stall_s : float
        Length of a stall in seconds of the transport's clock.
    max_garbage : int
        Longest burst of inserted bytes.
    persistent : bool
        A dead link: every byte in the chosen directions gets a bit flipped.
    directions : tuple of str
        Which directions the faults hit (see :data:`DIRECTIONS`).

    Raises
    ------
    ConfigError
        If a probability is outside [0, 1] or another field is not allowed.
    """

    flip: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    garbage: float = 0.0
    stall: float = 0.0
    stall_s: float = 0.01
    max_garbage: int = 8
    persistent: bool = False
    directions: tuple = DIRECTIONS

    def __post_init__(self):
        for name in _RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(name, value, "a probability in [0, 1]")
        if (
            isinstance(self.stall_s, bool)
            or not isinstance(self.stall_s, int | float)
            or not 0 <= self.stall_s < math.inf
        ):
            raise ConfigError("stall_s", self.stall_s, "a finite number of seconds >= 0")
        if (
            isinstance(self.max_garbage, bool)
            or not isinstance(self.max_garbage, int)
            or not 1 <= self.max_garbage <= _MAX_GARBAGE
        ):
            raise ConfigError("max_garbage", self.max_garbage, f"an integer in 1..{_MAX_GARBAGE}")
        if not isinstance(self.persistent, bool | np.bool_):
            raise ConfigError("persistent", self.persistent, "True or False")
        if (
            not isinstance(self.directions, tuple | list)
            or not self.directions
            or not all(d in DIRECTIONS for d in self.directions)
        ):
            raise ConfigError("directions", self.directions, f"a non-empty subset of {DIRECTIONS}")

    @property
    def active(self) -> bool:
        """Whether anything is injected at all."""
        return self.persistent or any(getattr(self, name) > 0 for name in _RATES)


class FaultyTransport(WrappedTransport):
    """Wraps a transport and damages the bytes going through it, reproducibly for a seed.

    Parameters
    ----------
    inner : Transport
    faults : Faults
    seed : int

    Attributes
    ----------
    injected : collections.Counter
        Faults injected so far, keyed ``"<direction>_<kind>"`` (``"tx_flip"``, ``"rx_stall"``...).
    """

    def __init__(self, inner, faults: Faults, seed: int = 0):
        super().__init__(inner)
        self.faults = faults
        self.rng = np.random.default_rng(seed)
        self.injected: Counter = Counter()

    def write(self, data: bytes) -> None:
        """Damage ``data`` (direction ``"tx"``) and pass it on, perhaps with a stall in the middle."""
        data = self._damage(bytes(data), "tx")
        if "tx" in self.faults.directions and data and self.rng.random() < self.faults.stall:
            self.injected["tx_stall"] += 1
            cut = int(self.rng.integers(1, len(data) + 1))
            self.inner.write(data[:cut])
            self.inner.sleep(self.faults.stall_s)
            data = data[cut:]
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Read from the inner transport and damage what arrived (direction ``"rx"``)."""
        data = self._damage(self.inner.read(max_bytes, timeout_s), "rx")
        if "rx" in self.faults.directions and data and self.rng.random() < self.faults.stall:
            self.injected["rx_stall"] += 1
            self.inner.sleep(self.faults.stall_s)
        return data

    def _damage(self, data: bytes, direction: str) -> bytes:
        f = self.faults
        if not data or direction not in f.directions or not f.active:
            return data
        draws = self.rng.random((len(data), 4))
        bits = self.rng.integers(0, 8, len(data))
        out = bytearray()
        for i, byte in enumerate(data):
            if draws[i, 0] < f.garbage:
                burst = self.rng.integers(0, 256, int(self.rng.integers(1, f.max_garbage + 1)))
                out += bytes(burst.astype(np.uint8))
                self.injected[f"{direction}_garbage"] += 1
            if draws[i, 1] < f.drop:
                self.injected[f"{direction}_drop"] += 1
                continue
            if f.persistent or draws[i, 2] < f.flip:
                byte ^= 1 << int(bits[i])
                self.injected[f"{direction}_flip"] += 1
            out.append(byte)
            if draws[i, 3] < f.duplicate:
                out.append(byte)
                self.injected[f"{direction}_duplicate"] += 1
        return bytes(out)
