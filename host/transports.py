"""Byte transports the host driver speaks its framed protocol over: the ``Transport`` protocol, serial ports, URLs."""

from __future__ import annotations

import re
import time
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from hwgen.emulation.errors import ConfigError

__all__ = ["WrappedTransport", "BaseTransport", "SerialTransport", "Transport", "open_transport"]

#: URL schemes :func:`open_transport` knows.
SCHEMES = ("serial", "emulated", "loop", "socket", "rfc2217")
#: Fastest line rate a transport takes (pyserial's own bound: below 2**32 bits per second).
MAX_BAUD = 2**32 - 1
# An integer query field: ASCII digits (int() also takes "_", whitespace and other scripts' digits), at most 12.
_INT_TEXT = re.compile(r"-?[0-9]{1,12}")


@runtime_checkable
class Transport(Protocol):
    """A byte pipe to a device.

    ``read`` blocks until ``max_bytes`` bytes have arrived or ``timeout_s`` has
    passed, and returns what arrived (possibly nothing). ``now`` is the
    transport's clock in seconds (wall time for real links, simulated time for
    emulated and simulated ones); ``sleep`` lets that clock pass. ``byte_time_s``
    is the time one byte takes on the line (0 when unknown or instantaneous).
    """

    byte_time_s: float

    def write(self, data: bytes) -> None: ...

    def read(self, max_bytes: int, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class BaseTransport:
    """Wall-clock ``now``/``sleep`` and context-manager support for a transport."""

    byte_time_s = 0.0

    def now(self) -> float:
        """Monotonic wall-clock time in seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of wall-clock time pass."""
        if seconds > 0:
            time.sleep(seconds)

    def close(self) -> None:
        """Release the link (nothing to do here)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WrappedTransport(BaseTransport):
    """A transport that forwards everything to ``inner``: the base of transports that alter a link."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def byte_time_s(self) -> float:
        """The inner transport's byte time."""
        return self.inner.byte_time_s

    def write(self, data: bytes) -> None:
        """Pass ``data`` on."""
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Read from the inner transport."""
        return self.inner.read(max_bytes, timeout_s)

    def now(self) -> float:
        """The inner transport's clock."""
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        """Let the inner transport's time pass."""
        self.inner.sleep(seconds)

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


class SerialTransport(BaseTransport):
    """A serial port through pyserial (imported when the port is opened).

    Parameters
    ----------
    port : str
        A device path (``/dev/ttyUSB1``, ``COM3``) or a pyserial URL (``loop://``,
        ``socket://host:port``).
    baud : int
        Line rate; 8N1 framing, so a byte takes ``10 / baud`` seconds.

    Raises
    ------
    ConfigError
        If ``port`` is not a non-empty string or ``baud`` is not an integer in ``1..MAX_BAUD``.
    RuntimeError
        If pyserial is not installed.
    """

    def __init__(self, port: str, baud: int = 115200):
        if not isinstance(port, str) or not port.strip():
            raise ConfigError("port", port, "a device path or pyserial URL (a non-empty string)")
        if isinstance(baud, bool) or not isinstance(baud, int) or not 0 < baud <= MAX_BAUD:
            raise ConfigError("baud", baud, f"an integer in 1..{MAX_BAUD} (bits per second)")
        try:
            import serial
        except ImportError:  # pragma: no cover - pyserial is a dependency
            raise RuntimeError("SerialTransport needs pyserial: pip install pyserial") from None
        self.port, self.baud = port, baud
        self.byte_time_s = 10.0 / baud
        self._serial = serial.serial_for_url(port, baudrate=baud, timeout=0)

    def write(self, data: bytes) -> None:
        """Send ``data`` and wait until the OS has taken it."""
        self._serial.write(bytes(data))
        self._serial.flush()

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Up to ``max_bytes`` bytes, waiting at most ``timeout_s`` seconds."""
        self._serial.timeout = max(0.0, timeout_s)
        return bytes(self._serial.read(max_bytes))

    def close(self) -> None:
        """Close the port."""
        self._serial.close()


def open_transport(url: str) -> Transport:
    """Open the transport a URL names.

    Parameters
    ----------
    url : str
        ``serial:///dev/ttyUSB1?baud=115200`` or a plain device path (a serial port;
        baud 115200 unless given); ``loop://``, ``socket://host:port`` or
        ``rfc2217://host:port`` (pyserial URLs, ``?baud=`` allowed);
        ``emulated://?rows=4&cols=4&dtype=int8&baud=115200`` (an
        :class:`~hwgen.host.emulated_device.EmulatedDevice`; every query field is
        optional, see :meth:`EmulatedDevice.from_query`).

    Raises
    ------
    ConfigError
        If the URL is not a non-empty string, or its scheme, address or a query field is not
        allowed (a field given twice or empty is not).
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("url", url, "a device path or a URL (a non-empty string)")
    if "://" not in url:
        return SerialTransport(url)
    parts = urlsplit(url)
    query = _query(url, parts.query)
    if parts.scheme == "emulated":
        from hwgen.host.emulated_device import EmulatedDevice

        return EmulatedDevice.from_query(query)
    if parts.scheme not in SCHEMES:
        raise ConfigError("url", url, f"a device path or a URL with scheme {', '.join(s + '://' for s in SCHEMES)}")
    baud = _int_field(query, "baud", 115200)
    unknown = set(query) - {"baud"}
    if unknown:
        raise ConfigError("url", url, "the query field baud only")
    if parts.scheme == "serial":
        if not (parts.path or parts.netloc):
            raise ConfigError("url", url, "serial://DEVICE_PATH, e.g. serial:///dev/ttyUSB1")
        return SerialTransport(parts.path or parts.netloc, baud)
    if parts.scheme in ("socket", "rfc2217"):
        _check_host_port(url, parts)
    return SerialTransport(url.split("?", 1)[0], baud)


def _query(url: str, text: str) -> dict[str, str]:
    """The query fields of ``url``, each given once and not empty."""
    try:
        pairs = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=16)
    except ValueError:
        raise ConfigError("url", url, "a query of at most 16 name=value fields joined by &") from None
    for name, values in pairs.items():
        if len(values) > 1 or not values[0]:
            raise ConfigError(name, values if len(values) > 1 else values[0], "one non-empty value")
    return {name: values[0] for name, values in pairs.items()}


def _check_host_port(url: str, parts) -> None:
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError("url", url, f"{parts.scheme}://HOST:PORT with PORT in 0..65535")


def _int_field(query: dict, name: str, default: int) -> int:
    """Query field ``name`` as an integer (``default`` when absent): ASCII digits only."""
    if name not in query:
        return default
    if not _INT_TEXT.fullmatch(query[name]):
        raise ConfigError(name, query[name], "an integer of at most 12 ASCII digits")
    return int(query[name])
