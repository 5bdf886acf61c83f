"""hwgen.host: map transformers onto accelerator targets, price every layer, run them on a backend.

Needs only :mod:`hwgen.emulation`; hardware-backed backends are plugged in from above
(``import hwgen.sim`` registers ``rtl``). One import away::

    from hwgen.host import run
    result = run("minilm", "systolic:16x16:ws", "w=int8,a=int8,acc=int32", backend="emulator")
"""

from hwgen.host.backends import (
    BACKENDS,
    Backend,
    DeviceBackend,
    EmulatorBackend,
    ProgramBackend,
    get_backend,
    register_backend,
)
from hwgen.host.quant_policy import Policy, parse_policy
from hwgen.host.run import run
from hwgen.host.run_result import EmbeddingCheck, GenerationCheck, LayerCheck, LayerTable, RunResult
from hwgen.host.targets import parse_target

__all__ = [
    "BACKENDS",
    "Backend",
    "DeviceBackend",
    "EmbeddingCheck",
    "EmulatorBackend",
    "GenerationCheck",
    "LayerCheck",
    "LayerTable",
    "Policy",
    "ProgramBackend",
    "RunResult",
    "get_backend",
    "parse_policy",
    "parse_target",
    "register_backend",
    "run",
]
