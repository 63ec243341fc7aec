"""HTTP to one registry: one pooled client, auth, bounded retries with backoff, a worker pool for batches.

Retried: HTTP 429/500/502/503/504 and connection errors/timeouts, with exponential backoff, honouring
Retry-After, bounded both in attempts and in total time. Everything we send is idempotent (HEAD, GET,
PUT of content-addressed bytes, DELETE by digest), so a retry after a lost answer is harmless.
TLS is verified; plain HTTP is used only for loopback hosts or hosts named insecure.
"""

from __future__ import annotations

import email.utils
import ipaddress
import ssl
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, TypeVar

import httpx

from lifecycle.errors import OperationError
from lifecycle.registry.auth import Authenticator, Credentials

# 500 too: docker-registry (distribution) answers it while another client writes or deletes tags of the
# same repository (its tag walk meets a half-written link); the same request a moment later succeeds.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")
R = TypeVar("R")


class RegistryError(OperationError):
    """A registry request failed for good (after retries, or with a status we do not retry)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class NotFoundError(RegistryError):
    """The repository, tag, manifest or blob does not exist (HTTP 404)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5          # tries per request, the first included
    backoff: float = 0.5       # first wait; doubles each retry
    max_backoff: float = 8.0   # cap for one computed wait (Retry-After may ask for more, within total)
    total: float = 60.0        # no retry starts after this many seconds since the first try

    def delay(self, attempt: int, retry_after: float | None) -> float:
        computed = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return max(computed, retry_after) if retry_after is not None else computed


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def scheme_for(registry: str, insecure: Iterable[str]) -> str:
    allowed = set(insecure)
    bare = registry.rsplit(":", 1)[0] if ":" in registry else registry
    return "http" if is_loopback(registry) or registry in allowed or bare in allowed else "https"


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return "ssl" in str(exc).lower() or "certificate" in str(exc).lower()


class Transport:
    def __init__(self, registry: str, *, insecure: Iterable[str] = (), credentials: Credentials | None = None,
                 concurrency: int = 8, retry: RetryPolicy | None = None, timeout: float = 30.0):
        self.registry = registry
        self.scheme = scheme_for(registry, insecure)
        self.base_url = f"{self.scheme}://{registry}"
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self.auth = Authenticator(registry, credentials)
        limits = httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2)
        self.http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout), limits=limits, verify=True)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._worker = threading.local()
        self._counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    @property
    def stats(self) -> dict[str, int]:
        with self._count_lock:
            return dict(self._counts)

    def reset_stats(self) -> None:
        with self._count_lock:
            self._counts.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.http.close()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items on the bounded worker pool, results in input order. Exceptions propagate."""
        items = list(items)
        # Inline when already on a worker: a nested pool.map could wait on itself with every worker busy.
        if len(items) <= 1 or self.concurrency == 1 or getattr(self._worker, "active", False):
            return [fn(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="registry")
        return list(self._pool.map(lambda item: self._on_worker(fn, item), items))

    def _on_worker(self, fn: Callable[[T], R], item: T) -> R:
        self._worker.active = True
        try:
            return fn(item)
        finally:
            self._worker.active = False

    def request(self, method: str, path: str, *, scope: str | None, headers: Mapping[str, str] | None = None,
                content: bytes | None = None, params: Mapping[str, str] | None = None,
                follow_redirects: bool = False) -> httpx.Response:
        """Send with auth and retries. Returns the final response whatever its status, except that
        auth failures raise AuthError and exhausted retries raise RegistryError."""
        started = time.monotonic()
        attempt = 0
        authenticated = False
        while True:
            attempt += 1
            send_headers = dict(headers or {})
            auth_header = self.auth.header(self.http, scope)
            if auth_header:
                send_headers["Authorization"] = auth_header
            problem: str
            retry_after: float | None = None
            try:
                response = self._send(method, path, send_headers, content, params, follow_redirects)
            except httpx.TransportError as exc:
                if _is_tls_failure(exc):
                    raise RegistryError(self._tls_message(exc)) from None
                problem = f"{type(exc).__name__}"
            else:
                if response.status_code == 401 and not authenticated:
                    authenticated = True
                    self.auth.on_challenge(self.http, response, scope)
                    attempt -= 1  # an auth round trip is not a failed try
                    continue
                if response.status_code in (401, 403) and (authenticated or auth_header):
                    raise self.auth.rejected(response.status_code)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            elapsed = time.monotonic() - started
            wait = self.retry.delay(attempt, retry_after)
            if attempt >= self.retry.attempts or elapsed + wait > self.retry.total:
                bound = (f"{attempt} attempts" if attempt >= self.retry.attempts
                         else f"the {self.retry.total:g}s retry budget")
                raise RegistryError(f"{method} {self.base_url}{path}: {problem}; gave up after {bound}",
                                    status=int(problem[5:]) if problem.startswith("HTTP ") else None)
            time.sleep(wait)

    def _send(self, method: str, path: str, headers: dict[str, str], content: bytes | None,
              params: Mapping[str, str] | None, follow_redirects: bool) -> httpx.Response:
        with self._count_lock:
            self._counts[method] += 1
        return self.http.request(method, path, headers=headers, content=content, params=params,
                                 follow_redirects=follow_redirects)

    def _tls_message(self, exc: BaseException) -> str:
        return (f"TLS connection to {self.registry} failed ({type(exc).__name__}). Plain HTTP is used only for "
                f"loopback registries or with --insecure-registry {self.registry}; a private CA goes in SSL_CERT_FILE")
