import json

import networkx as nx
import numpy as np
import pytest

from bngan import LatentStructure, StructureError
from bngan.structure import find_problems


def test_presets_match_the_paper_figures():
    dis = LatentStructure.preset("disentangled", 4)
    assert set(dis.edges) == {(f"c{i}", f"c{i}'") for i in range(1, 5)}
    ent = LatentStructure.preset("entangled", 4)
    assert set(ent.parents(3)) == {"c1", "c2", "c3"}
    ref = LatentStructure.preset("reference", 4)
    assert set(ref.parents(4)) == {"c1", "c2", "c3", "c4"}
    assert isinstance(ref.graph(), nx.DiGraph) and nx.is_directed_acyclic_graph(ref.graph())


def test_json_round_trip_keeps_edges_and_labels():
    s = LatentStructure(k=3, edges=[("c1", "c1'"), ("c2", "c2'"), ("c3", "c3'"), ("c1'", "c3'")],
                        labels={1: "thickness"})
    back = LatentStructure.from_json(s.to_json())
    assert back == s and back.label(1) == "thickness" and back.label(2) == "c2"
    assert json.loads(s.to_json())["format"] == "bngan-structure"


@pytest.mark.parametrize(("edges", "needle"), [
    ([("c1", "c1'"), ("c2", "c2'"), ("c1'", "c2'"), ("c2'", "c1'")], "cycle c"),
    ([("c1", "c1'"), ("c2", "c2'"), ("c2'", "c1")], "points into the observed code c1"),
    ([("c1", "c1'")], "c2' have no parent"),
    ([("c1", "c1'"), ("c2", "c2'"), ("c7", "c2'")], "unknown node 'c7'"),
])
def test_invalid_structures_name_the_offending_nodes(edges, needle):
    with pytest.raises(StructureError, match=needle) as info:
        LatentStructure(k=2, edges=edges)
    assert isinstance(info.value, ValueError)


def test_cycle_error_names_every_node_and_edge():
    edges = [("c1", "c1'"), ("c2", "c2'"), ("c3", "c3'"), ("c1'", "c2'"), ("c2'", "c3'"), ("c3'", "c1'")]
    with pytest.raises(StructureError) as info:
        LatentStructure(k=3, edges=edges)
    assert all(name in str(info.value) for name in ("c1'", "c2'", "c3'"))
    assert set(info.value.edges) == {("c1'", "c2'"), ("c2'", "c3'"), ("c3'", "c1'")}


@pytest.mark.parametrize("k", [0, 17, 2.5, "3"])
def test_k_out_of_range(k):
    with pytest.raises(StructureError, match="k must be"):
        LatentStructure(k=k, edges=[])


def test_find_problems_reports_all_at_once():
    problems = find_problems(2, [("c1", "c1'"), ("c2'", "c1"), ("c1'", "c1'")])
    text = " | ".join(map(str, problems))
    assert "observed code c1" in text and "self-loop" in text and "c2' have no parent" in text


def test_masks_follow_d_separation():
    ent = LatentStructure.preset("entangled", 4)
    parents, independent = ent.parent_mask(), ent.independence_mask()
    nodes = ent.nodes
    # c3' has parents c1, c2, c3; it shares causes with c1' and c2', and is independent of c4 and c4'
    assert [nodes[j] for j in np.flatnonzero(parents[2])] == ["c1", "c2", "c3"]
    assert [nodes[j] for j in np.flatnonzero(independent[2])] == ["c4", "c4'"]
    assert not (parents & independent).any()
    literal = ent.non_parent_mask()
    assert literal[2].sum() == 8 - 3 - 1
