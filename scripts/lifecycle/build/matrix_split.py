"""`matrix --mode split`: one level, for builds that push nothing (pull requests).

Without a push, a parent built on one agent never reaches another, so every leg must build the planned
ancestors of its images itself. Chain-per-leg puts a whole family on one agent; split cuts a large family
into groups of leaves (siblings kept together), each group with the ancestors it needs, so the shared
ancestors are built once per leg and the wide fan-out runs in parallel. It costs duplicate builds of the
ancestors (agent time) to shorten the longest leg (wall time); a family that fits the target stays whole,
so a small plan is exactly chain-per-leg.
"""

from __future__ import annotations

from lifecycle.catalogue.workspace import Workspace


def ancestor_closures(ws: Workspace, tagbases: list[str]) -> dict[str, frozenset[str]]:
    """Each planned image with its planned ancestors."""
    wanted = set(tagbases)
    closure: dict[str, frozenset[str]] = {}
    for tagbase in ws.order(wanted):
        found = {tagbase}
        for parent in ws.parents_of(tagbase):
            if parent in wanted:
                found |= closure[parent]
        closure[tagbase] = frozenset(found)
    return closure


def groups(ws: Workspace, component: list[str], closure: dict[str, frozenset[str]], target: int,
           position: dict[str, int]) -> list[frozenset[str]]:
    """Cut one family into ancestor-closed groups of at most `target` images where it can (a single leaf with
    its ancestors may exceed it). Leaves are taken in the order of their path from the root, so siblings
    stay together and share their ancestors."""
    if len(component) <= target:
        return [frozenset(component)]
    members = set(component)
    leaves = [t for t in component if not any(c in members for c in ws.graph.children.get(t, []))]  # type: ignore[union-attr]
    leaves.sort(key=lambda t: sorted(position[a] for a in closure[t]))
    out: list[frozenset[str]] = []
    current: frozenset[str] = frozenset()
    for leaf in leaves:
        merged = current | closure[leaf]
        if current and len(merged) > target:
            out.append(current)
            current = closure[leaf]
        else:
            current = merged
    out.append(current)
    return out


def pack(items: list[frozenset[str]], legs: int) -> list[set[str]]:
    """Largest first, each onto the leg it grows least (a group sharing ancestors with a leg costs less there)."""
    bins: list[set[str]] = [set() for _ in range(legs)]
    for item in sorted(items, key=lambda i: (-len(i), sorted(i))):
        best = min(bins, key=lambda b: (len(b | item), len(b)))
        best |= item
    return [b for b in bins if b]


def split(ws: Workspace, tagbases: list[str], legs: int) -> list[set[str]]:
    """The leg contents (image sets, ancestors included) with the shortest longest leg over every target."""
    assert ws.graph is not None
    closure = ancestor_closures(ws, tagbases)
    position = {t: i for i, t in enumerate(ws.order(closure))}
    components = ws.graph.components(tagbases)
    largest = max((len(c) for c in components), default=0)
    floor = max((len(c) for c in closure.values()), default=0)
    best: list[set[str]] = []
    best_key: tuple[int, int] | None = None
    for target in range(max(floor, 1), largest + 1):
        items = [g for c in components for g in groups(ws, c, closure, target, position)]
        packed = pack(items, legs)
        key = (max(len(b) for b in packed), sum(len(b) for b in packed))  # longest leg, then total builds
        if best_key is None or key < best_key:
            best, best_key = packed, key
    return best
