"""The latent dependency structure: a DAG over observed codes ``c1..ck`` and latent codes ``c1'..ck'``.

Observed codes are the generator's salient inputs (independent ``N(0, 1)`` roots); latent codes are what the
discriminator's code head extracts from an image. An edge ``p -> ci'`` says that ``ci'`` may depend on ``p``.
The structure decides which pairs the regulariser pulls together (parents) and which it pushes apart
(nodes that the DAG makes marginally independent of ``ci'``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from bngan.errors import InvalidSettingError

MIN_CODES, MAX_CODES = 1, 16
MAX_EDGES = MAX_CODES * (2 * MAX_CODES - 1)  # every latent code taking every other node as a parent
MAX_JSON_CHARS = 1_000_000  # a structure of MAX_EDGES edges with labels is a few tens of KB
NODE = re.compile(r"c([1-9][0-9]*)(')?", re.ASCII)
PRESETS = ("disentangled", "entangled", "reference")
FORMAT = "bngan-structure"


class StructureError(InvalidSettingError):
    """An invalid latent structure; the message names the offending nodes and says how to fix it."""

    def __init__(self, message: str, edges: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.edges = list(edges)  # offending edges, so an editor can highlight them


def observed(i: int) -> str:
    """Name of the i-th observed code (1-based)."""
    return f"c{i}"


def latent(i: int) -> str:
    """Name of the i-th latent (extracted) code (1-based)."""
    return f"c{i}'"


def shown(name: object, limit: int = 40) -> str:
    """A node name as a message shows it: quoted, and cut when a hostile file made it long."""
    text = str(name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_node(name: str, k: int) -> tuple[str, int]:
    """Split a node name into its kind ('observed' or 'latent') and its 1-based index."""
    text = str(name).strip()
    match = NODE.fullmatch(text) if len(text) <= 8 else None  # exactly c<i> or c<i>': no c01, c1'', c١
    if match is None or not 1 <= int(match.group(1)) <= k:
        raise StructureError(
            f"unknown node {shown(repr(name))}: nodes are c1..c{k} (observed) and c1'..c{k}' (latent)",
        )
    return ("latent" if match.group(2) else "observed"), int(match.group(1))


@dataclass
class LatentStructure:
    """A validated DAG over ``k`` observed and ``k`` latent codes.

    Build one with :meth:`preset` or from an edge list of ``(parent, child)`` names; invalid input raises
    :class:`StructureError`.
    """

    k: int
    edges: list[tuple[str, str]]
    labels: dict[int, str] = field(default_factory=dict)  # code index (1-based) -> human label

    def __post_init__(self) -> None:
        check_k(self.k)
        self.k = int(self.k)
        self.edges = list(self.edges)
        check_edge_count(len(self.edges), self.k)
        self.edges = [(str(p).strip(), str(c).strip()) for p, c in self.edges]
        self.labels = {int(i): str(v) for i, v in (self.labels or {}).items() if str(v).strip()}
        for i in self.labels:
            if not 1 <= i <= self.k:
                raise StructureError(f"label for code {i} is out of range 1..{self.k}")
        self.validate()

    # construction -------------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, k: int = 4, labels: Mapping[int, str] | None = None) -> LatentStructure:
        """Named structures: 'disentangled' (Fig. 4a), 'entangled' (Fig. 4c), 'reference' (the released code)."""
        check_k(k)
        edges = [(observed(i), latent(i)) for i in range(1, k + 1)]
        if name == "disentangled":
            pass
        elif name == "entangled":
            if k < 3:
                raise StructureError("the 'entangled' preset needs k >= 3 (c3' takes c1 and c2 as parents)")
            edges += [(observed(1), latent(3)), (observed(2), latent(3))]
        elif name == "reference":
            edges += [(observed(i), latent(k)) for i in range(1, k)]
        else:
            raise StructureError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(k=k, edges=edges, labels=dict(labels or {}))

    @classmethod
    def from_json(cls, text: str | bytes | Mapping) -> LatentStructure:
        """Parse the JSON written by :meth:`to_json` (or the equivalent dict)."""
        if isinstance(text, str | bytes) and len(text) > MAX_JSON_CHARS:
            raise StructureError(f"the structure JSON is {len(text):,} characters; a structure is at most "
                                 f"{MAX_JSON_CHARS:,} ({MAX_EDGES} edges)")
        if not isinstance(text, str | bytes | Mapping):
            raise StructureError(f"a structure is JSON text or a dict, got {type(text).__name__}")
        try:
            data = json.loads(text) if isinstance(text, str | bytes) else dict(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StructureError(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise StructureError("not a structure: the JSON is nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise StructureError(f"not valid JSON: {str(exc)[:120]}") from None
        if not isinstance(data, dict) or "k" not in data or "edges" not in data:
            raise StructureError("a structure JSON needs the keys 'k' and 'edges' (a list of [parent, child])")
        check_k(data["k"])
        edges = data["edges"]
        if not isinstance(edges, list):
            raise StructureError("'edges' must be a list of [parent, child] pairs")
        check_edge_count(len(edges), data["k"])
        if not all(isinstance(e, list | tuple) and len(e) == 2 and all(isinstance(n, str) for n in e)
                   for e in edges):
            raise StructureError("'edges' must be a list of [parent, child] pairs of node names such as "
                                 "[\"c1\", \"c1'\"]")
        labels = data.get("labels") or {}
        if not isinstance(labels, dict):
            raise StructureError("'labels' must map code numbers to names")
        try:
            labels = {int(i): v for i, v in labels.items()}
        except (ValueError, TypeError):
            raise StructureError("'labels' keys must be code numbers 1..k") from None
        if not all(isinstance(v, str) and len(v) <= 200 for v in labels.values()):
            raise StructureError("'labels' values must be names (text of at most 200 characters)")
        return cls(k=data["k"], edges=[tuple(e) for e in edges], labels=labels)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "k": self.k,
            "edges": [list(e) for e in self.edges],
            "labels": {str(i): v for i, v in sorted(self.labels.items())},
        }

    # validation ---------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise the first problem found by :func:`find_problems`."""
        problems = find_problems(self.k, self.edges)
        if problems:
            raise problems[0]

    # views --------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """All 2k nodes, observed first, in the column order used by the regulariser."""
        return [observed(i) for i in range(1, self.k + 1)] + [latent(i) for i in range(1, self.k + 1)]

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from(self.edges)
        return g

    def parents(self, i: int) -> list[str]:
        """Parents of latent code i (1-based), in node order."""
        g = self.graph()
        pa = set(g.predecessors(latent(i)))
        return [n for n in self.nodes if n in pa]

    def parent_mask(self) -> np.ndarray:
        """``(k, 2k)`` boolean: row i marks the parents of latent code i+1 among :attr:`nodes`."""
        index = {n: j for j, n in enumerate(self.nodes)}
        mask = np.zeros((self.k, 2 * self.k), dtype=bool)
        for parent, child in self.edges:
            mask[int(child[1:-1]) - 1, index[parent]] = True
        return mask

    def independence_mask(self) -> np.ndarray:
        """``(k, 2k)`` boolean: row i marks nodes that the DAG makes marginally independent of latent i+1.

        Two nodes are marginally independent in a Bayesian network when neither is an ancestor of the other
        and they share no ancestor (observed codes are independent roots). These are the pairs the
        regulariser pushes apart; pairs that share a cause are left alone, so an entangled structure is not
        fought by its own penalty.
        """
        g = self.graph()
        closure = {n: nx.ancestors(g, n) | {n} for n in self.nodes}
        mask = np.zeros((self.k, 2 * self.k), dtype=bool)
        for i in range(self.k):
            me = closure[latent(i + 1)]
            for j, other in enumerate(self.nodes):
                if other != latent(i + 1) and not (me & closure[other]):
                    mask[i, j] = True
        return mask

    def non_parent_mask(self) -> np.ndarray:
        """``(k, 2k)`` boolean: every node that is neither latent i+1 itself nor one of its parents (Eq. 6 read
        literally)."""
        mask = ~self.parent_mask()
        mask[np.arange(self.k), self.k + np.arange(self.k)] = False
        return mask

    def label(self, i: int) -> str:
        """Human label of code i, or its name."""
        return self.labels.get(i, observed(i))

    def with_labels(self, labels: Mapping[int, str]) -> LatentStructure:
        return LatentStructure(k=self.k, edges=list(self.edges), labels={**self.labels, **labels})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatentStructure):
            return NotImplemented
        return self.k == other.k and set(self.edges) == set(other.edges) and self.labels == other.labels

    def __hash__(self) -> int:
        return hash((self.k, frozenset(self.edges)))


def check_k(k: object) -> None:
    """k is a whole number in range (not a bool, a float or a string of digits)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not MIN_CODES <= int(k) <= MAX_CODES:
        shown = repr(k) if len(repr(k)) <= 40 else f"a {len(repr(k))}-character value"
        raise StructureError(f"k must be an integer from {MIN_CODES} to {MAX_CODES}, got {shown}")


def check_edge_count(n: int, k: int) -> None:
    """Refuse edge lists longer than any valid structure of ``k`` codes before checking them one by one."""
    most = int(k) * (2 * int(k) - 1)
    if n > most:
        raise StructureError(f"{n:,} edges: a structure with k = {k} has at most {most} (each latent code "
                             "takes each other node at most once)")


def find_problems(k: int, edges: Iterable[tuple[str, str]]) -> list[StructureError]:
    """Every problem of a candidate structure (an editor shows them all at once); empty when it is valid.

    Checks unknown nodes, edges into observed codes, self-loops, duplicates, cycles and latent codes
    without parents, in that order.
    """
    problems: list[StructureError] = []
    graph = nx.DiGraph()
    graph.add_nodes_from([observed(i) for i in range(1, k + 1)] + [latent(i) for i in range(1, k + 1)])
    for parent, child in edges:
        edge = [(parent, child)]
        try:
            parse_node(parent, k)
            kind, _ = parse_node(child, k)
        except StructureError as exc:
            problems.append(StructureError(f"edge {shown(parent)} -> {shown(child)}: {exc}", edges=edge))
            continue
        if kind == "observed":
            problems.append(StructureError(
                f"edge {parent} -> {child} points into the observed code {child}; observed codes are inputs "
                f"and take no parents: reverse it or point it at a latent code such as {child}'", edges=edge))
        elif parent == child:
            problems.append(StructureError(f"self-loop on {child}: remove the edge", edges=edge))
        elif graph.has_edge(parent, child):
            problems.append(StructureError(f"duplicate edge {parent} -> {child}", edges=edge))
        else:
            graph.add_edge(parent, child)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        names = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        problems.append(StructureError(f"cycle {names}: remove one of these edges", edges=list(cycle)))
    orphans = [latent(i) for i in range(1, k + 1) if graph.in_degree(latent(i)) == 0]
    if orphans:
        problems.append(StructureError(
            f"latent code(s) {', '.join(orphans)} have no parent: add an edge such as "
            f"{orphans[0][:-1]} -> {orphans[0]}"))
    return problems
