"""FPGA families and devices the synthesis flow targets, with their nextpnr options."""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.emulation.errors import ConfigError

__all__ = ["DEFAULT_DEVICES", "FAMILIES", "Target", "resolve_target"]

#: Supported families and their Yosys ``synth_*`` / ``yowasp-nextpnr-*`` names.
FAMILIES = ("ice40", "ecp5")

#: Default device and package per family: the iCEBreaker (iCE40UP5K-SG48) and the
#: ULX3S (LFE5U-85F-CABGA381) boards.
DEFAULT_DEVICES = {"ice40": ("up5k", "sg48"), "ecp5": ("85k", "CABGA381")}

# Device name (as the nextpnr ``--<device>`` flag spells it) -> default package.
_ICE40_PACKAGES = {
    "lp384": "qn32",
    "lp1k": "cm81",
    "lp4k": "cm81",
    "lp8k": "cm81",
    "hx1k": "vq100",
    "hx4k": "tq144",
    "hx8k": "ct256",
    "up3k": "sg48",
    "up5k": "sg48",
    "u4k": "sg48",
}
_ECP5_DEVICES = ("12k", "25k", "45k", "85k", "um-25k", "um-45k", "um-85k", "um5g-25k", "um5g-45k", "um5g-85k")


@dataclass(frozen=True)
class Target:
    """One resolved FPGA target.

    Attributes
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"``.
    device : str
        Device as nextpnr's flag names it (``"up5k"``, ``"85k"``).
    package : str
        Package name passed to ``--package``.
    """

    family: str
    device: str
    package: str

    @property
    def nextpnr_args(self) -> list[str]:
        """Device and package arguments of ``yowasp-nextpnr-<family>``."""
        return [f"--{self.device}", "--package", self.package]

    @property
    def label(self) -> str:
        """Human-readable name for messages, e.g. ``"ice40 up5k-sg48"``."""
        return f"{self.family} {self.device}-{self.package}"


def resolve_target(family: str, device: str | None = None, package: str | None = None) -> Target:
    """Validate ``family``/``device`` and fill in defaults.

    Parameters
    ----------
    family : str
        One of `FAMILIES`.
    device : str, optional
        Device name as nextpnr's flag spells it; the family default if omitted.
    package : str, optional
        Package; the device's usual package if omitted (not validated here: nextpnr
        rejects unknown packages with its own message).

    Raises
    ------
    ConfigError
        If the family or device is unknown; the message lists what is allowed.
    """
    if family not in FAMILIES:
        raise ConfigError("family", family, ", ".join(FAMILIES))
    if device is None:
        device, default_package = DEFAULT_DEVICES[family]
    elif family == "ice40":
        if device not in _ICE40_PACKAGES:
            raise ConfigError("device", device, "for ice40: " + ", ".join(_ICE40_PACKAGES))
        default_package = _ICE40_PACKAGES[device]
    else:
        if device not in _ECP5_DEVICES:
            raise ConfigError("device", device, "for ecp5: " + ", ".join(_ECP5_DEVICES))
        default_package = "CABGA381"
    return Target(family, device, package or default_package)
