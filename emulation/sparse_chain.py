"""Golden model of the FlightLLM-style sparse DSP chain: N:M selection, packed products, INT32 results.

The chain has ``length`` multiplier slices in groups of ``group_size``. Every cycle it
takes one weight beat (a value and an index per slice, a mode, a ``last`` flag) and one
activation beat (``window`` int8 activations per token, ``window = length`` unless
configured wider; two tokens when ``packed``).

Mode ``(n, m, s)`` splits the chain into ``s`` segments of ``length // s`` slices; a
plain ``(n, m)`` means ``s = m // n``. Every segment sees the same activations, cut
into blocks of ``m``; slice ``p`` of a segment holds the ``p % n``-th kept weight of
block ``p // n`` and its multiplexer picks ``act[(p // n) * m + index]``. Each segment
therefore computes one row's dot product over ``(length // s) * m // n`` dense
positions (its *span*, at most ``window``), and a beat yields ``s`` row results:

* ``s = m // n`` (the default layout): the span is ``length``, so the activation bus
  stays ``length`` wide, and a beat yields ``m // n`` results (2:4 -> 2, 1:8 -> 8);
* ``s = n`` with ``window = length * m // n**2``: a beat yields ``n`` results, the
  "N results per cycle" of FlightLLM, at the price of a wider activation bus.

Either way a beat does ``length * m // n`` dense-equivalent MACs, so N:M takes ``n / m``
of the dense cycles. Dense is the mode ``(1, 1)``: one segment, slice ``i`` multiplies
``act[i]`` (the first ``length`` positions of the window).
Results of consecutive beats are summed until a beat with ``last``; all sums wrap to
int32, so the order of additions does not matter.

Packed products (``packed=True``) share one multiplier between two tokens with the
same weight::

    P = (a1 * 2**k + a0) * w = a1*w * 2**k + a0*w          (k = pack_shift)

A group adds its ``g`` packed products and a guard bias ``beta`` into one wide sum
``S = beta + sum P``, kept modulo ``2**(k + 32)``. The reduction node splits it::

    f  = sign_extend(S mod 2**k, k)        # = sum a0*w + beta, if it fits k bits
    lo = f - beta                          # token 0
    hi = (S >> k) + bit(S, k - 1)          # token 1; "+ bit" is the borrow correction

The borrow correction restores the ``1`` that a negative low field borrows from the
high field. The split is exact while ``sum a0*w + beta`` fits in ``k`` signed bits;
``beta`` centres the asymmetric product range (e.g. int8 x int8: -16256..16384) in the
field, which is the overflow adjustment that lets ``k = 18`` hold 8 worst-case int8
products instead of 7 (:func:`guard_limit`). Beyond that the packed sum cannot be
trusted, so packed sums never cross a group boundary: the node splits every group and
the cascade between groups carries the two tokens' int32 sums separately.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError
from .formats import int4, int8, int32
from .int_format import IntFormat

__all__ = [
    "DENSE",
    "MAX_LENGTH",
    "MAX_WINDOW",
    "SUPPORTED_M",
    "SparseChainConfig",
    "WeightBeat",
    "chain_beat",
    "dense_dot",
    "format_modes",
    "group_partials",
    "guard_bias",
    "guard_limit",
    "nm_dot",
    "packed_group_sum",
    "parse_modes",
    "product_range",
    "run_chain",
    "select_activations",
    "split_packed",
]

#: Run-time mode of the dense dot product.
DENSE = (1, 1)
#: Block sizes M of the N:M modes the chain supports.
SUPPORTED_M = (4, 8, 16)
#: Longest chain: wider stream payloads stop being practical.
MAX_LENGTH = 64
#: Widest activation window: the span of the sparsest mode (1:16) on the longest chain.
MAX_WINDOW = 16 * MAX_LENGTH
_WEIGHT_BITS = {8: int8, 4: int4}


def parse_modes(text: str) -> tuple[tuple[int, ...], ...]:
    """Modes from their command-line form ``"2:4:2,1:4,1:8:1"`` (``""``: none).

    Raises
    ------
    ConfigError
        If an entry is not ``N:M`` or ``N:M:S`` with integer fields.
    """
    modes = []
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        fields = item.split(":")
        if len(fields) not in (2, 3) or not all(f.strip().isdigit() for f in fields):
            raise ConfigError("sparse_modes", item, "N:M or N:M:S entries (integers), comma-separated, e.g. 2:4,1:8:1")
        modes.append(tuple(int(f) for f in fields))
    return tuple(modes)


def format_modes(modes) -> str:
    """Command-line form of modes, ``"2:4,1:8:1"`` (inverse of :func:`parse_modes`)."""
    return ",".join(":".join(str(v) for v in mode) for mode in modes)


@dataclass(frozen=True)
class SparseChainConfig:
    """Configuration of a sparse DSP chain, validated at construction.

    Parameters
    ----------
    length : int
        Multiplier slices L (1..64).
    group_size : int
        Slices per group G; divides ``length``. A reduction node ends every group.
    sparse_modes : tuple of (n, m) or (n, m, s)
        N:M modes selectable at run time besides dense; ``m`` in 4, 8, 16, ``n``
        divides ``m`` and ``n < m``. ``s`` is the mode's results per beat (segments;
        ``m // n`` if omitted): it divides ``length``, the segment ``length // s`` is
        a multiple of ``n`` and of ``group_size``, and the segment's span
        ``(length // s) * m // n`` is at most ``window``. A mode given with
        ``s = m // n`` is stored as ``(n, m)``.
    weight_bits : int
        8 (int8 weights) or 4 (int4 weights). Activations are int8, results int32.
    packed : bool
        Two tokens per multiplier, ``(a1 * 2**pack_shift + a0) * w``.
    pack_shift : int
        Field offset k of the packed operand (8..32); 18 is the DSP48E2 choice
        (the 26-bit operand fits its 27-bit A port).
    window : int
        Activations per beat per token, ``length..1024``; 0 (the default) means
        ``length``. ``length * m // n**2`` lets a mode ``(n, m, n)`` yield n results
        per beat.

    Raises
    ------
    ConfigError
        If a field is not allowed; the message names field, value and what is allowed.
    """

    length: int = field(default=16, metadata={"help": "multiplier slices L (1..64)"})
    group_size: int = field(default=2, metadata={"help": "slices per reduction group; divides length"})
    sparse_modes: tuple[tuple[int, ...], ...] = field(
        default=((2, 4), (1, 4), (1, 8)),
        metadata={
            "help": "run-time N:M modes besides dense, as N:M or N:M:S (S results per beat, default M/N), "
            "comma-separated, e.g. 2:4:2,1:4:1,1:8:1; '' for dense only",
            "cli_parse": parse_modes,
            "cli_format": format_modes,
        },
    )
    weight_bits: int = field(default=8, metadata={"help": "8 (int8) or 4 (int4) weights"})
    packed: bool = field(default=False, metadata={"help": "two tokens per multiplier"})
    pack_shift: int = field(default=18, metadata={"help": "bit offset of the packed token (8..32)"})
    window: int = field(
        default=0,
        metadata={
            "help": "activations per beat per token: 0 means length, else length..1024; "
            "L*M/N**2 lets a mode N:M:N yield N results per beat"
        },
    )

    def __post_init__(self):
        _check_int("length", self.length, 1, MAX_LENGTH)
        _check_int("group_size", self.group_size, 1, self.length)
        if self.length % self.group_size:
            raise ConfigError("group_size", self.group_size, f"a divisor of length={self.length}")
        # The type first: 4.0 == 4 and True == 1 would pass a plain membership test, and [4] is unhashable.
        integer = isinstance(self.weight_bits, int | np.integer) and not isinstance(self.weight_bits, bool)
        if not integer or self.weight_bits not in _WEIGHT_BITS:
            raise ConfigError("weight_bits", self.weight_bits, "8 or 4")
        if not isinstance(self.packed, bool):
            raise ConfigError("packed", self.packed, "True or False")
        _check_int("pack_shift", self.pack_shift, 8, 32)
        if self.window != 0 or isinstance(self.window, bool):
            _check_int("window", self.window, self.length, MAX_WINDOW, "0 (= length) or ")
        object.__setattr__(self, "window", self.window or self.length)
        object.__setattr__(self, "sparse_modes", self._checked_modes())
        if self.packed and self.group_size > guard_limit(self):
            raise ConfigError(
                "group_size",
                self.group_size,
                f"at most {guard_limit(self)} when packed with pack_shift={self.pack_shift} "
                f"and {self.weight_format.name} weights (the packed field's guard band)",
            )

    def _checked_modes(self) -> tuple[tuple[int, ...], ...]:
        try:
            modes = tuple(tuple(operator.index(v) for v in mode) for mode in self.sparse_modes)
        except TypeError:
            modes = None
        if modes is None or isinstance(self.sparse_modes, str) or any(len(mode) not in (2, 3) for mode in modes):
            raise ConfigError("sparse_modes", self.sparse_modes, "a sequence of (n, m) or (n, m, s) integer tuples")
        modes = tuple(self._checked_mode(mode) for mode in modes)
        if len(set(modes)) != len(modes):
            raise ConfigError("sparse_modes", self.sparse_modes, "distinct modes")
        return modes

    def _checked_mode(self, mode: tuple[int, ...]) -> tuple[int, ...]:
        """Validate one mode; return it as ``(n, m)`` when ``s`` is the default ``m // n``."""
        n, m = mode[:2]
        if m not in SUPPORTED_M:
            raise ConfigError("sparse_modes", mode, f"m in {SUPPORTED_M}")
        if not 1 <= n < m or m % n:
            raise ConfigError("sparse_modes", mode, f"n dividing m={m} with 1 <= n < m")
        s = mode[2] if len(mode) == 3 else m // n
        what = f"s (results per beat; here {s}{'' if len(mode) == 3 else ' = m/n, or give (n, m, s)'})"
        if not 1 <= s <= self.length or self.length % s:
            raise ConfigError("sparse_modes", mode, f"{what} dividing length={self.length}")
        seg = self.length // s
        if seg % n or seg % self.group_size:
            raise ConfigError(
                "sparse_modes",
                mode,
                f"{what} whose segment length/s={seg} is a multiple of n={n} and of group_size={self.group_size}",
            )
        span = seg * m // n  # a multiple of m, as seg is a multiple of n
        if span > self.window:
            raise ConfigError(
                "sparse_modes",
                mode,
                f"{what} whose span (length/s)*m/n={span} is at most window={self.window} "
                f"(widen window to {span} or raise s)",
            )
        return (n, m) if s == m // n else (n, m, s)

    @property
    def modes(self) -> tuple[tuple[int, ...], ...]:
        """Run-time modes by code: 0 is dense, then ``sparse_modes`` in order."""
        return (DENSE, *self.sparse_modes)

    @property
    def n_groups(self) -> int:
        return self.length // self.group_size

    @property
    def tokens(self) -> int:
        """Activation vectors (and result sets) per beat: 2 when packed, else 1."""
        return 2 if self.packed else 1

    @property
    def lanes(self) -> int:
        """Result lanes per token on ``o_out``: the most results per beat of any mode."""
        return max(self.segments(code) for code in range(len(self.modes)))

    @property
    def candidates(self) -> int:
        """Inputs of each slice's sparse multiplexer: the largest m (1 for dense only)."""
        return max(mode[1] for mode in self.modes)

    @property
    def index_bits(self) -> int:
        return max(1, (self.candidates - 1).bit_length())

    @property
    def mode_bits(self) -> int:
        return max(1, (len(self.modes) - 1).bit_length())

    @property
    def weight_format(self) -> IntFormat:
        return _WEIGHT_BITS[self.weight_bits]

    @property
    def act_format(self) -> IntFormat:
        return int8

    @property
    def acc_format(self) -> IntFormat:
        return int32

    @property
    def top_name(self) -> str:
        """Verilog module name of the generated top, unique per configuration."""
        modes = "_".join(
            "of".join(map(str, mode[:2])) + "".join(f"x{v}" for v in mode[2:]) for mode in self.sparse_modes
        )
        packed = f"_p{self.pack_shift}" if self.packed else ""
        window = f"_a{self.window}" if self.window != self.length else ""
        return f"sparse_chain_{self.length}g{self.group_size}_w{self.weight_bits}{packed}{window}_{modes or 'dense'}"

    def mode_code(self, n: int, m: int, s: int | None = None) -> int:
        """Code of run-time mode ``(n, m)`` with ``s`` results per beat (``(1, 1)`` is dense).

        ``s=None`` matches the chain's only mode with that ``n`` and ``m``.

        Raises
        ------
        ConfigError
            If the chain was not built with that mode, or ``s`` is needed to tell two apart.
        """
        codes = [c for c, mode in enumerate(self.modes) if mode[:2] == (n, m) and (s is None or self.segments(c) == s)]
        if len(codes) != 1:
            want = (n, m) if s is None else (n, m, s)
            extra = " (give s: more than one mode has this n:m)" if codes else ""
            raise ConfigError("mode", want, f"one of {self.modes}{extra}")
        return codes[0]

    def segments(self, code: int) -> int:
        """Segments (results per beat per token) in mode ``code``: ``s``, by default ``m // n``."""
        mode = self._mode(code)
        return mode[2] if len(mode) == 3 else mode[1] // mode[0]

    def segment(self, code: int) -> int:
        """Slices per segment in mode ``code``: ``length // s``."""
        return self.length // self.segments(code)

    def span(self, code: int) -> int:
        """Activation positions one segment covers in mode ``code``: ``segment * m // n``."""
        n, m = self.nm(code)
        return self.segment(code) * m // n

    def segment_ends(self, code: int) -> list[int]:
        """Groups whose reduction node emits a segment result in mode ``code``, lane order."""
        per = self.segment(code) // self.group_size
        return [(k + 1) * per - 1 for k in range(self.segments(code))]

    def nm(self, code: int) -> tuple[int, int]:
        """``(n, m)`` of mode ``code``; raises ConfigError for an unknown code."""
        return self._mode(code)[:2]

    def _mode(self, code: int) -> tuple[int, ...]:
        if isinstance(code, bool) or not isinstance(code, (int, np.integer)) or not 0 <= code < len(self.modes):
            raise ConfigError("mode", code, f"a mode code 0..{len(self.modes) - 1}")
        return self.modes[int(code)]

    def to_dict(self) -> dict:
        """Fields as a JSON-serialisable dict (modes as lists)."""
        data = dataclasses.asdict(self)
        data["sparse_modes"] = [list(mode) for mode in self.sparse_modes]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SparseChainConfig:
        """Build a config from a dict, rejecting unknown keys by name."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", data, "a mapping of field names to values")
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in fields:
                raise ConfigError(key, data[key], "one of the fields " + ", ".join(sorted(fields)))
        return cls(**data)


@dataclass(frozen=True)
class WeightBeat:
    """One ``i_weight`` beat: per-slice weight values and multiplexer indices, mode code, ``last``."""

    mode: int
    value: np.ndarray
    index: np.ndarray
    last: bool


def _check_int(field: str, value, lo: int, hi: int, also: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(field, value, f"{also}an integer from {lo} to {hi}")


def product_range(cfg: SparseChainConfig) -> tuple[int, int]:
    """Smallest and largest exact product of one int8 activation and one weight."""
    a, w = cfg.act_format, cfg.weight_format
    corners = [x * y for x in (a.min_value, a.max_value) for y in (w.min_value, w.max_value)]
    return min(corners), max(corners)


def guard_limit(cfg: SparseChainConfig) -> int:
    """Most packed products a group can sum before the low field may spill into the high one.

    The low field holds ``k = pack_shift`` signed bits; with the bias of
    :func:`guard_bias`, ``c`` products fit while ``c * (pmax - pmin) + 1 <= 2**k``.
    """
    lo, hi = product_range(cfg)
    return ((1 << cfg.pack_shift) - 1) // (hi - lo)


def guard_bias(cfg: SparseChainConfig, count: int | None = None) -> int:
    """Constant added to a group's packed sum to centre its low field: ``-floor((c*pmin + c*pmax + 1) / 2)``."""
    c = cfg.group_size if count is None else count
    lo, hi = product_range(cfg)
    return -((c * lo + c * hi + 1) // 2)


def select_activations(cfg: SparseChainConfig, mode: int, index, acts) -> np.ndarray:
    """What every slice's multiplexer picks: ``(tokens, length)`` activations.

    Parameters
    ----------
    mode : int
        Mode code (:meth:`SparseChainConfig.mode_code`).
    index : array_like of int, shape (length,)
        Multiplexer index per slice, ``< m`` of the mode (0 in dense mode).
    acts : array_like of int, shape (tokens, window)

    Raises
    ------
    ValueError
        If shapes are wrong or an index is out of range for the mode.
    """
    n, m = cfg.nm(mode)
    index = _vector(index, "index", cfg.length)
    acts = np.asarray(acts, dtype=np.int64)
    if acts.shape != (cfg.tokens, cfg.window):
        raise ValueError(f"acts shape {acts.shape} is not allowed; allowed: {(cfg.tokens, cfg.window)}")
    if index.min() < 0 or index.max() >= m:
        raise ValueError(f"index {index.tolist()} out of range for mode {cfg.modes[mode]}; allowed: 0..{m - 1}")
    p = np.arange(cfg.length) % cfg.segment(mode)
    return acts[:, (p // n) * m + index]


def packed_group_sum(cfg: SparseChainConfig, a1, a0, w) -> np.ndarray:
    """Wide packed sum of each group: ``beta + sum (a1*2**k + a0)*w`` modulo ``2**(k+32)``.

    ``a1``, ``a0``, ``w`` have shape ``(..., group_size)``; the result drops that axis
    and holds non-negative codes of the ``k + 32``-bit register.
    """
    k = cfg.pack_shift
    op = (np.asarray(a1, np.int64) << k) + np.asarray(a0, np.int64)
    total = (op * np.asarray(w, np.int64)).sum(axis=-1) + guard_bias(cfg)
    return total & np.int64((1 << (k + 32)) - 1)


def split_packed(cfg: SparseChainConfig, wide) -> tuple[np.ndarray, np.ndarray]:
    """The reduction node's split of a packed group sum into int32 ``(lo, hi)`` (token 0, token 1)."""
    k = cfg.pack_shift
    wide = np.asarray(wide, np.int64)
    field = wide & np.int64((1 << k) - 1)
    field = np.where(field >> (k - 1), field - (1 << k), field)
    borrow = (wide >> (k - 1)) & 1
    return int32.fit(field - guard_bias(cfg)), int32.fit((wide >> k) + borrow)


def group_partials(cfg: SparseChainConfig, value, selected) -> np.ndarray:
    """Each reduction node's group result: ``(tokens, n_groups)`` int32 values.

    Unpacked: the exact sum of the group's products. Packed: the split of the
    group's packed sum (:func:`packed_group_sum`, :func:`split_packed`).
    """
    w = _vector(value, "value", cfg.length).reshape(cfg.n_groups, cfg.group_size)
    a = np.asarray(selected, np.int64).reshape(cfg.tokens, cfg.n_groups, cfg.group_size)
    if not cfg.packed:
        return int32.fit((a * w).sum(axis=-1))
    lo, hi = split_packed(cfg, packed_group_sum(cfg, a[1], a[0], w))
    return np.stack([lo, hi])


def chain_beat(cfg: SparseChainConfig, beat: WeightBeat, acts) -> np.ndarray:
    """Result lanes of one beat, ``(tokens, lanes)`` int32; lanes past the mode's segments are 0.

    The cascade adds group results from the first group of a segment to its last;
    the node at a segment's start breaks the cascade (feeds zero).
    """
    selected = select_activations(cfg, beat.mode, beat.index, acts)
    parts = group_partials(cfg, beat.value, selected)
    per = cfg.segment(beat.mode) // cfg.group_size
    segs = parts.reshape(cfg.tokens, -1, per).sum(axis=-1)
    out = np.zeros((cfg.tokens, cfg.lanes), np.int64)
    out[:, : segs.shape[1]] = segs
    return int32.fit(out)


def run_chain(cfg: SparseChainConfig, weight_beats, act_beats) -> list[np.ndarray]:
    """Every ``o_out`` beat of a stream: beat results summed (int32 wrap) up to each ``last``.

    Raises
    ------
    ValueError
        If the streams differ in length, or the mode changes before ``last``.
    """
    if len(weight_beats) != len(act_beats):
        raise ValueError(f"{len(weight_beats)} weight beats but {len(act_beats)} activation beats")
    outs, acc, mode = [], np.zeros((cfg.tokens, cfg.lanes), np.int64), None
    for beat, acts in zip(weight_beats, act_beats, strict=True):
        if mode is not None and beat.mode != mode:
            raise ValueError(f"mode changed from {mode} to {beat.mode} before a beat with last")
        acc = int32.fit(acc + chain_beat(cfg, beat, acts))
        mode = None if beat.last else beat.mode
        if beat.last:
            outs.append(acc)
            acc = np.zeros_like(acc)
    return outs


def dense_dot(w, a, acc: IntFormat = int32) -> int:
    """Reference dot product ``sum w*a`` reduced into ``acc`` (exact products)."""
    w, a = np.asarray(w, np.int64), np.asarray(a, np.int64)
    return int(acc.fit(int((w * a).sum())))


def nm_dot(values, indices, acts, n: int, m: int, acc: IntFormat = int32) -> int:
    """Reference N:M dot product from the compressed form.

    ``values[j]``/``indices[j]`` is the ``j % n``-th kept weight of block ``j // n``
    and its position in the block; it multiplies ``acts[(j // n) * m + indices[j]]``.
    """
    values, indices = np.asarray(values, np.int64), np.asarray(indices, np.int64)
    pos = (np.arange(values.size) // n) * m + indices
    return dense_dot(values, np.asarray(acts, np.int64)[pos], acc)


def _vector(x, name: str, size: int) -> np.ndarray:
    arr = np.asarray(x, np.int64)
    if arr.shape != (size,):
        raise ValueError(f"{name} shape {arr.shape} is not allowed; allowed: ({size},)")
    return arr
