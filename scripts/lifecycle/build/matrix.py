"""`lifecycle matrix`: the Azure Pipelines build legs for a plan, in one of two shapes.

- **chain**: one level; a leg builds whole dependency chains in order on one agent, so an in-repo parent is
  always built before its children in the same leg and never leaves the agent before they are built.
- **levels**: level k holds the images whose deepest planned parent is at level k-1; the legs of level k+1
  start after level k (dependent jobs) and take their parents' digests from the earlier legs' image-info
  artifacts (`publish --parents-from`). A wide fan-out is spread over many legs instead of one.

- **split** (only when asked, for builds that push nothing): one level, a large family cut over several legs,
  each leg building the planned ancestors its images need (matrix_split.py).

`plan_matrix` builds chain and levels and keeps the cheaper by `estimate` (docs/architecture.md, "Build matrix"):
each stage costs LEG_OVERHEAD image builds (agent, checkout, set-up, parent pulls) plus its largest leg.
`max_legs` is a hard bound on the legs of every level. The pipelines have MAX_LEVELS level jobs: a deeper
plan builds what is below the last level as chains in that level.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from lifecycle.build import matrix_split
from lifecycle.errors import InputError, Location
from lifecycle.build.matrix_pools import needs_emulation, pool_for
from lifecycle.catalogue.workspace import Workspace

DEFAULT_MAX_LEGS = 20
MAX_LEVELS = 6       # jobs BuildLevel0..BuildLevel5 in pipelines/publish.yml and pr.yml
LEG_OVERHEAD = 0.5   # one stage's start, in image builds: agent, checkout, set-up, login, parent pulls
MODES = ("auto", "chain", "levels", "split")


@dataclass(frozen=True)
class Leg:
    name: str
    platform: str              # the platforms of its images, comma-separated (usually one)
    images: tuple[str, ...]    # in build order
    pool: str = "ubuntu-22.04"  # vmImage of the agent
    level: int = 0
    emulation: bool = False
    parents: tuple[str, ...] = ()  # planned parents built by earlier levels' legs (publish --require-parents)

    def variables(self) -> dict[str, str]:
        return {"images": ",".join(self.images), "platform": self.platform, "imageCount": str(len(self.images)),
                "vmImage": self.pool, "level": str(self.level), "emulation": str(self.emulation).lower(),
                "parents": ",".join(self.parents)}


@dataclass(frozen=True)
class MatrixPlan:
    mode: str                  # "chain" | "levels"
    legs: tuple[Leg, ...]

    @property
    def level_count(self) -> int:
        return max((leg.level for leg in self.legs), default=-1) + 1

    def level(self, k: int) -> list[Leg]:
        return [leg for leg in self.legs if leg.level == k]

    def critical_path(self) -> int:
        """Images built one after another on the longest path: the sum over levels of the largest leg."""
        return sum(max(len(leg.images) for leg in self.level(k)) for k in range(self.level_count))

    def estimate(self) -> float:
        """The critical path plus LEG_OVERHEAD per stage: what `auto` minimises."""
        return self.critical_path() + LEG_OVERHEAD * self.level_count

    def variables(self) -> dict[str, str]:
        """The pipeline's output variables: `matrix` (every leg), `level0`..`level<MAX_LEVELS-1>`, counts."""
        compact = {"matrix": _compact(self.legs), "legCount": str(len(self.legs)), "mode": self.mode,
                   "levelCount": str(self.level_count)}
        for k in range(MAX_LEVELS):
            compact[f"level{k}"] = _compact(self.level(k))
        return compact


def _compact(legs) -> str:
    return json.dumps(as_azure_matrix(list(legs)), separators=(",", ":"))


def as_azure_matrix(legs: list[Leg]) -> dict[str, dict[str, str]]:
    return {leg.name: leg.variables() for leg in legs}


# -- planning -------------------------------------------------------------------------------------------

def plan_matrix(ws: Workspace, tagbases: list[str], max_legs: int = DEFAULT_MAX_LEGS, mode: str = "auto",
                levels: int = MAX_LEVELS) -> MatrixPlan:
    if mode not in MODES:
        raise InputError(f"unknown matrix mode {mode!r} (one of {', '.join(MODES)})")
    if max_legs < 1 or levels < 1:
        raise InputError(f"--max-legs and levels must be at least 1 (got {max_legs}, {levels})")
    if mode == "split":  # never chosen by auto: it rebuilds shared ancestors, worth it only without a push
        return MatrixPlan("split", tuple(split_legs(ws, tagbases, max_legs)))
    chain = MatrixPlan("chain", tuple(chain_legs(ws, tagbases, max_legs)))
    if mode == "chain" or not tagbases:
        return chain
    leveled = MatrixPlan("levels", tuple(level_legs(ws, tagbases, max_legs, levels)))
    if mode == "levels":
        return leveled
    # ties go to chains: fewer jobs, and no parent crosses the registry between agents
    return leveled if leveled.estimate() < chain.estimate() else chain


def build_matrix(ws: Workspace, tagbases: list[str], max_legs: int = DEFAULT_MAX_LEGS) -> list[Leg]:
    """Chain-per-leg legs (kept for callers that want one level)."""
    return chain_legs(ws, tagbases, max_legs)


def chain_legs(ws: Workspace, tagbases: list[str], max_legs: int, level: int = 0) -> list[Leg]:
    assert ws.graph is not None
    return _pack(ws, [tuple(c) for c in ws.graph.components(tagbases)], max_legs, level, set(), set(tagbases))


def split_legs(ws: Workspace, tagbases: list[str], max_legs: int) -> list[Leg]:
    """One level; large families cut over several legs, each leg building the ancestors it needs
    (matrix_split.py). An image may be in several legs."""
    assert ws.graph is not None
    by_pool: dict[str, list[str]] = {}
    components = ws.graph.components(tagbases)
    for component in components:
        by_pool.setdefault(_pool(ws, component[-1]), []).extend(component)
    if len(by_pool) > max_legs:
        raise InputError(f"--max-legs {max_legs} cannot hold the plan: its images need {len(by_pool)} different "
                         f"agent pools ({', '.join(sorted(by_pool))})", Location(ws.policy.path))
    budget = _allocate({p: [len(c) for c in components if _pool(ws, c[-1]) == p] for p in by_pool}, max_legs)
    position = {t: i for i, t in enumerate(ws.order(tagbases))}
    legs: list[Leg] = []
    used: set[str] = set()
    for pool in sorted(by_pool):
        for images in matrix_split.split(ws, by_pool[pool], budget[pool]):
            legs.append(_leg(ws, sorted(images, key=position.__getitem__), pool, 0, used, set(tagbases)))
    return legs


def levels_of(ws: Workspace, tagbases: list[str]) -> dict[str, int]:
    """Level 0: no parent in the plan; level k+1: the deepest planned parent is at level k."""
    wanted = set(tagbases)
    level: dict[str, int] = {}
    for tagbase in ws.order(wanted):
        parents = [level[p] for p in ws.parents_of(tagbase) if p in wanted]
        level[tagbase] = 1 + max(parents) if parents else 0
    return level


def balance_leaves(ws: Workspace, level: dict[str, int], max_legs: int) -> dict[str, int]:
    """Move images without planned children to a later level where a leg has room.

    A leaf may run at any level after its parents'. The legs of a level hold ceil(n / max_legs) images each,
    so a leaf is free where that does not grow; the least flexible leaves (deepest) are placed first.
    """
    depth = max(level.values(), default=-1) + 1
    wanted = set(level)
    leaves = {t for t in level if not any(c in wanted for c in ws.graph.children.get(t, []))}  # type: ignore[union-attr]
    counts: dict[tuple[int, str], int] = {}
    placed = {t: k for t, k in level.items() if t not in leaves}
    for t, k in placed.items():
        counts[k, _pool(ws, t)] = counts.get((k, _pool(ws, t)), 0) + 1
    for t in sorted(leaves, key=lambda x: (-level[x], x)):
        pool = _pool(ws, t)
        choices = range(level[t], depth)
        free = [k for k in choices if counts.get((k, pool), 0) % max_legs]
        k = free[0] if free else min(choices, key=lambda c: (counts.get((c, pool), 0), c))
        placed[t] = k
        counts[k, pool] = counts.get((k, pool), 0) + 1
    return placed


def level_legs(ws: Workspace, tagbases: list[str], max_legs: int, levels: int = MAX_LEVELS) -> list[Leg]:
    assert ws.graph is not None
    level = levels_of(ws, tagbases)
    if max(level.values(), default=0) < levels:  # a folded (deeper) plan keeps its levels as they are
        level = balance_leaves(ws, level, max_legs)
    order = ws.order(level)
    legs: list[Leg] = []
    used: set[str] = set()
    for k in range(min(levels, max(level.values(), default=-1) + 1)):
        if k < levels - 1:
            items = [(t,) for t in order if level[t] == k]
        else:  # the last level job: everything deeper, as chains
            items = [tuple(c) for c in ws.graph.components([t for t in order if level[t] >= k])]
        legs += _pack(ws, items, max_legs, k, used, set(tagbases))
    return legs


def _pack(ws: Workspace, items: list[tuple[str, ...]], max_legs: int, level: int, used: set[str],
          planned: set[str]) -> list[Leg]:
    """Spread `items` (chains, or single images) over at most `max_legs` legs, each on one pool.

    Chains are packed largest first onto the least loaded leg. Single images are cut into contiguous runs
    of near-equal size after sorting siblings together, so a leg pulls few distinct parents.
    """
    if not items:
        return []
    by_pool: dict[str, list[tuple[str, ...]]] = {}
    for item in items:
        by_pool.setdefault(_pool(ws, item[-1]), []).append(item)
    if len(by_pool) > max_legs:
        raise InputError(f"--max-legs {max_legs} cannot hold level {level}: its images need "
                         f"{len(by_pool)} different agent pools ({', '.join(sorted(by_pool))})",
                         Location(ws.policy.path))
    budget = _allocate({p: [len(i) for i in its] for p, its in by_pool.items()}, max_legs)
    position = {t: i for i, t in enumerate(ws.order({t for i in items for t in i}))}
    legs: list[Leg] = []
    for pool in sorted(by_pool):
        pool_items = by_pool[pool]
        if all(len(i) == 1 for i in pool_items):
            pool_items.sort(key=lambda i: (_first_parent(ws, i[0]), str(ws.image(i[0]).platform), position[i[0]]))
            bins = _contiguous([i[0] for i in pool_items], budget[pool])
        else:
            bins = [[] for _ in range(budget[pool])]
            for item in sorted(pool_items, key=lambda i: (-len(i), position[i[0]])):
                min(bins, key=len).extend(item)
        for images in bins:
            if images:
                images.sort(key=position.__getitem__)
                legs.append(_leg(ws, images, pool, level, used, planned))
    return legs


def _allocate(sizes: dict[str, list[int]], max_legs: int) -> dict[str, int]:
    """Legs per pool: one each, then each further leg to the most loaded pool (work per leg), never more
    legs than items."""
    legs = {p: 1 for p in sizes}

    def load(p: str, n: int) -> int:
        return math.ceil(sum(sizes[p]) / n)

    while sum(legs.values()) < max_legs:
        open_pools = [p for p in sizes if legs[p] < len(sizes[p])]
        if not open_pools:
            break
        chosen = max(open_pools, key=lambda p: (load(p, legs[p]), p))
        legs[chosen] += 1
    # single images: the fewest legs with the same images per leg (the same critical path, fewer agents)
    return {p: math.ceil(sum(sizes[p]) / load(p, n)) if max(sizes[p]) == 1 else n for p, n in legs.items()}


def _contiguous(images: list[str], n: int) -> list[list[str]]:
    size, extra = divmod(len(images), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(images[start:end])
        start = end
    return out


def _first_parent(ws: Workspace, tagbase: str) -> str:
    parents = ws.parents_of(tagbase)
    return parents[0] if parents else ""


def _pool(ws: Workspace, tagbase: str) -> str:
    return pool_for(ws.image(tagbase).platform, ws.policy)


def _leg(ws: Workspace, images: list[str], pool: str, level: int, used: set[str], planned: set[str]) -> Leg:
    platforms = sorted({ws.image(t).platform for t in images}, key=str)
    mine = set(images)
    parents = sorted({p for t in images for p in ws.parents_of(t) if p in planned and p not in mine})
    return Leg(_leg_name(images[0], level, used), ",".join(map(str, platforms)), tuple(images), pool, level,
               needs_emulation(platforms), tuple(parents))


def _leg_name(first: str, level: int, used: set[str]) -> str:
    """Azure: letters, digits and _, starting with a letter, at most 100 characters; unique in the run."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", first)
    name = (f"L{level}_{name}" if level or not name[:1].isalpha() else name)[:90]
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate
