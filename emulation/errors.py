"""Error types raised at the public boundaries of hwgen."""

__all__ = ["ConfigError", "FormatError"]


class FormatError(ValueError):
    """Invalid number-format parameter, format name, input array or code.

    Messages name the offending field or value and state what is allowed.
    """


class ConfigError(ValueError):
    """A configuration field holds a value that is not allowed.

    Raised at the boundaries (config dataclasses, CLI) so the message can name the
    field, the rejected value and what is allowed.

    Parameters
    ----------
    field : str
        Name of the field (as in the config dataclass; with dashes, the CLI option).
    value : object
        The rejected value.
    allowed : str
        Human-readable description of what is allowed.
    """

    def __init__(self, field: str, value, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={_short_repr(value)} is not allowed; allowed: {allowed}")


def _short_repr(value, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters; an int too long for ``repr`` is described instead."""
    try:
        text = repr(value)
    except ValueError:  # Python refuses to print ints of more than 4,300 digits
        return f"<an integer of {value.bit_length()} bits>"
    return text if len(text) <= limit else f"{text[: limit - 30]}... ({len(text)} characters)"
