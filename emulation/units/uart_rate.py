"""The UART's bit rate rule: clock cycles per bit for a clock and an asked baud, or why that rate cannot be built."""

from __future__ import annotations

from hwgen.emulation.errors import ConfigError

__all__ = ["MAX_RATE_ERROR", "MIN_BAUD", "MIN_DIVISOR", "uart_divisor"]

#: Fewest clock cycles per bit: the receiver needs a distinct mid-bit sample point.
MIN_DIVISOR = 4
#: Slowest rate accepted: the slowest standard rate (a slower one is a typo, not a link).
MIN_BAUD = 300
#: Largest relative error of the built rate ``clk_freq / divisor`` against the asked one. An 8N1
#: frame samples its stop bit 9.5 bits after the start edge; 2 % at each end keeps that sample
#: inside the bit, so a rate the divisor cannot approach this closely would fail on the wire.
MAX_RATE_ERROR = 0.02


def uart_divisor(clk_freq: int, baud: int) -> int:
    """Clock cycles per bit, ``round(clk_freq / baud)``.

    Raises
    ------
    ConfigError
        If ``clk_freq`` or ``baud`` is not a positive integer, ``baud`` is below
        :data:`MIN_BAUD`, the divisor is below :data:`MIN_DIVISOR`, or the built rate
        misses ``baud`` by more than :data:`MAX_RATE_ERROR`.
    """
    for field, value in (("clk_freq", clk_freq), ("baud", baud)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(field, value, "a positive integer (Hz / bits per second)")
    fastest = clk_freq // MIN_DIVISOR
    if not MIN_BAUD <= baud <= fastest:
        raise ConfigError("baud", baud, f"{MIN_BAUD}..{fastest} (clk_freq / {MIN_DIVISOR}) for clk_freq={clk_freq}")
    divisor = round(clk_freq / baud)
    error = abs(clk_freq / divisor - baud) / baud
    if error > MAX_RATE_ERROR:
        raise ConfigError(
            "baud", baud, f"a rate within {MAX_RATE_ERROR:.0%} of clk_freq / an integer (clk_freq={clk_freq}; "
            f"divisor {divisor} gives {clk_freq / divisor:,.0f}, {error:.1%} off)"
        )  # fmt: skip
    return divisor
