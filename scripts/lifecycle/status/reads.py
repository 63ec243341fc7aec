"""A registry client that sends each read at most once per run.

Status calls the same library functions as `stale`, `lkg` and `cleanup`; each of them reads what it needs
on its own. Behind this client they share one snapshot: the tag list is fetched once, each tag resolved
once, each manifest and each config blob (the labels) read once per distinct digest. A manifest read by
tag is remembered under its digest too, so `stale` reading `<tagbase>-latest` after the inventory resolved
it costs only the config blob, and the LKG lookup reading the same digest costs nothing.

Only for read-only runs: nothing here notices a tag that moves during the run (status is a snapshot).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, TypeVar

from lifecycle.registry import Manifest, NotFoundError, RegistryClient
from lifecycle.registry.reference import is_digest

T = TypeVar("T")


class SnapshotClient(RegistryClient):
    def __init__(self, registry: str, **kwargs: Any):
        super().__init__(registry, **kwargs)
        self._cache: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def _once(self, key: Hashable, read: Callable[[], T]) -> T:
        """read() once per key, even when several workers ask at the same time; errors are remembered too
        (a 404 stays a 404 for the whole run)."""
        with self._guard:
            if key in self._cache:
                return self._fetch(key)
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                try:
                    self._cache[key] = (True, read())
                except NotFoundError as exc:
                    self._cache[key] = (False, exc)
            return self._fetch(key)

    def _fetch(self, key: Hashable) -> Any:
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def tags(self, repo: str, page_size: int | None = None) -> list[str]:
        return list(self._once(("tags", repo), lambda: RegistryClient.tags(self, repo, page_size)))

    def resolve(self, repo: str, ref: str) -> str:
        if is_digest(ref):
            return ref
        return self._once(("resolve", repo, ref), lambda: RegistryClient.resolve(self, repo, ref))

    def manifest(self, repo: str, ref: str) -> Manifest:
        if not is_digest(ref):
            known = self._cache.get(("resolve", repo, ref))
            if known is not None and known[0]:
                ref = known[1]  # resolved earlier: read (or reuse) it by digest
            else:
                manifest = self._once(("manifest", repo, ref), lambda: RegistryClient.manifest(self, repo, ref))
                with self._guard:
                    self._cache.setdefault(("manifest", repo, manifest.digest), (True, manifest))
                    self._cache.setdefault(("resolve", repo, ref), (True, manifest.digest))
                return manifest
        return self._once(("manifest", repo, ref), lambda: RegistryClient.manifest(self, repo, ref))

    def blob(self, repo: str, digest: str) -> bytes:
        return self._once(("blob", repo, digest), lambda: RegistryClient.blob(self, repo, digest))
