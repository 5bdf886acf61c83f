"""The host driver against the emulated device: framing, word packing, splitting, errors, transports."""

import dataclasses
import struct

import numpy as np
import pytest

from hwgen.emulation import isa
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import FORMATS, get_format
from hwgen.emulation.isa import Space, Status
from hwgen.emulation.ops import matmul_int
from hwgen.host.driver import MAX_RETRIES, MAX_TIMEOUT_S, CommandRejectedError, Device, DeviceError, device_formats
from hwgen.host.emulated_device import EmulatedDevice, emulated_info
from hwgen.host.transports import SerialTransport, Transport, WrappedTransport, open_transport

INT32 = get_format("int32")


def _tile(rng, info, m):
    w = rng.integers(-128, 128, (info.rows, info.cols))
    a = rng.integers(-128, 128, (m, info.rows))
    return w, a


@pytest.mark.parametrize(("rows", "cols", "m", "baud"), [(4, 4, 20, None), (2, 3, 7, 115200), (3, 1, 1, None)])
def test_gemm_tile_bit_exact_with_matmul_int_and_cycles(rows, cols, m, baud):
    info = emulated_info(rows, cols, max_payload=40)
    dev = Device(EmulatedDevice(info, baud=baud))
    rng = np.random.default_rng(rows * 10 + cols)
    w, a = _tile(rng, info, m)
    w2, a2 = _tile(rng, info, m)
    dev.write(Space.W, 3, w)
    dev.write(Space.A, 5, a)
    dev.write(Space.W, 3 + rows, w2)
    dev.write(Space.A, 5 + m, a2)
    assert dev.run(3, 5, 2, m) == run_cycles(info, m)
    assert dev.run(3 + rows, 5 + m, 2, m, accumulate=True) == run_cycles(info, m)
    out = dev.read(Space.O, 2, m)
    expected = INT32.fit(matmul_int(a, w, INT32) + matmul_int(a2, w2, INT32))
    assert out.dtype == np.int64 and np.array_equal(out, expected)
    assert np.array_equal(dev.read(Space.W, 3, rows), w) and np.array_equal(dev.read(Space.A, 5, m), a)
    assert dev.status() == {
        "total_run_cycles": 2 * run_cycles(info, m),
        "runs": 2,
        "good_frames": dev.stats.frames_sent,
        "dropped_frames": 0,
    }
    assert dev.stats.retries == 0 and dev.stats.skipped_bytes == 0


def test_writes_and_reads_split_into_frames_of_max_payload():
    info = emulated_info(4, 4, o_depth=64, max_payload=40)  # O words of 16 bytes: 2 per WRITE, 2 per READ
    emu = EmulatedDevice(info)
    dev = Device(emu)
    codes = np.random.default_rng(1).integers(0, 1 << 32, (37, 4), dtype=np.uint64)
    dev.write(Space.O, 1, codes, codes=True)
    assert dev.stats.commands == 1 + 19  # PING (which also fences the session), ceil(37 / 2) WRITEs
    before = dev.stats.commands
    back = dev.read(Space.O, 1, 37, codes=True)
    assert back.dtype == np.uint32 and np.array_equal(back, codes)
    assert dev.stats.commands - before == 19
    assert np.array_equal(emu.model.memory[Space.O][1:38], codes.astype(np.int64))


def test_signed_accumulator_values_round_trip():
    dev = Device(EmulatedDevice())
    values = np.array([[-(2**31), -1, 0, 2**31 - 1]])
    dev.write(Space.O, 0, values)
    assert np.array_equal(dev.read(Space.O, 0, 1), values)
    assert np.array_equal(dev.read(Space.O, 0, 1, codes=True), [[2**31, 2**32 - 1, 0, 2**31 - 1]])


def test_float_device_matches_the_golden_model_by_codes():
    info = emulated_info(2, 3, dtype="float8_e4m3fn")
    value_format, acc_format = device_formats(info)
    assert acc_format.name == "float32"
    dev = Device(EmulatedDevice(info))
    model = AcceleratorModel(info, value_format, acc_format, lambda m: run_cycles(info, m))
    rng = np.random.default_rng(3)
    w = rng.integers(0, 256, (2, 3)) & ~0x7F | rng.integers(0, 0x7F, (2, 3))  # no NaN codes
    a = rng.integers(0, 0x7F, (5, 2))
    program = [isa.write(Space.W, 0, w.astype(np.uint8)), isa.write(Space.A, 0, a.astype(np.uint8))]
    program += [isa.run(0, 0, 0, 5), isa.run(0, 0, 0, 5, accumulate=True), isa.read(Space.O, 0, 5)]
    responses = dev.execute(program)
    expected = [model.execute(p)[1] for p in program]
    assert responses == expected
    assert np.array_equal(dev.read(Space.O, 0, 5, codes=True), model.memory[Space.O][:5])


def test_execute_reports_rejected_commands_without_retrying():
    dev = Device(EmulatedDevice())
    with pytest.raises(CommandRejectedError, match="BAD_OPCODE") as bad:
        dev.execute([bytes([0x7E])])
    assert bad.value.status == Status.BAD_OPCODE
    with pytest.raises(CommandRejectedError, match="BAD_ARGS"):
        dev.execute([isa.read(Space.O, 250, 10)])
    with pytest.raises(CommandRejectedError, match="BAD_ARGS"):
        dev.execute([struct.pack("<BBHH", isa.Opcode.READ, 7, 0, 1)])
    assert dev.stats.retries == 0


def test_bad_arguments_raise_at_the_boundary():
    dev = Device(EmulatedDevice())
    with pytest.raises(ValueError, match="outside int8"):
        dev.write(Space.W, 0, [[1, 2, 300, 4]])
    with pytest.raises(ValueError, match=r"allowed: \(count, 4\)"):
        dev.write(Space.A, 0, [[1, 2, 3]])
    with pytest.raises(ValueError, match="outside the scratchpad"):
        dev.read(Space.W, 60, 5)
    with pytest.raises(ValueError, match="space 5"):
        dev.read(5, 0, 1)
    with pytest.raises(ValueError, match="m=70000"):
        dev.run(0, 0, 0, 70000)
    with pytest.raises(ValueError, match="codes must be integers"):
        dev.write(Space.W, 0, [[0, 1, 2, 256]], codes=True)
    with pytest.raises(ValueError, match="payload of"):
        dev.execute([isa.write(Space.A, 0, np.zeros((300, 4), np.uint8))])


@pytest.mark.parametrize(
    "timeout", [0, -1, float("inf"), float("nan"), MAX_TIMEOUT_S * 1.01, 1e9, True, "0.5", None, 1 + 0j]
)
def test_timeout_must_be_finite_positive_and_bounded(timeout):
    with pytest.raises(ConfigError, match=rf"timeout=.* is not allowed; allowed: .*\(0, {MAX_TIMEOUT_S:g}\]"):
        Device(EmulatedDevice(), timeout=timeout)
    with pytest.raises(ConfigError, match="timeout"):
        Device.open("emulated://", timeout=timeout)
    dev = Device(EmulatedDevice())
    with pytest.raises(ConfigError, match="timeout"):
        dev.timeout = timeout
    assert dev.timeout == 0.25


@pytest.mark.parametrize("retries", [-1, MAX_RETRIES + 1, 10**7, 2.0, True, "3", None])
def test_retries_must_be_an_integer_up_to_the_bound(retries):
    with pytest.raises(ConfigError, match=rf"retries=.* is not allowed; allowed: an integer in 0\.\.{MAX_RETRIES}"):
        Device(EmulatedDevice(), retries=retries)
    with pytest.raises(ConfigError, match="retries"):
        Device.open("emulated://", retries=retries)
    dev = Device(EmulatedDevice())
    with pytest.raises(ConfigError, match="retries"):
        dev.retries = retries
    assert dev.retries == 8


def test_bounds_themselves_and_numpy_numbers_are_allowed():
    dev = Device(EmulatedDevice(), timeout=np.float32(MAX_TIMEOUT_S), retries=np.int64(MAX_RETRIES))
    assert (dev.timeout, dev.retries) == (MAX_TIMEOUT_S, MAX_RETRIES) and type(dev.retries) is int
    assert Device(EmulatedDevice(), timeout=1, retries=0).timeout == 1.0


def test_a_dead_link_fails_within_the_documented_worst_case():
    # (retries + 1) * (timeout + line), line = command and response frames at the link's byte time.
    emu = EmulatedDevice(emulated_info(2, 2), baud=115200)
    dev = Device(_Deaf(emu), timeout=MAX_TIMEOUT_S, retries=MAX_RETRIES)
    with pytest.raises(DeviceError, match=rf"after {MAX_RETRIES + 1} attempt"):
        dev.info()
    ping = len(isa.encode_command(0, isa.ping())) + len(isa.encode_response(0, 0, bytes(isa.DeviceInfo.SIZE)))
    bound = (MAX_RETRIES + 1) * (MAX_TIMEOUT_S + ping * emu.byte_time_s)
    assert MAX_TIMEOUT_S * (MAX_RETRIES + 1) < emu.now() <= bound + 1e-9


class _Deaf(WrappedTransport):
    """A link whose device never answers: every byte sent back is lost."""

    def read(self, max_bytes, timeout_s):
        self.inner.read(1 << 16, timeout_s)
        return b""


def test_sequence_numbers_wrap_modulo_256():
    dev = Device(EmulatedDevice(emulated_info(1, 1)))
    dev.write(Space.W, 0, [[3]])
    for i in range(300):
        dev.write(Space.A, 0, [[i % 100]])
        dev.run(0, 0, 0, 1, accumulate=True)
    assert dev.read(Space.O, 0, 1)[0, 0] == 3 * sum(i % 100 for i in range(300))
    assert dev.stats.commands > 600 and dev.stats.retries == 0


@pytest.mark.parametrize("start", ["write", "run", "execute"])
def test_a_new_session_is_not_mistaken_for_a_retry(start):
    # Both sessions send PING (seq 0) then a WRITE/RUN with seq 1: the second session's PING empties the record
    # the first one's WRITE/RUN left, so its own WRITE/RUN is executed, not answered as a retry.
    emu = EmulatedDevice(emulated_info(1, 1))
    setup = Device(emu)
    setup.write(Space.W, 0, [[5]])
    setup.write(Space.A, 0, [[2]])
    first, second = Device(emu), Device(emu)
    if start == "run":
        first.run(0, 0, 0, 1, accumulate=True)
        second.run(0, 0, 0, 1, accumulate=True)
        assert second.read(Space.O, 0, 1)[0, 0] == 20 and emu.model.counters["runs"] == 2
    else:
        first.write(Space.O, 0, [[3]])
        if start == "write":
            second.write(Space.O, 0, [[7]])
        else:
            second.execute([isa.write(Space.O, 0, np.array([[7, 0, 0, 0]], np.uint8))])
        assert second.read(Space.O, 0, 1)[0, 0] == 7
    assert second.stats.commands == 3 and second.stats.retries == 0  # PING, the command, READ: no extra fence frame


def test_the_first_write_of_a_session_waits_for_an_answered_side_effect_free_frame():
    # Even with the device info already known, the session sends a PING before its first WRITE.
    emu = EmulatedDevice(emulated_info(1, 1))
    frames = []
    dev = Device(_Recording(emu, frames))
    dev._info = emu.info  # as if cached: the guard, not info(), must send the PING
    dev.write(Space.W, 0, [[4]])
    dev.write(Space.W, 0, [[5]])
    assert [isa.decode_command(f)[1][0] for f in frames] == [isa.Opcode.PING, isa.Opcode.WRITE, isa.Opcode.WRITE]


class _Recording(WrappedTransport):
    def __init__(self, inner, frames):
        super().__init__(inner)
        self.frames = frames

    def write(self, data):
        self.frames.append(bytes(data))
        self.inner.write(data)


@pytest.mark.parametrize("bound", ["rows", "cols"])
def test_emulated_shape_has_the_array_configs_bound(bound):
    from hwgen.emulation.units.systolic_config import MAX_DIM

    # The top's rules: a whole scratchpad fits one response, so 64 columns of int32 need a shallower O.
    assert getattr(emulated_info(**{bound: MAX_DIM}, o_depth=128), bound) == MAX_DIM
    if bound == "cols":
        with pytest.raises(ConfigError, match=r"o_depth=256 is not allowed; allowed: at most 255"):
            emulated_info(cols=MAX_DIM)
    for bad in (0, MAX_DIM + 1, 255, True, 2.0):
        with pytest.raises(ConfigError, match=rf"{bound}=.* is not allowed; allowed: an integer from 1 to {MAX_DIM}"):
            emulated_info(**{bound: bad})
    with pytest.raises(ConfigError, match=bound):
        Device.open(f"emulated://?{bound}={MAX_DIM + 1}")
    wide = dataclasses.replace(emulated_info(2, 2), **{bound: MAX_DIM + 1})  # a DeviceInfo made by hand
    with pytest.raises(ConfigError, match=rf"{bound}={MAX_DIM + 1} is not allowed"):
        EmulatedDevice(wide)


def test_an_18_character_dtype_name_crosses_the_link():
    name = "float8_e4m3b11fnuz"
    assert len(name) == 18 and len(max(FORMATS, key=len)) <= isa.DeviceInfo.DTYPE_BYTES
    info = emulated_info(2, 2, dtype=name)
    assert isa.DeviceInfo.decode(info.encode()) == info and info.version == isa.ISA_VERSION == 2
    with Device.open(f"emulated://?rows=2&cols=2&dtype={name}") as dev:
        assert dev.info().dtype == name and dev.info() == info


def test_every_known_format_name_round_trips_and_an_unfit_name_is_refused():
    base = emulated_info(1, 1)
    for name in FORMATS:
        info = dataclasses.replace(base, dtype=name)
        assert isa.DeviceInfo.decode(info.encode()).dtype == name
    too_long = "x" * (isa.DeviceInfo.DTYPE_BYTES + 1)
    for bad in (too_long, "", "float8_é", "int8\0", 8):
        with pytest.raises(ValueError, match=r"dtype .* is not allowed; allowed: printable ASCII, 1\.\.32 characters"):
            dataclasses.replace(base, dtype=bad)


def test_the_mapper_keeps_a_long_format_name_whole():
    from hwgen.host.mapper import device_info
    from hwgen.host.targets import SystolicTarget

    info = device_info(SystolicTarget(4, 4), FORMATS["float8_e4m3b11fnuz"], FORMATS["float32"])
    assert info.dtype == "float8_e4m3b11fnuz" and isa.DeviceInfo.decode(info.encode()) == info


def test_a_device_of_another_isa_version_is_named():
    # An old bitstream answers PING with version 1 and a 16-byte name: a clear error, not a timeout.
    old = struct.pack("<BBBBBBHHHH16s", 1, 4, 4, 1, 4, 0, 64, 256, 256, 1024, b"int8")
    dev = Device(_Answering(EmulatedDevice(), old), timeout=0.01, retries=0)
    with pytest.raises(ValueError, match=r"ISA version 1; allowed: 2"):
        dev.info()


class _Answering(WrappedTransport):
    """Answers every command frame with an OK response carrying ``payload``."""

    def __init__(self, inner, payload):
        super().__init__(inner)
        self.payload, self.pending = payload, b""

    def write(self, data):
        self.pending += isa.encode_response(isa.decode_command(bytes(data))[0], 0, self.payload)

    def read(self, max_bytes, timeout_s):
        out, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return out


class _Late(WrappedTransport):
    """Holds back every byte of the first response to a RUN and delivers it after the retry's bytes."""

    def __init__(self, inner):
        super().__init__(inner)
        self.held, self.armed, self.delivered = b"", False, False

    def write(self, data):
        self.armed = data[4:5] == bytes([isa.Opcode.RUN]) and not self.held
        self.inner.write(data)

    def read(self, max_bytes, timeout_s):
        data = self.inner.read(max_bytes, timeout_s)
        if self.armed:
            self.held += data
            return b""
        if self.held and not self.delivered:
            self.delivered = True
            return self.held + data
        return data


def test_late_response_after_a_retry_is_discarded_as_stale():
    emu = EmulatedDevice(emulated_info(2, 2))
    dev = Device(_Late(emu), timeout=0.01)
    dev.write(Space.W, 0, [[1, 2], [3, 4]])
    dev.write(Space.A, 0, [[1, 1]])
    assert dev.run(0, 0, 0, 1) == run_cycles(emu.info, 1)  # answered by the retry
    assert dev.run(0, 0, 0, 1, accumulate=True) == run_cycles(emu.info, 1)  # the late copy arrives first
    assert dev.stats.retries == 1 and dev.stats.stale_responses == 1
    assert np.array_equal(dev.read(Space.O, 0, 1), [[8, 12]])
    assert emu.model.counters["runs"] == 2


def test_open_urls():
    with Device.open("emulated://?rows=2&cols=3&dtype=int8&baud=115200&max_payload=64") as dev:
        assert (dev.info().rows, dev.info().cols, dev.info().max_payload) == (2, 3, 64)
        assert dev.transport.byte_time_s == pytest.approx(10 / 115200)
    with pytest.raises(ConfigError, match="scheme"):
        open_transport("bogus://x")
    with pytest.raises(ConfigError, match="url"):
        open_transport("emulated://?colour=red")
    with pytest.raises(ConfigError, match="baud"):
        open_transport("loop://?baud=fast")
    assert isinstance(open_transport("emulated://"), Transport)


def test_serial_transport_through_pyserial_loopback():
    link = open_transport("loop://?baud=9600")
    assert isinstance(link, SerialTransport) and link.byte_time_s == pytest.approx(10 / 9600)
    link.write(b"\xa5hello")
    assert link.read(3, 0.5) == b"\xa5he" and link.read(10, 0.05) == b"llo"
    # A loopback only ever echoes commands: the driver times out and says so.
    dev = Device(link, timeout=0.02, retries=1)
    with pytest.raises(
        DeviceError, match=r"PING \(seq 0\): no valid response after 2 attempt\(s\); last fault: timeout"
    ):
        dev.info()
    dev.close()


class _PtyDevice:
    """An emulated device behind a pseudo-terminal, served by a thread: a real serial port for pyserial."""

    def __init__(self, emu):
        import os
        import threading

        self.emu, self.master, slave = emu, *os.openpty()
        self.port = os.ttyname(slave)
        self._slave, self._stop = slave, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        import os
        import select

        while not self._stop.is_set():
            if select.select([self.master], [], [], 0.01)[0]:
                self.emu.write(os.read(self.master, 4096))
                reply = self.emu.read(1 << 16, 0)
                if reply:
                    os.write(self.master, reply)

    def close(self):
        import os

        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)


def test_device_over_a_real_serial_port():
    pty = _PtyDevice(EmulatedDevice(emulated_info(2, 2, max_payload=16)))
    try:
        with Device.open(f"serial://{pty.port}?baud=115200", timeout=0.5) as dev:
            assert isinstance(dev.transport, SerialTransport)
            dev.write(Space.W, 0, [[1, -2], [3, 4]])
            dev.write(Space.A, 0, np.arange(-10, 10).reshape(10, 2))
            dev.run(0, 0, 0, 10)
            expected = matmul_int(np.arange(-10, 10).reshape(10, 2), [[1, -2], [3, 4]], INT32)
            assert np.array_equal(dev.read(Space.O, 0, 10), expected)
            assert dev.stats.retries == 0
    finally:
        pty.close()
