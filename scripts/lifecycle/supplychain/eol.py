"""End-of-life annotations as the public .NET images publish them: a lifecycle referrer with a date."""

from __future__ import annotations

from datetime import date

from lifecycle.registry import referrers
from lifecycle.registry.client import RegistryClient

ARTIFACT_TYPE = "application/vnd.microsoft.artifact.lifecycle"
EOL_DATE = "vnd.microsoft.artifact.lifecycle.end-of-life.date"


def attach_eol(client: RegistryClient, repo: str, subject: str, when: date) -> referrers.Referrer:
    """Mark `subject` end of life on `when` (an empty payload: the annotation is the record)."""
    return referrers.attach(client, repo, subject, ARTIFACT_TYPE, b"{}", "application/vnd.oci.empty.v1+json",
                            {EOL_DATE: when.isoformat()})


def eol_date(client: RegistryClient, repo: str, subject: str) -> str | None:
    """The earliest end-of-life date annotated on `subject`, None when it has none."""
    dates = [r.annotations.get(EOL_DATE) for r in referrers.list_referrers(client, repo, subject, ARTIFACT_TYPE)]
    found = sorted(d for d in dates if d)
    return found[0] if found else None
