"""The host driver against the emulated device: framing, word packing, splitting, errors, transports."""

import struct

import numpy as np
import pytest

from hwgen.emulation import isa
from hwgen.emulation.accelerator_model import AcceleratorModel
from hwgen.emulation.accelerator_timing import run_cycles
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import get_format
from hwgen.emulation.isa import Space, Status
from hwgen.emulation.ops import matmul_int
from hwgen.host.driver import CommandRejectedError, Device, DeviceError, device_formats
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
    assert dev.stats.commands == 1 + 1 + 19  # PING, fence, ceil(37 / 2) WRITEs
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
    with pytest.raises(ConfigError, match="timeout"):
        Device(EmulatedDevice(), timeout=0)
    with pytest.raises(ConfigError, match="retries"):
        Device(EmulatedDevice(), retries=-1)


def test_sequence_numbers_wrap_modulo_256():
    dev = Device(EmulatedDevice(emulated_info(1, 1)))
    dev.write(Space.W, 0, [[3]])
    for i in range(300):
        dev.write(Space.A, 0, [[i % 100]])
        dev.run(0, 0, 0, 1, accumulate=True)
    assert dev.read(Space.O, 0, 1)[0, 0] == 3 * sum(i % 100 for i in range(300))
    assert dev.stats.commands > 600 and dev.stats.retries == 0


def test_a_new_session_is_not_mistaken_for_a_retry():
    # The first session's last WRITE used seq 1; a second driver starting at seq 0 fences first.
    emu = EmulatedDevice(emulated_info(1, 1))
    first = Device(emu)
    first.write(Space.W, 0, [[5]])
    second = Device(emu)
    second.write(Space.W, 0, [[6]])
    assert second.read(Space.W, 0, 1)[0, 0] == 6


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
