"""Revert holds: what someone reverted on production stays reverted until main changes it.

One rule for every key->value map a rollout promotes (image definitions, floating-tag targets). A key's
*promoted* value is main's value at the newest rollout that took that key from main (the rollout's tree has
main@P's value for it); a rollout that held the key (a revert, or a floating tag's evaluation period) did
not promote it, so the search goes on to the rollout before. Key k is held when its value at production
HEAD differs from its promoted value (someone reverted it on production, in this rollout's window or
before a held rollout) and main@C still has the promoted value (main has not moved on). A revert of the
revert puts production back on the promoted value, which lifts the hold; so does a new value on main.

Nothing is stored: the promoted values are read from production's first-parent history each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Mapping, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Reverted(Generic[V]):
    key: str
    production: V | None   # the value production HEAD has (None: production removed it)
    promoted: V             # the value the rollouts last took from main, which main still has


def promoted_values(rollouts: Iterable[tuple[str, str]], values_at: Callable[[str], Mapping[str, V]]
                    ) -> dict[str, V]:
    """key -> its promoted value. `rollouts`: (commit whose tree a rollout wrote, main commit it promoted),
    newest first; read lazily, only as far back as keys held by the newer rollouts need."""
    promoted: dict[str, V] = {}
    pending: set[str] | None = None     # keys still to settle; None before the newest rollout is read
    for written_sha, main_sha in rollouts:
        written, wanted = values_at(written_sha), values_at(main_sha)
        keys = set(written) | set(wanted) if pending is None else pending
        pending = set()
        for key in keys:
            if written.get(key) == wanted.get(key):
                if key in wanted:
                    promoted[key] = wanted[key]
            else:
                pending.add(key)
        if not pending:
            break
    return promoted


def reverted(production: Mapping[str, V], promoted: Mapping[str, V], candidate: Mapping[str, V]
             ) -> dict[str, Reverted[V]]:
    """The keys of `candidate` (main@C) held at production's value (see the module docstring)."""
    return {key: Reverted(key, production.get(key), value) for key, value in candidate.items()
            if key in promoted and promoted[key] == value and production.get(key) != value}
