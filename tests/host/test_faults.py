"""Fault injection between the driver and the emulated device: results stay bit-exact or the driver says why not."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.emulation import isa
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import Space
from hwgen.host.driver import Device, DeviceError
from hwgen.host.emulated_device import EmulatedDevice, emulated_info
from hwgen.host.faults import Faults, FaultyTransport
from hwgen.host.transports import WrappedTransport

INFO = emulated_info(4, 4, max_payload=32)  # frames of at most 38 bytes: a few faults per hundred frames
RETRIES = 8


def _workload(dev: Device, seed: int) -> dict:
    """Two K-tiles of a GEMM (the second accumulated), plus reads of every space; codes and cycles."""
    rng = np.random.default_rng(seed)
    m = 24
    w = rng.integers(-128, 128, (2 * INFO.rows, INFO.cols))
    a = rng.integers(-128, 128, (2 * m, INFO.rows))
    dev.write(Space.W, 0, w)
    dev.write(Space.A, 0, a)
    cycles = [dev.run(0, 0, 5, m), dev.run(INFO.rows, m, 5, m, accumulate=True)]
    return {
        "o": dev.read(Space.O, 5, m, codes=True),
        "w": dev.read(Space.W, 0, 2 * INFO.rows, codes=True),
        "a": dev.read(Space.A, 0, 2 * m, codes=True),
        "cycles": cycles,
    }


def _clean(seed: int, baud=None) -> dict:
    return _workload(Device(EmulatedDevice(INFO, baud=baud)), seed)


def _faulty(faults: Faults, seed: int, baud=None):
    emu = EmulatedDevice(INFO, baud=baud)
    link = FaultyTransport(emu, faults, seed)
    dev = Device(link, timeout=0.02, retries=RETRIES)
    return emu, link, dev


def _assert_same(got: dict, want: dict) -> None:
    for key in ("o", "w", "a"):
        assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), key
    assert got["cycles"] == want["cycles"]


KINDS = {
    "flip": lambda r: Faults(flip=r),
    "drop": lambda r: Faults(drop=r),
    "duplicate": lambda r: Faults(duplicate=r),
    "garbage": lambda r: Faults(garbage=r),
    "stall": lambda r: Faults(stall=min(1.0, 30 * r), stall_s=0.005),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("rate", [0.002, 0.01])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_fault_kind_leaves_results_bit_exact(kind, rate, seed):
    emu, link, dev = _faulty(KINDS[kind](rate), seed)
    got = _workload(dev, seed)
    _assert_same(got, _clean(seed))
    status = dev.status()
    stats = dev.stats
    assert sum(link.injected.values()) > 0, "the run injected nothing: the rate is too low to test anything"
    assert stats.frames_sent == stats.commands + stats.retries
    # Every command got through once; garbage cannot forge a good frame; the device's counters agree.
    assert stats.commands <= status["good_frames"] <= stats.frames_sent
    assert status["runs"] == 2 and status["good_frames"] <= emu.model.counters["good_frames"]  # a retried STATUS
    # A damaged command costs a retry. The device counts it as dropped unless the damage hit its sync byte:
    # then it never saw a frame begin (so dropped_frames >= 1 is not a law, and is not asserted).
    tx_damage = sum(link.injected[f"tx_{k}"] for k in ("flip", "drop", "duplicate"))
    if tx_damage:
        assert stats.retries >= 1
    if any(link.injected[f"rx_{k}"] for k in ("flip", "drop", "duplicate")):
        assert stats.retries >= 1 and (stats.crc_errors or stats.timeouts or stats.skipped_bytes)


def test_faults_at_a_simulated_baud_with_stalls_longer_than_the_inter_byte_timeout():
    faults = Faults(flip=0.002, drop=0.002, duplicate=0.002, garbage=0.002, stall=0.1, stall_s=0.01)
    emu, link, dev = _faulty(faults, 7, baud=115200)
    assert faults.stall_s > emu.inter_byte_timeout_s
    _assert_same(_workload(dev, 7), _clean(7, baud=115200))
    assert link.injected["tx_stall"] >= 1 and emu.dropped_frames >= link.injected["tx_stall"] - 1
    assert emu.now() > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=st.fixed_dictionaries(
        {k: st.sampled_from([0.0, 0.001, 0.004]) for k in ("flip", "drop", "duplicate", "garbage")}
    ),
    stall=st.sampled_from([0.0, 0.05, 0.2]),
    directions=st.sampled_from([("tx",), ("rx",), ("tx", "rx")]),
    seed=st.integers(0, 2**16),
)
def test_random_fault_mixes_never_corrupt_a_result(rates, stall, directions, seed):
    # At most ~0.4 faults per command/response pair: 13 attempts all failing has odds ~1e-5 per command.
    faults = Faults(**rates, stall=stall, stall_s=0.003, directions=directions)
    _, _, dev = _faulty(faults, seed)
    dev.retries = 12
    _assert_same(_workload(dev, seed % 5), _clean(seed % 5))


class _LoseResponses(WrappedTransport):
    """Swallows every byte the device sends back while ``lose`` responses remain to be lost."""

    def __init__(self, inner):
        super().__init__(inner)
        self.lose = 0

    def read(self, max_bytes, timeout_s):
        data = self.inner.read(max_bytes, timeout_s)
        if self.lose and data:
            self.lose -= 1
            self.inner.read(1 << 16, 0)  # the rest of that response
            return b""
        return data


@pytest.mark.parametrize("lost", [1, 3])
def test_accumulating_run_retried_after_lost_responses_adds_once(lost):
    emu = EmulatedDevice(emulated_info(2, 2))
    link = _LoseResponses(emu)
    dev = Device(link, timeout=0.01, retries=4)
    dev.write(Space.W, 0, [[1, 2], [3, 4]])
    dev.write(Space.A, 0, [[1, 1], [2, -1]])
    dev.run(0, 0, 0, 2)
    frames_before = emu.model.counters["good_frames"]
    link.lose = lost
    dev.run(0, 0, 0, 2, accumulate=True)
    assert emu.model.counters["good_frames"] - frames_before == lost + 1  # the device saw every resend
    assert emu.model.counters["runs"] == 2  # ...and executed the RUN once
    assert np.array_equal(dev.read(Space.O, 0, 2), 2 * np.array([[4, 6], [-1, 0]]))
    assert dev.stats.retries == lost


def test_lost_write_responses_do_not_rewrite_after_a_newer_write():
    # WRITE seq s executed, response lost; the retry must not re-apply it over nothing newer -
    # and a later WRITE (seq s+1) to the same word must win.
    emu = EmulatedDevice(emulated_info(1, 1))
    link = _LoseResponses(emu)
    dev = Device(link, timeout=0.01)
    dev.write(Space.W, 0, [[1]])
    link.lose = 2
    dev.write(Space.W, 0, [[2]])
    dev.write(Space.W, 0, [[3]])
    assert dev.read(Space.W, 0, 1)[0, 0] == 3 and dev.stats.retries == 2


@pytest.mark.parametrize(("directions", "fault"), [(("tx",), "timeout"), (("rx",), "CRC|timeout"), (("tx", "rx"), "")])
def test_persistent_fault_becomes_a_clear_error(directions, fault):
    _, _, dev = _faulty(Faults(persistent=True, directions=directions), 3)
    with pytest.raises(
        DeviceError, match=rf"PING \(seq 0\): no valid response after {RETRIES + 1} attempt\(s\)"
    ) as err:
        dev.info()
    assert err.value.attempts == RETRIES + 1 and dev.stats.frames_sent == RETRIES + 1
    assert err.value.last_fault and re.search(fault, err.value.last_fault)


def test_a_link_that_dies_mid_session_names_the_command():
    _, link, dev = _faulty(Faults(), 0)
    dev.write(Space.W, 0, np.ones((4, 4), int))
    link.faults = Faults(persistent=True)
    with pytest.raises(DeviceError, match=r"WRITE\(A\[0\], 1\) \(seq \d+\): no valid response after 9") as err:
        dev.write(Space.A, 0, np.ones((1, 4), int))
    assert "timeout" in err.value.last_fault or "CRC" in err.value.last_fault


def test_garbage_before_the_first_frame_in_both_directions():
    emu = EmulatedDevice(INFO)
    # A fake sync and a plausible header on the device's line: it waits for a frame that never completes.
    emu.write(bytes([0x13, 0xA5, 0x00, 0x05, 0x00, 0xA5, 0x77]))
    # A plausible PING response header with the wrong seq, then lone sync bytes, on the host's line.
    junk = bytes([0x5A, 0x07, 0x00, isa.DeviceInfo.SIZE, 0x00, 0x5A, 0x5A, 0x01, 0xFF])
    dev = Device(_Prefixed(emu, junk), timeout=0.02)
    assert dev.info() == INFO
    _assert_same(_workload(dev, 2), _clean(2))
    assert dev.stats.skipped_bytes >= len(junk) - 1 and emu.dropped_frames >= 1


class _Prefixed(WrappedTransport):
    """Delivers ``junk`` to the host ahead of the device's first bytes."""

    def __init__(self, inner, junk):
        super().__init__(inner)
        self.junk = junk

    def read(self, max_bytes, timeout_s):
        junk, self.junk = self.junk, b""
        return junk + self.inner.read(max_bytes, timeout_s)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_command_kind_under_faults_answers_like_the_golden_model(seed):
    from hwgen.sim.virtual_serial import program_workload

    faults = Faults(flip=0.003, drop=0.003, duplicate=0.003, garbage=0.003, stall=0.05, stall_s=0.003)
    link = FaultyTransport(
        EmulatedDevice(emulated_info(2, 2, w_depth=8, a_depth=16, o_depth=16, max_payload=32)), faults, seed
    )
    dev = Device(link, timeout=0.02)
    outcome = program_workload(dev, seed, count=150)
    assert outcome["mismatches"] == [] and dev.stats.retries > 0 and sum(link.injected.values()) > 0


def test_fault_injection_is_reproducible_and_validated():
    data = bytes(range(256)) * 4
    faults = Faults(flip=0.02, drop=0.02, duplicate=0.02, garbage=0.02)
    outs = []
    for _ in range(2):
        link = FaultyTransport(EmulatedDevice(), faults, seed=11)
        outs.append((link._damage(data, "tx"), dict(link.injected)))
    assert outs[0] == outs[1] and outs[0][0] != data
    assert all(outs[0][1][f"tx_{k}"] > 0 for k in ("flip", "drop", "duplicate", "garbage"))
    untouched = FaultyTransport(EmulatedDevice(), Faults(flip=1.0, directions=("rx",)), seed=1)
    assert untouched._damage(data, "tx") == data
    with pytest.raises(ConfigError, match="flip"):
        Faults(flip=1.5)
    with pytest.raises(ConfigError, match="directions"):
        Faults(directions=("up",))
