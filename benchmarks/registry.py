"""Registry of benchmark entries: each pairs an hwgen callable with a baseline."""

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BENCHMARKS", "Benchmark", "Case", "register"]


@dataclass(frozen=True)
class Case:
    """Prepared inputs for one run: two zero-argument callables.

    ``compare`` says whether their results must agree bit for bit (False when the
    baseline computes something else, e.g. a plain cast against an MX quantiser);
    ``elements`` is the work count behind the rate column (default: the size).
    """

    hwgen: Callable[[], object]
    baseline: Callable[[], object]
    compare: bool = True
    elements: int | None = None


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark.

    Parameters
    ----------
    name : str
        Shown in the table and matched by ``--only``.
    baseline : str
        What hwgen is compared against, e.g. ``"ml_dtypes 0.6"``.
    setup : callable
        ``setup(size) -> Case``; builds seeded inputs outside the timed region.
    """

    name: str
    baseline: str
    setup: Callable[[int], Case]


BENCHMARKS: dict[str, Benchmark] = {}


def register(name: str, baseline: str):
    """Decorator registering ``setup(size) -> Case`` as benchmark ``name``."""

    def wrap(setup: Callable[[int], Case]) -> Callable[[int], Case]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = Benchmark(name, baseline, setup)
        return setup

    return wrap
