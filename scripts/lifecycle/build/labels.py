"""The labels every published image carries, written by publish and read by LKG, stale and cleanup."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from lifecycle.catalogue.policy import Policy

REVISION = "org.opencontainers.image.revision"
CREATED = "org.opencontainers.image.created"
SOURCE = "org.opencontainers.image.source"
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


def bases_label(policy: Policy) -> str:
    """Every image base of every stage, as JSON {reference: digest}: the final stage alone is not enough."""
    return f"{policy.label_prefix}.bases"


@dataclass(frozen=True)
class ImageLabels:
    revision: str | None
    created: dt.datetime | None
    definition: str | None
    base_name: str | None
    base_digest: str | None
    bases: dict[str, str]

    @classmethod
    def read(cls, labels: dict[str, str], policy: Policy) -> "ImageLabels":
        try:
            bases = json.loads(labels.get(bases_label(policy), "{}"))
        except json.JSONDecodeError:
            bases = {}
        if not bases and labels.get(BASE_NAME) and labels.get(BASE_DIGEST):
            bases = {labels[BASE_NAME]: labels[BASE_DIGEST]}
        return cls(labels.get(REVISION), parse_time(labels.get(CREATED)), labels.get(policy.definition_label),
                   labels.get(BASE_NAME), labels.get(BASE_DIGEST), bases)


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_labels(*, policy: Policy, revision: str, created: dt.datetime, source: str, definition: str,
                base_name: str, base_digest: str, bases: dict[str, str]) -> dict[str, str]:
    labels = {
        REVISION: revision,
        CREATED: rfc3339(created),
        BASE_NAME: base_name,
        BASE_DIGEST: base_digest,
        policy.definition_label: definition,
        bases_label(policy): json.dumps(bases, sort_keys=True, separators=(",", ":")),
    }
    if source:
        labels[SOURCE] = source
    return labels
