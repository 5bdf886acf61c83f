"""Exactly-once WRITE/RUN on a clean link, whatever the commands between them (the ISA's duplicate rule)."""

import random
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.emulation import isa
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.isa import Opcode, Space
from hwgen.host.driver import Device, device_formats
from hwgen.host.emulated_device import EmulatedDevice, emulated_info

# Side-effect-free commands between two WRITE/RUNs that once gave the second one the first one's seq.
WRAPS = (255, 511)


def _quiet(dev: Device, kind: str, count: int) -> None:
    """``count`` side-effect-free commands of ``kind`` (``"read"``, ``"ping"``, ``"status"`` or ``"mixed"``)."""
    calls = {
        "read": lambda: dev.read(Space.O, 0, 1),
        "ping": lambda: dev.info(refresh=True),
        "status": dev.status,
    }
    order = list(calls) if kind == "mixed" else [kind]
    for i in range(count):
        calls[order[i % len(order)]]()


@pytest.mark.parametrize("quiet", WRAPS)
@pytest.mark.parametrize("kind", ["read", "ping", "status", "mixed"])
def test_a_write_after_255_side_effect_free_commands_is_executed(quiet, kind):
    dev = Device.open("emulated://?rows=4&cols=4")
    dev.write(Space.W, 0, [1, 2, 3, 4])
    _quiet(dev, kind, quiet)
    dev.write(Space.W, 0, [9, 9, 9, 9])
    assert dev.read(Space.W, 0, 1).tolist() == [[9, 9, 9, 9]]
    assert dev.stats.retries == 0


@pytest.mark.parametrize("quiet", WRAPS)
def test_an_accumulating_run_after_255_reads_is_applied_twice(quiet):
    dev = Device.open("emulated://?rows=4&cols=4")
    w = np.arange(16).reshape(4, 4) - 8
    a = np.arange(8).reshape(2, 4) - 3
    dev.write(Space.W, 0, w)
    dev.write(Space.A, 0, a)
    dev.run(0, 0, 0, 2, accumulate=True)  # O starts at zero
    _quiet(dev, "read", quiet)
    dev.run(0, 0, 0, 2, accumulate=True)
    assert np.array_equal(dev.read(Space.O, 0, 2), 2 * (a @ w))
    assert dev.status()["runs"] == 2


# -- the duplicate rule on the golden model, against a model that applies each command once ----------------------
SMALL = emulated_info(2, 2, w_depth=4, a_depth=4, o_depth=4, max_payload=64)
# Runs of side-effect-free commands: short ones, and the lengths that bring the seq back round.
QUIET_LENGTHS = (1, 2, 3, 127, 254, 255, 256, 257, 510, 511, 512)


def _model() -> AcceleratorModel:
    return AcceleratorModel(SMALL, *device_formats(SMALL), lambda m: run_cycles(SMALL, m))


def _payloads(kind: str, rng: random.Random) -> list[bytes]:
    """The command payloads of one step: one WRITE, RUN or malformed command, or a run of quiet ones."""
    if kind == "write":
        space = Space(rng.randrange(3))
        n = rng.randint(1, 2)
        words = np.frombuffer(rng.randbytes(n * SMALL.word_bytes(space)), np.uint8).reshape(n, -1)
        return [isa.write(space, rng.randint(0, SMALL.depth(space) - n), words)]
    if kind == "run":
        m = rng.randint(1, 4)
        return [isa.run(rng.randint(0, 2), rng.randint(0, 4 - m), rng.randint(0, 4 - m), m, rng.random() < 0.6)]
    if kind == "bad":  # rejected WRITE/RUN (remembered like good ones), a bad opcode, a bad READ, an empty payload
        zero_write = isa.write(Space.W, 0, np.zeros((0, 2), np.uint8))
        return [rng.choice([zero_write, isa.run(0, 0, 0, 0), bytes([0x7F]), isa.read(Space.O, 4, 1), b""])]
    quiet = [isa.ping(), isa.status(), isa.read(Space.O, 0, 4), isa.read(Space.W, 1, 2)]
    return [rng.choice(quiet) for _ in range(rng.choice(QUIET_LENGTHS))]


def _check_frame(payload: bytes, got, want) -> None:
    """A response equals the once-only reference's (STATUS: its run counters; its frame count differs)."""
    if payload[:1] == bytes([Opcode.STATUS]):
        got, want = (got[0], got[1][:8]), (want[0], want[1][:8])
    assert (int(got[0]), got[1]) == (int(want[0]), want[1]), f"command {payload[:10].hex()}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_seq=st.integers(0, 255),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["write", "run", "quiet", "bad"]), st.integers(0, 2**32), st.sampled_from([0, 0, 1, 3])
        ),
        max_size=10,
    ),
)
def test_driver_like_sequences_with_retries_apply_every_command_once(first_seq, steps):
    # The driver's numbering: each command takes the next seq (mod 256); a retry resends the same frame.
    device, reference = _model(), _model()
    seq = first_seq
    for kind, seed, retries in steps:
        rng = random.Random(seed)
        for payload in _payloads(kind, rng):
            want = reference.execute(payload)  # each distinct command applied exactly once
            for _ in range(1 + (retries if kind != "quiet" else rng.choice([0, 0, 0, 1]))):
                _check_frame(payload, device.handle(seq, payload), want)
            for space in Space:
                assert np.array_equal(device.memory[space], reference.memory[space]), space.name
            seq = (seq + 1) & 0xFF
    assert device.counters["runs"] == reference.counters["runs"]


# -- a long mixed run through the driver, checked against NumPy ------------------------------------------------------
LONG = emulated_info(2, 2, w_depth=8, a_depth=8, o_depth=8, max_payload=64)
LONG_COMMANDS = 70_000


class _Expected:
    """What the scratchpads and counters must hold, kept with NumPy alone (int8 values, wrapping int32 sums)."""

    def __init__(self, info):
        self.info = info
        self.memory = {space: np.zeros((info.depth(space), 2), np.int64) for space in Space}
        self.runs = self.cycles = 0

    def run(self, w, a, o, m, accumulate):
        product = self.memory[Space.A][a : a + m] @ self.memory[Space.W][w : w + self.info.rows]
        old = self.memory[Space.O][o : o + m] if accumulate else 0
        self.memory[Space.O][o : o + m] = (product + old + 2**31) % 2**32 - 2**31
        self.runs += 1
        self.cycles += 2 * self.info.rows + self.info.cols + m + 2


def _busy(dev: Device, want: _Expected, rng: random.Random) -> None:
    """One WRITE or RUN (accumulating or not) on the device and in the expectation."""
    if rng.random() < 0.5:
        space = Space(rng.randrange(3))
        n = rng.randint(1, 2)
        addr = rng.randint(0, LONG.depth(space) - n)
        bits = 32 if space is Space.O else 8
        values = np.array([[rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)) for _ in range(2)] for _ in range(n)])
        dev.write(space, addr, values)
        want.memory[space][addr : addr + n] = values
        return
    m = rng.randint(1, 4)
    args = (rng.randint(0, 6), rng.randint(0, 8 - m), rng.randint(0, 8 - m), m, rng.random() < 0.6)
    assert dev.run(*args) == 2 * LONG.rows + LONG.cols + m + 2
    want.run(*args)


def _check_quiet(dev: Device, want: _Expected, rng: random.Random) -> None:
    """One READ, PING or STATUS, its answer checked against the expectation."""
    pick = rng.random()
    if pick < 0.7:
        space = Space(rng.randrange(3))
        n = rng.randint(1, 3)
        addr = rng.randint(0, LONG.depth(space) - n)
        got = dev.read(space, addr, n)
        assert np.array_equal(got, want.memory[space][addr : addr + n]), f"{space.name}[{addr}:{addr + n}]"
    elif pick < 0.85:
        assert dev.info(refresh=True) == LONG
    else:
        status = dev.status()
        assert (status["runs"], status["total_run_cycles"]) == (want.runs, want.cycles % 2**32)


def test_seventy_thousand_mixed_commands_read_back_exactly():
    # Each WRITE/RUN is followed by a run of checked READ/PING/STATUS commands; some runs are 255 or 511 long.
    dev = Device(EmulatedDevice(LONG))
    want = _Expected(LONG)
    rng = random.Random(2024)
    start = time.perf_counter()
    wraps = 0
    while dev.stats.commands < LONG_COMMANDS:
        _busy(dev, want, rng)
        quiet = rng.choice([254, 255, 256, 511]) if rng.random() < 0.04 else rng.randint(0, 5)
        wraps += quiet in WRAPS
        for _ in range(quiet):
            _check_quiet(dev, want, rng)
    for space in Space:
        assert np.array_equal(dev.read(space, 0, LONG.depth(space)), want.memory[space])
    assert dev.stats.retries == 0 and dev.stats.commands >= LONG_COMMANDS and wraps >= 20
    print(f"{dev.stats.commands} commands, {wraps} wrap patterns, {time.perf_counter() - start:.1f} s")
