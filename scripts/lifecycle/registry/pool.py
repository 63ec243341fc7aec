"""One RegistryClient per registry host for a run: our registry and the registries bases come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from lifecycle.registry import RegistryClient, parse_reference


@dataclass
class RegistryPool:
    insecure: tuple[str, ...] = ()
    clients: dict[str, RegistryClient] = field(default_factory=dict)

    def get(self, host: str) -> RegistryClient:
        if host not in self.clients:
            self.clients[host] = RegistryClient(host, insecure=self.insecure)
        return self.clients[host]

    def resolve(self, reference: str) -> str:
        """Digest of a full reference (`host/repo:tag`), with one HEAD."""
        ref = parse_reference(reference)
        return self.get(ref.registry).resolve(ref.repository, ref.ref or "latest")

    def add(self, client: RegistryClient) -> None:
        self.clients[client.registry] = client

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def __enter__(self) -> "RegistryPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pool_for(insecure: Iterable[str] = (), *clients: RegistryClient) -> RegistryPool:
    pool = RegistryPool(tuple(insecure))
    for client in clients:
        pool.add(client)
    return pool
