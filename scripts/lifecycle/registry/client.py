"""RegistryClient: the OCI distribution operations rollout, rollback and cleanup are built on.

Retag is "GET the manifest bytes, PUT them under the new tag": no blob moves, and because the
bytes are identical the digest is too, for an image manifest and for an index (whose children are
untouched). Batches plan first (every source and current target resolved), then apply on the
transport's bounded worker pool, so a source that cannot be read stops the batch before any change.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, TypeVar
from urllib.parse import urljoin

import httpx

from lifecycle.errors import InputError, OperationError
from lifecycle.registry import acr, auth as auth_module
from lifecycle.registry.acr import TagDetail
from lifecycle.registry.auth import Credentials
from lifecycle.registry.models import (ACCEPT, INDEX_TYPES, ImageConfig, Manifest, Platform, RetagResult,
                                       parse_created, sha256_digest)
from lifecycle.registry.reference import check_tag, is_digest
from lifecycle.registry.transport import NotFoundError, RegistryError, RetryPolicy, Transport

T = TypeVar("T")
R = TypeVar("R")


class _Anonymous:
    def __repr__(self) -> str:
        return "ANONYMOUS"


ANONYMOUS = _Anonymous()  # pass as credentials= to skip discovery from the environment and Docker config
_TAGS_LIST_THRESHOLD = 16  # above this many targets, one tag listing beats a HEAD per target


def _error_detail(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f" {first.get('code', '')}: {str(first.get('message', ''))[:200]}"
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


class RegistryClient:
    def __init__(self, registry: str, *, insecure: Iterable[str] = (), credentials=None, concurrency: int = 8,
                 retry: RetryPolicy | None = None, timeout: float = 30.0, env=None):
        if credentials is ANONYMOUS:
            creds = None
        elif credentials is None:
            creds = auth_module.discover(registry, env)
        elif isinstance(credentials, Credentials):
            creds = credentials
        else:
            user, password = credentials
            creds = Credentials(user, password)
        self.registry = registry
        # what this registry offers beyond the distribution API, learnt once per client (see acr.py)
        self.capabilities: dict[str, bool] = {}
        self.transport = Transport(registry, insecure=insecure, credentials=creds, concurrency=concurrency,
                                   retry=retry, timeout=timeout)

    def __repr__(self) -> str:
        return f"RegistryClient({self.transport.base_url!r})"

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent, by HTTP method (retries and auth round trips included; token fetches not)."""
        return self.transport.stats

    def reset_stats(self) -> None:
        self.transport.reset_stats()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Run fn over items on the client's bounded worker pool; results in input order."""
        return self.transport.map(fn, items)

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, method: str, repo: str, path: str, action: str, what: str, ok: tuple[int, ...],
              **kwargs) -> httpx.Response:
        response = self.transport.request(method, f"/v2/{repo}/{path}", scope=f"repository:{repo}:{action}",
                                          **kwargs)
        if response.status_code in ok:
            return response
        detail = _error_detail(response) if method != "HEAD" else ""
        message = f"{what}: HTTP {response.status_code}{detail}"
        if response.status_code == 404:
            raise NotFoundError(message, status=404)
        raise RegistryError(message, status=response.status_code)

    def _name(self, repo: str, ref: str | None = None) -> str:
        if ref is None:
            return f"{self.registry}/{repo}"
        return f"{self.registry}/{repo}{'@' if is_digest(ref) else ':'}{ref}"

    # -- reads ----------------------------------------------------------------------------------

    def resolve(self, repo: str, ref: str) -> str:
        """The digest `ref` (tag or digest) points at, with one HEAD. NotFoundError if absent."""
        response = self._call("HEAD", repo, f"manifests/{ref}", "pull", f"resolve {self._name(repo, ref)}",
                              (200,), headers={"Accept": ACCEPT})
        digest = response.headers.get("docker-content-digest")
        if digest:
            return digest
        return self.manifest(repo, ref).digest  # registries may omit the header on HEAD

    def try_resolve(self, repo: str, ref: str) -> str | None:
        """Like resolve, but None when the tag or manifest does not exist."""
        try:
            return self.resolve(repo, ref)
        except NotFoundError:
            return None

    def resolve_many(self, repo: str, refs: Iterable[str]) -> dict[str, str | None]:
        """Every ref's digest (None if absent), resolved concurrently."""
        unique = list(dict.fromkeys(refs))
        return dict(zip(unique, self.map(lambda r: self.try_resolve(repo, r), unique)))

    def tag_details(self, repo: str, page_size: int = 1000) -> "list[TagDetail] | None":
        """Every tag with its digest and ACR attributes (locks) from ACR's listing, one request per page;
        None when the registry has no such listing (detected once per client)."""
        known = self.capabilities.get(acr.CAPABILITY)
        if known is False:
            return None
        found = acr.list_tag_details(self.transport, repo, page_size, probing=known is None)
        self.capabilities[acr.CAPABILITY] = found is not None
        return found

    def tag_digests(self, repo: str, page_size: int = 1000) -> dict[str, str]:
        """tag -> digest for every tag of `repo`: ACR's listing when the registry has it, else the tag
        listing and one HEAD per tag on the pool (a tag deleted in between is left out)."""
        details = self.tag_details(repo, page_size)
        if details is not None:
            return {d.name: d.digest for d in details}
        tags = self.tags(repo, page_size=page_size)
        return {t: d for t, d in self.resolve_many(repo, tags).items() if d}

    def manifest(self, repo: str, ref: str) -> Manifest:
        """The manifest's exact bytes, media type and digest (computed from the bytes, checked against
        the registry's header and, when `ref` is a digest, against it)."""
        name = self._name(repo, ref)
        response = self._call("GET", repo, f"manifests/{ref}", "pull", f"get manifest {name}", (200,),
                              headers={"Accept": ACCEPT})
        raw = response.content
        digest = sha256_digest(raw)
        claimed = response.headers.get("docker-content-digest")
        if (claimed and claimed != digest) or (is_digest(ref) and ref != digest):
            raise RegistryError(f"get manifest {name}: content digest {digest} does not match "
                                f"{claimed if claimed and claimed != digest else ref}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            return Manifest.from_bytes(raw, media_type or None, digest)
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"get manifest {name}: not a valid manifest ({type(exc).__name__})") from None

    def tags(self, repo: str, page_size: int | None = None) -> list[str]:
        """All tags of `repo`, following `Link` pagination. [] when the repository does not exist."""
        params: dict[str, str] | None = {"n": str(page_size)} if page_size else None
        path = "tags/list"
        found: list[str] = []
        while True:
            try:
                response = self._call("GET", repo, path, "pull", f"list tags of {self._name(repo)}", (200,),
                                      params=params)
            except NotFoundError:
                return found
            found.extend(response.json().get("tags") or [])
            link = response.links.get("next", {}).get("url")
            if not link:
                return found
            # The Link target is absolute-path (/v2/<repo>/tags/list?last=..&n=..); keep our base URL.
            url = httpx.URL(urljoin(f"/v2/{repo}/tags/list", link))
            path = url.path[len(f"/v2/{repo}/"):]
            params = dict(url.params)

    def blob(self, repo: str, digest: str) -> bytes:
        """A blob's bytes (the registry may redirect to storage; the redirect is followed)."""
        response = self._call("GET", repo, f"blobs/{digest}", "pull", f"get blob {self._name(repo, digest)}",
                              (200,), follow_redirects=True)
        if sha256_digest(response.content) != digest:
            raise RegistryError(f"get blob {self._name(repo, digest)}: content does not match its digest")
        return response.content

    def config(self, repo: str, ref: str, platform: Platform | str | None = None) -> ImageConfig:
        """`created` and labels from the image config. For an index: the child for `platform`, else the first."""
        top = self.manifest(repo, ref)
        image = top
        if top.is_index:
            if not top.children:
                raise RegistryError(f"{self._name(repo, ref)} is an empty index")
            wanted = Platform.parse(platform) if isinstance(platform, str) else platform
            chosen = top.children[0]
            if wanted is not None:
                matches = [c for c in top.children if c.platform and c.platform.os == wanted.os
                           and c.platform.architecture == wanted.architecture
                           and (wanted.variant is None or c.platform.variant == wanted.variant)]
                if not matches:
                    raise NotFoundError(f"{self._name(repo, ref)} has no manifest for platform {wanted}", status=404)
                chosen = matches[0]
            image = self.manifest(repo, chosen.digest)
        if image.config is None:
            raise RegistryError(f"{self._name(repo, ref)} ({image.media_type or 'unknown type'}) has no config")
        data = json.loads(self.blob(repo, image.config.digest))
        labels = (data.get("config") or {}).get("Labels") or {}
        plat = Platform(data.get("os", ""), data.get("architecture", ""), data.get("variant")) \
            if data.get("os") else None
        return ImageConfig(top.digest, image.digest, parse_created(data.get("created")), dict(labels), plat)

    # -- writes ---------------------------------------------------------------------------------

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT exact bytes under `ref` (a tag, or the bytes' own digest). Returns the registry's digest."""
        response = self._call("PUT", repo, f"manifests/{ref}", "pull,push", f"put manifest {self._name(repo, ref)}",
                              (200, 201), content=raw, headers={"Content-Type": media_type})
        return response.headers.get("docker-content-digest") or sha256_digest(raw)

    def push_manifest(self, repo: str, ref: str, manifest: dict | bytes, media_type: str | None = None) -> str:
        """put_manifest for a dict (serialised compactly) or bytes; media type defaults to the body's."""
        raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest, separators=(",", ":")).encode()
        media_type = media_type or json.loads(raw).get("mediaType")
        if not media_type:
            raise InputError("push_manifest: no media type given and none in the manifest")
        return self.put_manifest(repo, ref, raw, media_type)

    def blob_exists(self, repo: str, digest: str) -> bool:
        try:
            self._call("HEAD", repo, f"blobs/{digest}", "pull", f"check blob {digest}", (200,))
            return True
        except NotFoundError:
            return False

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload a blob (monolithic POST-then-PUT); skipped when the registry already has it."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        started = self._call("POST", repo, "blobs/uploads/", "pull,push", f"start upload to {self._name(repo)}",
                             (202,))
        location = httpx.URL(urljoin(f"{self.transport.base_url}/v2/{repo}/blobs/uploads/",
                                     started.headers["location"]))
        params = dict(location.params)
        params["digest"] = digest
        response = self.transport.request("PUT", location.path, scope=f"repository:{repo}:pull,push",
                                          params=params, content=data,
                                          headers={"Content-Type": "application/octet-stream"})
        if response.status_code != 201:
            raise RegistryError(f"upload blob {digest} to {self._name(repo)}: HTTP {response.status_code}"
                                f"{_error_detail(response)}", status=response.status_code)
        return digest

    def delete(self, repo: str, digest: str) -> None:
        """Delete a manifest by digest (every tag pointing at it goes with it). NotFoundError if absent."""
        if not is_digest(digest):
            raise InputError(f"delete needs a digest (sha256:<hex>), got {digest!r}; resolve the tag first")
        self._call("DELETE", repo, f"manifests/{digest}", "delete", f"delete {self._name(repo, digest)}", (202, 200))

    # -- retag ----------------------------------------------------------------------------------

    def retag(self, repo: str, source_ref: str, tag: str) -> RetagResult:
        """Point `tag` at what `source_ref` points at (same bytes, same digest). No PUT if already there."""
        return self.retag_many(repo, [(source_ref, tag)])[0]

    def retag_many(self, repo: str, pairs: list[tuple[str, str]], dry_run: bool = False) -> list[RetagResult]:
        """Retag many (source_ref, tag) pairs in `repo`: plan (resolve all sources and current targets),
        then PUT concurrently only where the tag is not already right. Results in input order.
        A source that cannot be read raises OperationError before anything changes; a failed PUT is
        reported as that tag's `failed` result (re-running finishes the job)."""
        targets: dict[str, str] = {}
        for source, tag in pairs:
            check_tag(tag)
            if targets.setdefault(tag, source) != source:
                raise InputError(f"tag {tag!r} is given two sources: {targets[tag]!r} and {source!r}")
        sources = list(dict.fromkeys(source for source, _ in pairs))
        read: dict[str, Manifest | str] = dict(zip(sources, self.map(lambda s: self._try_manifest(repo, s), sources)))
        missing = [f"{self._name(repo, s)}: {err}" for s, err in read.items() if isinstance(err, str)]
        if missing:
            raise OperationError("retag stopped before changing anything; cannot read source(s):\n"
                                 + "\n".join(f"  - {m}" for m in missing))
        current = self._current_targets(repo, list(targets))

        def apply(pair: tuple[str, str]) -> RetagResult:
            source, tag = pair
            manifest = read[source]
            assert isinstance(manifest, Manifest)
            before = current[tag]
            if before == manifest.digest:
                return RetagResult(tag, source, manifest.digest, before, "unchanged")
            if dry_run:
                return RetagResult(tag, source, manifest.digest, before, "would-move")
            try:
                stored = self.put_manifest(repo, tag, manifest.raw, manifest.media_type)
            except OperationError as exc:
                return RetagResult(tag, source, before, before, "failed", str(exc))
            if stored != manifest.digest:
                return RetagResult(tag, source, stored, before, "failed",
                                   f"registry stored digest {stored}, expected {manifest.digest}")
            return RetagResult(tag, source, stored, before, "moved")

        return self.map(apply, pairs)

    def _try_manifest(self, repo: str, ref: str) -> Manifest | str:
        try:
            return self.manifest(repo, ref)
        except NotFoundError:
            return "not found"
        except OperationError as exc:
            return str(exc)

    def _current_targets(self, repo: str, tags: list[str]) -> dict[str, str | None]:
        if len(tags) > _TAGS_LIST_THRESHOLD:
            # One listing tells which targets exist; only those need a HEAD. A tag created in between
            # is simply overwritten by the PUT (and reported as moved from nothing).
            existing = set(self.tags(repo, page_size=1000))
            present = [t for t in tags if t in existing]
        else:
            present = tags
        found = self.resolve_many(repo, present)
        return {tag: found.get(tag) for tag in tags}


def client_for(registry: str, **kwargs) -> RegistryClient:
    """A RegistryClient for `registry` (credentials discovered from the environment unless given)."""
    return RegistryClient(registry, **kwargs)


__all__ = ["ANONYMOUS", "NotFoundError", "RegistryClient", "RegistryError", "RetryPolicy", "client_for",
           "INDEX_TYPES"]
