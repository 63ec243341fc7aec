"""The in-repo graph: order, descendants, cycles named, chains."""

from __future__ import annotations

import pytest

from lifecycle.catalogue.graph import CycleError, Graph


def graph() -> Graph:
    # a -> b -> c ; a -> d ; e alone ; f has two parents (c, e)
    return Graph(["f", "c", "e", "b", "d", "a"], {"b": ["a"], "c": ["b"], "d": ["a"], "f": ["c", "e", "c"]})


def test_order_puts_parents_first_and_keeps_catalogue_order_otherwise():
    order = graph().order()
    assert sorted(order) == ["a", "b", "c", "d", "e", "f"]
    for child, parent in [("b", "a"), ("c", "b"), ("d", "a"), ("f", "c"), ("f", "e")]:
        assert order.index(parent) < order.index(child)
    assert graph().order(["d", "c"]) == ["c", "d"]


def test_descendants_ancestors_and_duplicate_edges():
    g = graph()
    assert g.descendants(["a"]) == {"b", "c", "d", "f"}
    assert g.descendants(["e", "d"]) == {"f"}
    assert g.ancestors("f") == {"a", "b", "c", "e"}
    assert g.parents["f"] == ["c", "e"] and g.children["a"] == ["b", "d"]


def test_components_are_chains_in_build_order():
    g = graph()
    chains = sorted(g.components(["a", "b", "d", "e"]))
    assert chains == [["a", "b", "d"], ["e"]]
    assert sorted(map(sorted, g.components(["b", "d", "f", "c"]))) == [["b", "c", "f"], ["d"]]


def test_cycle_is_found_and_named():
    g = Graph(["x", "y", "z", "w"], {"x": ["z"], "y": ["x"], "z": ["y"], "w": ["x"]})
    cycle = g.find_cycle()
    assert cycle[0] == cycle[-1] and set(cycle) == {"x", "y", "z"} and len(cycle) == 4
    with pytest.raises(CycleError, match="dependency cycle: "):
        g.order()
    assert Graph(["s"], {"s": ["s"]}).find_cycle() == ["s", "s"]
    assert graph().find_cycle() is None


def test_deep_chain_has_no_recursion_limit():
    nodes = [f"n{i}" for i in range(5000)]
    g = Graph(list(reversed(nodes)), {nodes[i]: [nodes[i - 1]] for i in range(1, len(nodes))})
    assert g.order() == nodes
    assert len(g.descendants(["n0"])) == 4999
