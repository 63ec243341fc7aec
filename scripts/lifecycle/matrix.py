"""`lifecycle matrix`: an Azure Pipelines matrix with one leg per dependency chain per platform.

A leg builds its images in order on one agent, so an in-repo parent is always built before its children in
the same leg. Independent chains are spread across at most `max_legs` legs, largest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifecycle.workspace import Workspace

DEFAULT_MAX_LEGS = 20


@dataclass(frozen=True)
class Leg:
    name: str
    platform: str
    images: tuple[str, ...]

    def variables(self) -> dict[str, str]:
        return {"images": ",".join(self.images), "platform": self.platform, "imageCount": str(len(self.images))}


def _leg_name(first: str, used: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", first)
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate


def build_matrix(ws: Workspace, tagbases: list[str], max_legs: int = DEFAULT_MAX_LEGS) -> list[Leg]:
    assert ws.graph is not None
    chains = ws.graph.components(tagbases)
    by_platform: dict[str, list[list[str]]] = {}
    for chain in chains:
        platform = str(ws.image(chain[-1]).platform)
        by_platform.setdefault(platform, []).append(chain)
    # every platform gets at least one leg; the rest of the budget follows the amount of work
    total = sum(len(c) for cs in by_platform.values() for c in cs) or 1
    max_legs = max(max_legs, len(by_platform))
    legs: list[Leg] = []
    used: set[str] = set()
    for platform in sorted(by_platform):
        platform_chains = sorted(by_platform[platform], key=lambda c: (-len(c), c[0]))
        work = sum(len(c) for c in platform_chains)
        budget = max(1, min(len(platform_chains), round(max_legs * work / total)))
        bins: list[list[str]] = [[] for _ in range(budget)]
        for chain in platform_chains:
            min(bins, key=len).extend(chain)
        order = {t: i for i, t in enumerate(ws.order(tagbases))}
        for images in bins:
            if images:
                images.sort(key=order.__getitem__)
                legs.append(Leg(_leg_name(images[0], used), platform, tuple(images)))
    return legs


def as_azure_matrix(legs: list[Leg]) -> dict[str, dict[str, str]]:
    return {leg.name: leg.variables() for leg in legs}
