"""Which engine errors are a registry's transient answer, and how they are retried (no engine needed:
the retried action is a plain function; the engine through a fault proxy is tests/e2e/test_engine_retry.py)."""

from __future__ import annotations

import pytest

from lifecycle.build.engine_retry import is_transient, retried
from lifecycle.errors import InputError, OperationError
from lifecycle.registry.transport import RetryPolicy

POLICY = RetryPolicy(attempts=4, backoff=0.5, max_backoff=1.0, total=60.0)


@pytest.mark.parametrize("message", [
    "push of r/x:1 failed: writing manifest: uploading manifest 1 to r/x: received unexpected HTTP status: "
    "503 Service Unavailable",
    "pull of r/x@sha256:ab failed: parsing image configuration: Error fetching blob: invalid status code from "
    "registry 503 (Service Unavailable)",
    "push of r/x:1 failed: toomanyrequests: retry later",
    "push of r/x:1 failed: 502 Bad Gateway",
    "pull of r/x@sha256:ab failed: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer",
    "pull of r/x@sha256:ab failed: Get \"http://r/v2/\": EOF",
])
def test_transient_answers(message):
    assert is_transient(message)


@pytest.mark.parametrize("message", [
    "pull of r/x@sha256:00 failed: reading manifest sha256:00 in r/x: manifest unknown",
    "push of r/x:1 failed: requested access to the resource is denied",
    "push of r/x-503:1 failed: unauthorized: authentication required",
    "pull of r/x@sha256:5035035030 failed: name unknown",
    "push of 127.0.0.1:1/x:1 failed: pinging container registry 127.0.0.1:1: Get \"http://127.0.0.1:1/v2/\": "
    "dial tcp 127.0.0.1:1: connect: connection refused",
])
def test_lasting_answers(message):
    assert not is_transient(message)


def test_a_transient_failure_is_retried_with_the_registry_backoff():
    calls, waits, notes = [], [], []

    def action() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationError("push of r/x:1 failed: received unexpected HTTP status: 503 Service Unavailable")
        return "sha256:done"

    assert retried(action, POLICY, note=notes.append, sleep=waits.append) == "sha256:done"
    assert len(calls) == 3 and waits == [0.5, 1.0]
    assert notes[0].endswith("trying again in 0.5s (2 of 4)")


def test_it_gives_up_after_the_policy_attempts_saying_so():
    waits: list[float] = []

    def action() -> None:
        raise OperationError("pull of r/x@sha256:ab failed: 504 Gateway Timeout")

    with pytest.raises(OperationError, match=r"504 Gateway Timeout \(gave up after 4 attempts\)"):
        retried(action, POLICY, sleep=waits.append)
    assert waits == [0.5, 1.0, 1.0]


def test_a_lasting_failure_is_raised_at_once():
    calls = []

    def action() -> None:
        calls.append(1)
        raise OperationError("pull of r/x@sha256:00 failed: manifest unknown")

    with pytest.raises(OperationError, match="manifest unknown$"):
        retried(action, POLICY, sleep=lambda s: pytest.fail("no wait expected"))
    assert len(calls) == 1
    with pytest.raises(InputError):   # not an operation failure at all: not retried either
        retried(lambda: (_ for _ in ()).throw(InputError("bad")), POLICY)
