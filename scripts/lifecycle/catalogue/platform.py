"""A platform as OCI spells it: os/architecture[/variant]. Shared by the catalogue and the registry client."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    # Windows release of the image (ltsc2019, ltsc2022...): the build host must match it, so `matrix` picks
    # the agent pool by it. Not part of the OCI platform string, nor of equality (a registry's platform has none).
    os_version: str | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """`linux/amd64` or `linux/arm/v7`."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)
