"""Valid/ready stream driver and monitor for cocotb benches, with random flow control."""

from __future__ import annotations

import random
from collections import deque

__all__ = ["StreamDriver", "StreamMonitor"]


class StreamDriver:
    """Drives an Amaranth stream input (``<prefix>__payload/valid/ready``) of a DUT.

    The bench calls ``drive()`` after each rising edge and ``sample(cycle)`` in the
    read-only phase before the next one. Once ``valid`` is raised it stays up with the
    same payload until the beat is taken (the stream rule); while idle, a beat is
    offered with probability ``valid_prob``.

    Parameters
    ----------
    dut : cocotb handle
    prefix : str
        Port name, e.g. ``"i_act"``.
    valid_prob : float
        Chance per cycle of offering the next beat (1.0: never idle).
    rng : random.Random
    """

    def __init__(self, dut, prefix: str, valid_prob: float, rng: random.Random):
        self.payload = getattr(dut, f"{prefix}__payload")
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.valid_prob = valid_prob
        self.rng = rng
        self.queue: deque[int] = deque()
        self.offering = False
        self.taken_cycles: list[int] = []
        self.valid.value = 0

    def send(self, beats) -> None:
        """Queue payload integers to send in order."""
        self.queue.extend(int(b) for b in beats)

    @property
    def idle(self) -> bool:
        return not self.queue

    def drive(self) -> None:
        if not self.offering and self.queue and self.rng.random() < self.valid_prob:
            self.offering = True
            self.payload.value = self.queue[0]
        self.valid.value = int(self.offering)

    def sample(self, cycle: int) -> None:
        if self.offering and int(self.ready.value):
            self.queue.popleft()
            self.taken_cycles.append(cycle)
            self.offering = False


class StreamMonitor:
    """Receives beats from an Amaranth stream output, with random back-pressure.

    Parameters
    ----------
    dut : cocotb handle
    prefix : str
        Port name, e.g. ``"o_out"``.
    ready_prob : float
        Chance per cycle of accepting (1.0: never stalls the DUT).
    rng : random.Random
    """

    def __init__(self, dut, prefix: str, ready_prob: float, rng: random.Random):
        self.payload = getattr(dut, f"{prefix}__payload")
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.ready_prob = ready_prob
        self.rng = rng
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self.accepting = False
        self.ready.value = 0

    def drive(self) -> None:
        self.accepting = self.rng.random() < self.ready_prob
        self.ready.value = int(self.accepting)

    def sample(self, cycle: int) -> None:
        if self.accepting and int(self.valid.value):
            self.beats.append(int(self.payload.value))
            self.cycles.append(cycle)
