"""Engine pushes and pulls, retried like registry calls.

The engine talks to the registry itself, and podman gives up on the first 429/5xx answer (it retries a
cut connection, not a status): one busy moment of the registry would fail an image's publish, and a
re-run under the same fault rate keeps failing. So a push or pull whose error is a registry's transient
answer is tried again with the registry client's policy (lifecycle.registry.transport.RetryPolicy:
attempts, backoff, total time). Both are harmless to repeat: a push sends content-addressed blobs (the
registry skips those it has) and one manifest, a pull by digest fetches exactly that image.

An error that says the input is wrong (unknown manifest, denied, no such host) is not retried, nor is a
refused connection: nothing listens there (a wrong host or port, a registry that is down), and the engine
has already retried connecting on its own.
"""

from __future__ import annotations

import re
import time
from typing import Callable, TypeVar

from lifecycle.errors import OperationError
from lifecycle.registry.transport import RETRY_STATUSES, RetryPolicy

T = TypeVar("T")

_STATUSES = "|".join(str(s) for s in sorted(RETRY_STATUSES))
# How podman and Docker word a registry's transient answer: "received unexpected HTTP status: 503 Service
# Unavailable", "invalid status code from registry 503 (Service Unavailable)", "toomanyrequests: ...", or a
# connection that broke off ("connection reset by peer", "unexpected EOF", "i/o timeout").
TRANSIENT = re.compile(
    rf"(HTTP status:? |status code from registry |status code |\bHTTP )({_STATUSES})\b"
    rf"|\b({_STATUSES}) (Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)"
    r"|toomanyrequests|connection reset by peer|broken pipe|unexpected EOF|: EOF\b"
    r"|i/o timeout|TLS handshake timeout|server misbehaving|Client\.Timeout",
    re.IGNORECASE)


def is_transient(message: str) -> bool:
    return bool(TRANSIENT.search(message))


def retried(action: Callable[[], T], policy: RetryPolicy, *, note: Callable[[str], None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> T:
    """`action()`, tried again after a transient OperationError, as the registry client would: at most
    `policy.attempts` tries, the backoff doubling, no retry starting past `policy.total` seconds."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except OperationError as exc:
            message = str(exc)
            if not is_transient(message):
                raise
            wait = policy.delay(attempt, None)
            if attempt >= policy.attempts or time.monotonic() - started + wait > policy.total:
                bound = (f"{attempt} attempts" if attempt >= policy.attempts
                         else f"the {policy.total:g}s retry budget")
                raise OperationError(f"{message} (gave up after {bound})") from exc
            if note is not None:
                note(f"{message.splitlines()[0]}; trying again in {wait:g}s ({attempt + 1} of {policy.attempts})")
            sleep(wait)
