"""The in-repo parent/child graph of the catalogue: order, descendants, cycles, chains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


class CycleError(Exception):
    def __init__(self, cycle: list[str], edges: dict[tuple[str, str], str] | None = None):
        self.cycle = cycle
        super().__init__(describe_cycle(cycle, edges or {}))


def describe_cycle(cycle: list[str], edges: dict[tuple[str, str], str]) -> str:
    """'dependency cycle: a -> b -> a', then where each edge is written: the FROM lines that close it."""
    text = "dependency cycle: " + " -> ".join(cycle)
    where = [f"{edges[(child, parent)]} ({child} FROM {parent})"
             for parent, child in zip(cycle, cycle[1:]) if (child, parent) in edges]
    return text + ("; closed by " + ", ".join(where) if where else "")


@dataclass
class Graph:
    nodes: list[str]
    parents: dict[str, list[str]] = field(default_factory=dict)
    # (child, parent) -> where the edge is written ("file:line" of the FROM / COPY --from)
    edges: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.children: dict[str, list[str]] = {n: [] for n in self.nodes}
        for child, parents in self.parents.items():
            for parent in parents:
                self.children.setdefault(parent, []).append(child)
        self.parents = {n: sorted(set(self.parents.get(n, []))) for n in self.nodes}
        self.children = {n: sorted(set(c)) for n, c in self.children.items()}
        self._rank = {n: i for i, n in enumerate(self.nodes)}

    def find_cycle(self) -> list[str] | None:
        """A cycle as a closed path (first == last), or None."""
        state: dict[str, int] = {}
        for start in self.nodes:
            if state.get(start):
                continue
            stack: list[tuple[str, Iterable[str]]] = [(start, iter(self.parents[start]))]
            path = [start]
            state[start] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                if nxt not in self.parents:
                    continue
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    return list(reversed(cycle))  # parent -> child direction
                if not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(self.parents[nxt])))
        return None

    def order(self, subset: Iterable[str] | None = None) -> list[str]:
        """Parents before children; ties in catalogue order. Raises CycleError."""
        wanted = set(self.nodes if subset is None else subset)
        cycle = self.find_cycle()
        if cycle:
            raise CycleError(cycle, self.edges)
        done: set[str] = set()
        out: list[str] = []
        for node in self.nodes:
            stack = [(node, False)]
            while stack:
                current, expanded = stack.pop()
                if current in done:
                    continue
                if expanded:
                    done.add(current)
                    out.append(current)
                    continue
                stack.append((current, True))
                for parent in reversed(self.parents[current]):
                    if parent not in done:
                        stack.append((parent, False))
        return [n for n in out if n in wanted]

    def descendants(self, roots: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            node = todo.pop()
            for child in self.children.get(node, []):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def ancestors(self, node: str) -> set[str]:
        seen: set[str] = set()
        todo = [node]
        while todo:
            for parent in self.parents.get(todo.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def components(self, subset: Iterable[str]) -> list[list[str]]:
        """Groups of `subset` connected through parent/child edges inside it, each in build order."""
        wanted = set(subset)
        group: dict[str, str] = {}

        def find(x: str) -> str:
            while group.get(x, x) != x:
                x = group[x]
            return x

        for node in wanted:
            group.setdefault(node, node)
            for parent in self.parents[node]:
                if parent in wanted:
                    group[find(node)] = find(parent)
        members: dict[str, list[str]] = {}
        for node in self.order(wanted):
            members.setdefault(find(node), []).append(node)
        return list(members.values())
