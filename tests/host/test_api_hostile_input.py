"""Hostile input at the host runtime's public API: each bad value gets a clear error at the boundary."""

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.isa import Space
from hwgen.host.backends import DeviceBackend, get_backend
from hwgen.host.decoder import Decoder, DecoderConfig
from hwgen.host.driver import Device
from hwgen.host.emulated_device import EmulatedDevice, emulated_info
from hwgen.host.faults import Faults
from hwgen.host.mapper import map_gemm
from hwgen.host.targets import (
    BitSliceTarget,
    MixedTarget,
    PimTarget,
    SparseTarget,
    SystolicTarget,
    parse_target,
)
from hwgen.host.transports import SerialTransport, open_transport
from hwgen.host.workload import Gemm

# -- targets -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "systolic:" + "9" * 5000 + "x4",  # int() refuses > 4300 digits
        "sparse:²",  # isdigit() but not int()
        "sparse:16:²:4",
        "systolic:١٦x١٦",  # Arabic-Indic digits were read as 16x16
        "pim:4ch:٤b",
    ],
)
def test_parse_target_rejects_non_ascii_and_huge_numbers(text):
    with pytest.raises(ConfigError, match="target="):
        parse_target(text)


_SYS = SystolicTarget(4, 4)


@pytest.mark.parametrize(
    ("target", "shape"),
    [
        (_SYS, (4, 0, 4)),  # IndexError
        (_SYS, (4, 4, 0)),
        (_SYS, (4, -5, 4)),
        (_SYS, (0, 4, 4)),  # a wrong count
        (_SYS, (4.5, 4, 4)),  # a float count
        (_SYS, ("4", 4, 4)),  # TypeError
        (_SYS, (None, 4, 4)),
        (_SYS, (True, 4, 4)),
        (BitSliceTarget(), (-1, 4, 4)),
        (BitSliceTarget(), (4.5, 4, 4)),
        (SparseTarget(16, 2, 4), (4, -4, 4)),
        (SparseTarget(16, 2, 4), ("4", 4, 4)),
        (PimTarget(4), (-1, 4, 4)),  # negative cycles
        (PimTarget(4), ("4", 4, 4)),  # "4" * ... : a string of digits
    ],
)
def test_target_cycles_reject_bad_shapes(target, shape):
    with pytest.raises(ConfigError, match="is not allowed"):
        target.cycles(*shape)


@pytest.mark.parametrize(
    "call",
    [
        lambda: _SYS.cycles(4, 0, 4, "ws"),
        lambda: SystolicTarget(0, 4),  # ZeroDivisionError
        lambda: _SYS.cycles(4, 4, 0, "os"),
        lambda: _SYS.cycles(4, 4, 4, dataflow="bogus"),  # silently the ws count
        lambda: _SYS.cycles(4, 4, 4, dataflow=""),
        lambda: SystolicTarget(4, 4, "auto").pick_dataflow(4, 4, 4, ("zz",)),  # returned "zz"
        lambda: SystolicTarget(4, 4, "auto").pick_dataflow(4, 4, 4, ()),
        lambda: BitSliceTarget().cycles(4, 4, 4, w_bits=0),
        lambda: BitSliceTarget().cycles(4, 4, 4, w_bits=None),
        lambda: BitSliceTarget().peak_macs_per_cycle(-1, 8),
        lambda: SparseTarget(16, True, True),
        lambda: MixedTarget("a", "b"),
        lambda: MixedTarget(None, _SYS),
        lambda: MixedTarget(MixedTarget(_SYS, _SYS), _SYS),
        lambda: map_gemm(Gemm("g", "4", 4, 4), _SYS),
    ],
)
def test_target_helpers_reject_bad_arguments(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


@pytest.mark.parametrize(
    ("shape", "flow"), [((4, 10**12, 4), "ws"), ((4, 4, 10**12), "is"), ((10**6, 10**6, 10**6), "ws")]
)
def test_stationary_cycles_of_huge_gemms_are_immediate(shape, flow):
    """The tile recurrence used to loop once per tile (a hang for 10**12 tiles); it is periodic."""
    assert _SYS.cycles(*shape, flow) > max(shape)


# -- transports ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "emulated://?rows=4&rows=5",  # the last one won
        "emulated://?rows=",  # dropped: the default 4
        "emulated://?dtype=",
        "emulated://?rows= 4",  # int() strips whitespace
        "emulated://?rows=٤",  # and reads other scripts' digits
        "emulated://?rows=4_0",  # and underscores: 40
        "emulated://?baud=1" + "0" * 400,  # OverflowError
        "loop://?baud=",
        "loop://?baud=9600&baud=115200",
        "loop://?baud=10000000000000",  # pyserial's ValueError
        "",  # SerialException
        " ",
        "serial://",
        "socket://",  # SerialException from deep in pyserial
        None,  # TypeError
        5,
        b"loop://",
    ],
)
def test_open_transport_rejects_bad_urls(url):
    with pytest.raises(ConfigError, match="is not allowed"):
        open_transport(url)


@pytest.mark.parametrize(("port", "baud"), [("loop://", 10**400), (None, 9600), (5, 9600), ("", 9600)])
def test_serial_transport_rejects_bad_arguments(port, baud):
    with pytest.raises(ConfigError, match="is not allowed"):
        SerialTransport(port, baud)


def test_emulated_device_rejects_huge_baud():
    with pytest.raises(ConfigError, match="baud="):
        EmulatedDevice(baud=10**400)


# -- driver --------------------------------------------------------------------------------------------------------


@pytest.fixture
def dev():
    return Device(EmulatedDevice(emulated_info(4, 4)))


_W = np.zeros((2, 4), np.int64)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.write(Space.W, 0, np.ones((1, 4), np.int64), codes="no"),  # "no" was truthy: codes
        lambda d: d.read(Space.W, 0, 1, codes="no"),
        lambda d: d.run(0, 0, 0, 1, accumulate="no"),  # accumulated
        lambda d: d.run(0, 0, 0, 1, accumulate=float("nan")),
        lambda d: d.execute(None),  # TypeError
        lambda d: d.execute([None]),
        lambda d: d.execute([5]),  # bytes(5): five zero bytes sent
        lambda d: d.execute(["abc"]),
        lambda d: d.execute(b"\x00\x01"),  # each int became a payload
        lambda d: d.execute([b"\x01" + bytes(100_000)]),  # struct.error
    ],
)
def test_device_rejects_bad_flags_and_payloads(dev, call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call(dev)


@pytest.mark.parametrize("transport", [None, 5, "emulated://"])
def test_device_rejects_a_non_transport(transport):
    with pytest.raises(ConfigError, match="transport="):
        Device(transport)


def test_device_numpy_addresses_do_not_wrap(dev):
    """``np.uint16(65535) + np.uint16(2)`` wrapped to 1: the range check passed and a deep reshape failed."""
    with pytest.raises(ValueError, match=r"W\[65535:65537\] is outside the scratchpad"):
        dev.read(Space.W, np.uint16(65535), np.uint16(2))


def test_device_write_of_no_words_is_a_no_op(dev):
    dev.write(Space.W, 0, np.zeros((0, 4), np.int64))  # was a deep reshape error
    assert dev.stats.commands <= 1  # at most the session's PING


def test_device_write_rejects_ragged_values(dev):
    with pytest.raises(ValueError, match="ragged"):
        dev.write(Space.W, 0, [[1, 2, 3, 4], [1, 2]])


def test_device_write_names_non_integer_values(dev):
    with pytest.raises(ValueError, match=r"outside int8's range .* or not integers"):
        dev.write(Space.W, 0, np.full((1, 4), 1.5))


# -- faults, backends, decoder -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"stall_s": float("inf")},
        {"stall_s": "1"},  # TypeError
        {"stall_s": None},
        {"directions": None},
        {"directions": ["tx", []]},  # unhashable
        {"persistent": "no"},  # truthy: a dead link
        {"max_garbage": 10**12},  # a 10**12-byte burst
    ],
)
def test_faults_reject_bad_fields(fields):
    with pytest.raises(ConfigError, match="is not allowed"):
        Faults(**fields)


@pytest.mark.parametrize(
    "call",
    [
        lambda: get_backend([]),  # unhashable
        lambda: get_backend("emulator", bogus=1),  # TypeError from the constructor
        lambda: get_backend("emulator", dataflow="zz"),  # accepted
        lambda: DeviceBackend(5),  # AttributeError
        lambda: DeviceBackend("emulated://", dataflow="zz"),
    ],
)
def test_backends_reject_bad_arguments(call):
    with pytest.raises(ConfigError, match="is not allowed"):
        call()


_TINY = DecoderConfig(vocab=16, d_model=8, heads=2, layers=1, d_ff=16, max_positions=8)


@pytest.mark.parametrize(
    "ids",
    [
        [["a"]],  # ValueError from int()
        None,  # TypeError
        [[2**64]],  # OverflowError
        [[np.nan]],
        [[1.5]],  # truncated to 1
        [[1, 2], [1]],  # ragged
    ],
)
def test_decoder_rejects_bad_ids(ids):
    with pytest.raises(ConfigError, match="input_ids="):
        Decoder(_TINY).prefill(ids)


@pytest.mark.parametrize("fields", [{"eps": float("nan")}, {"eps": -1.0}, {"eps": "x"}, {"eps": 0}])
def test_decoder_config_rejects_bad_eps(fields):
    with pytest.raises(ConfigError, match="eps="):
        DecoderConfig(**fields)


@pytest.mark.parametrize("steps", [-1, 1.5, "2", 10**9])
def test_decoder_generate_rejects_bad_steps(steps):
    with pytest.raises(ConfigError, match="steps="):
        Decoder(_TINY).generate([[1]], steps)
