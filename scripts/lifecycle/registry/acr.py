"""Azure Container Registry's tag listing with digests: one request per page instead of one HEAD per tag.

ACR serves `GET /acr/v1/<repository>/_tags?n=<page>&last=<tag>` (docs: "Tag - Get List" of the ACR data
plane REST API): `{"registry", "imageName", "tags": [{"name", "digest", "createdTime", "lastUpdateTime",
"signed", "changeableAttributes": {"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"}}]}`,
ordered by name, the next page named by a `Link: <...>; rel="next"` header. Its token scope is
`repository:<name>:metadata_read`.

Detection costs nothing extra: the first page of the first listing is the probe, and the client (one per
registry) keeps the answer for the rest of the run. A registry without the API (the CNCF
distribution registry answers a plain-text 404 for an unknown path) is asked with the distribution
API from then on. A 404 with ACR's JSON error `NAME_UNKNOWN` is ACR saying the repository is absent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from lifecycle.registry.auth import AuthError
from lifecycle.registry.models import parse_created
from lifecycle.registry.transport import NotFoundError, RegistryError, Transport

CAPABILITY = "acr-tags"
DEFAULT_PAGE = 1000


@dataclass(frozen=True)
class TagDetail:
    """One tag as ACR lists it."""

    name: str
    digest: str
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    delete_enabled: bool = True
    write_enabled: bool = True

    @property
    def locked(self) -> bool:
        """ACR refuses to delete it (`az acr repository update --delete-enabled false`)."""
        return not self.delete_enabled

    @classmethod
    def from_json(cls, data: dict) -> "TagDetail":
        attrs = data.get("changeableAttributes") or {}
        return cls(str(data["name"]), str(data["digest"]), parse_created(data.get("createdTime")),
                   parse_created(data.get("lastUpdateTime")), attrs.get("deleteEnabled", True) is not False,
                   attrs.get("writeEnabled", True) is not False)


class _Absent(Exception):
    """The registry has no ACR tag listing."""


def _is_name_unknown(response: httpx.Response) -> bool:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and e.get("code") in ("NAME_UNKNOWN", "REPOSITORY_NOT_FOUND") for e in errors)


def list_tag_details(transport: Transport, repo: str, page_size: int = DEFAULT_PAGE, *,
                     probing: bool = True) -> list[TagDetail] | None:
    """Every tag of `repo` with its digest and attributes, or None when the registry has no such listing.
    `probing`: whether the registry's answer is still unknown; once it is known to have the listing, an
    error is an error, not a sign of its absence."""
    try:
        return _pages(transport, repo, page_size, probing)
    except _Absent:
        return None


def _pages(transport: Transport, repo: str, page_size: int, first: bool) -> list[TagDetail]:
    path = f"/acr/v1/{repo}/_tags"
    params: dict[str, str] = {"n": str(page_size)}
    scope = f"repository:{repo}:metadata_read"
    found: list[TagDetail] = []
    while True:
        try:
            response = transport.request("GET", path, scope=scope, params=params)
        except AuthError:
            if first:  # a token without metadata_read can still pull: use the distribution API
                raise _Absent() from None
            raise
        if response.status_code == 404 and _is_name_unknown(response):
            return found
        if response.status_code != 200:
            if first:
                raise _Absent()
            message = f"list tags of {transport.registry}/{repo} (ACR): HTTP {response.status_code}"
            if response.status_code == 404:
                raise NotFoundError(message, status=404)
            raise RegistryError(message, status=response.status_code)
        try:
            body = response.json()
            page = [TagDetail.from_json(t) for t in body.get("tags") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            if first:
                raise _Absent() from None
            raise RegistryError(f"list tags of {transport.registry}/{repo} (ACR): not the documented shape") from None
        first = False
        found.extend(page)
        link = response.links.get("next", {}).get("url")
        if not link or not page:
            return found
        url = httpx.URL(urljoin(path, link))
        path, params = url.path, dict(url.params)
