"""A small layer IR for transformers: named nodes (linear, batched matmul, softmax, ...) and their workloads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hwgen.emulation.errors import ConfigError
from hwgen.host.workload import Elementwise, Gemm

__all__ = ["ELEMENTWISE_OPS", "GEMM_OPS", "OPS", "Graph", "Node"]

#: Ops that are matrix products (quantised and run on the accelerator).
GEMM_OPS = ("linear", "matmul")
#: Ops that run in float32 on the host, with their arithmetic operations per element
#: (rough counts for the performance model: exp/erf/sqrt count as one op each).
ELEMENTWISE_OPS = {
    "embedding": 1,
    "add": 1,
    "layernorm": 8,
    "softmax": 5,
    "gelu": 8,
    "mean_pool": 1,
    "l2_normalize": 3,
}
#: Ops that only move data (no arithmetic, no workload).
_LAYOUT_OPS = ("split_heads", "merge_heads", "concat")
OPS = (*GEMM_OPS, *ELEMENTWISE_OPS, *_LAYOUT_OPS)


def _names(field: str, names) -> tuple[str, ...]:
    """``names`` as a tuple if it is a list or tuple of str (a bare str would split into letters)."""
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(field, names, "a tuple of str")
    return tuple(names)


@dataclass(frozen=True, eq=False)  # attrs hold arrays: nodes compare (and hash) by identity
class Node:
    """One operation of a :class:`Graph`.

    Parameters
    ----------
    name : str
        Unique layer path, e.g. ``"layer0.attn.q"``.
    op : str
        One of :data:`OPS`. Semantics (all float32 except the GEMMs' quantised core):

        - ``linear``: ``x @ weight + bias`` over the last axis; attrs ``weight`` (K, N), ``bias`` (N,) or None.
        - ``matmul``: batched ``a @ b`` (``b`` transposed over its last two axes when
          attr ``transpose_b``), then multiplied by attr ``scale`` (default 1).
        - ``embedding``: rows of attr ``table`` indexed by the input ids (attr ``index="ids"``),
          by position ``0..S-1`` (``"position"``) or by zeros (``"zeros"``, token type 0).
        - ``add``: elementwise sum of its inputs.
        - ``layernorm``: over the last axis; attrs ``gamma``, ``beta``, ``eps``.
        - ``softmax``: over the last axis of scores (B, H, S, S); optional second input, the
          attention mask (B, S) of 1 (attend) / 0 (padding), masks keys.
        - ``gelu``: the exact erf GELU ``x * (1 + erf(x / sqrt(2))) / 2``.
        - ``split_heads`` / ``merge_heads``: (B, S, H*D) <-> (B, H, S, D); attr ``heads``.
        - ``concat``: join the inputs along attr ``axis`` (default -2; KV cache + new keys).
        - ``mean_pool``: mean over tokens where the mask (second input) is 1.
        - ``l2_normalize``: divide by the L2 norm of the last axis.
    inputs : tuple of str
        Names of graph inputs or earlier nodes.
    attrs : Mapping
        Op parameters (weights as NumPy arrays, shapes for the workload).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("name", self.name, "a non-empty str")
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ConfigError("op", self.op, ", ".join(OPS))
        object.__setattr__(self, "inputs", _names(f"{self.name}.inputs", self.inputs))
        if not isinstance(self.attrs, Mapping):
            raise ConfigError(f"{self.name}.attrs", self.attrs, "a mapping of op parameters")
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))


@dataclass
class Graph:
    """A topologically ordered list of nodes with named inputs and outputs.

    Parameters
    ----------
    name : str
        E.g. ``"minilm"``.
    inputs : tuple of str
        Names the caller binds (e.g. ``"input_ids"``, ``"attention_mask"``).
    nodes : list of Node
        In execution order; a node's inputs must be graph inputs or earlier nodes.
    outputs : tuple of str
        Node names whose values :func:`hwgen.host.ir_exec.run_graph` returns.
    meta : dict
        Shapes the graph was built for (``batch``, ``tokens``, ...).

    Raises
    ------
    ConfigError
        On a duplicate node name or an input that is not defined earlier.
    """

    name: str
    inputs: tuple[str, ...]
    nodes: list[Node]
    outputs: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.inputs, self.outputs = _names("inputs", self.inputs), _names("outputs", self.outputs)
        if not isinstance(self.nodes, list | tuple) or not all(isinstance(n, Node) for n in self.nodes):
            raise ConfigError("nodes", self.nodes, "a list of Node")
        known = set(self.inputs)
        for node in self.nodes:
            if node.name in known:
                raise ConfigError("node", node.name, "a name not used before in the graph")
            for src in node.inputs:
                if src not in known:
                    raise ConfigError(f"{node.name}.input", src, "a graph input or an earlier node")
            known.add(node.name)
        for out in self.outputs:
            if out not in known:
                raise ConfigError("output", out, "a node of the graph")

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        """The node called ``name`` (ConfigError listing the names if absent)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise ConfigError("node", name, ", ".join(n.name for n in self.nodes))

    def gemm_nodes(self) -> list[Node]:
        """The linear and matmul nodes, in order."""
        return [n for n in self.nodes if n.op in GEMM_OPS]

    def workloads(self) -> list[Gemm | Elementwise]:
        """Every GEMM (with its shape) and every elementwise op, in execution order.

        Returns
        -------
        list of Gemm or Elementwise
            ``Gemm`` for linear/matmul nodes (attrs ``m``, ``k``, ``n``, ``batch``,
            ``weight_static``); ``Elementwise`` for the float32 host ops (attr ``elements``).
            Layout-only ops (head split/merge) carry no work and are left out.
        """
        out: list[Gemm | Elementwise] = []
        for n in self.nodes:
            a = n.attrs
            if n.op in GEMM_OPS:
                out.append(Gemm(n.name, a["m"], a["k"], a["n"], a.get("batch", 1), n.op == "linear"))
            elif n.op in ELEMENTWISE_OPS:
                out.append(Elementwise(n.name, n.op, a["elements"], ELEMENTWISE_OPS[n.op]))
        return out

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all GEMMs."""
        return sum(w.macs for w in self.workloads() if isinstance(w, Gemm))
