"""Retries through a misbehaving proxy in front of the real registry; TLS/plain-HTTP policy."""

import time

import pytest

from lifecycle.errors import OperationError
from lifecycle.registry import RegistryClient, RegistryError, RetryPolicy
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.images import push_image, push_multiplatform

pytestmark = pytest.mark.e2e
FAST = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2, total=10.0)


def via(proxy: FaultProxy, **kwargs) -> RegistryClient:
    kwargs.setdefault("retry", FAST)
    return RegistryClient(proxy.host, **kwargs)


def test_429_with_retry_after_is_honoured(registry, fault_proxy, unique_repo):
    with registry.client() as direct:
        digest = push_image(direct, unique_repo, "v1")
    fault_proxy.inject("429", times=2, retry_after=1)
    with via(fault_proxy) as client:
        started = time.monotonic()
        assert client.resolve(unique_repo, "v1") == digest
        elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 5.0  # two waits of Retry-After: 1, not the 0.05s backoff
    assert [o for _, _, o in fault_proxy.log] == ["429", "429", "forwarded 200"]


@pytest.mark.parametrize("kind", ["503", "502", "504", "drop"])
def test_transient_faults_on_every_retag_put_then_success(registry, fault_proxy, unique_repo, kind):
    with registry.client() as direct:
        index, _ = push_multiplatform(direct, unique_repo, "src")
    fault_proxy.inject(kind, times=2, method="PUT")
    with via(fault_proxy) as client:
        results = client.retag_many(unique_repo, [("src", "a"), ("src", "b"), ("src", "c")])
    assert [(r.status, r.digest) for r in results] == [("moved", index)] * 3
    assert fault_proxy.count("PUT", kind) == 2 and fault_proxy.count("PUT", "forwarded 201") == 3
    with registry.client() as direct:
        assert [direct.resolve(unique_repo, t) for t in "abc"] == [index] * 3


def test_timeout_then_success(registry, fault_proxy, unique_repo):
    with registry.client() as direct:
        digest = push_image(direct, unique_repo, "v1")
    fault_proxy.inject("delay", times=1, delay=2.5, then_drop=True)
    with via(fault_proxy, timeout=1.0) as client:
        assert client.manifest(unique_repo, "v1").digest == digest
    assert [o for _, _, o in fault_proxy.log] == ["delay", "forwarded 200"]


def test_past_retry_bound_clear_error_and_plan_changes_nothing(registry, fault_proxy, unique_repo):
    with registry.client() as direct:
        push_image(direct, unique_repo, "src")
    fault_proxy.inject("503", times=10, method="GET", path="/manifests/src")
    with via(fault_proxy) as client:
        with pytest.raises(OperationError, match="(?s)before changing anything.*HTTP 503; gave up after 4 attempts"):
            client.retag_many(unique_repo, [("src", "x"), ("src", "y")])
    assert fault_proxy.count("GET", "503") == 4 and fault_proxy.count("PUT") == 0
    with registry.client() as direct:
        assert direct.tags(unique_repo) == ["src"]


def test_put_failing_past_bound_reports_failed_and_rerun_finishes(registry, fault_proxy, unique_repo):
    with registry.client() as direct:
        digest = push_image(direct, unique_repo, "src")
    fault_proxy.inject("drop", times=4, method="PUT", path="/manifests/b$")
    with via(fault_proxy) as client:
        first = {r.tag: r for r in client.retag_many(unique_repo, [("src", t) for t in "abc"])}
        assert {t: r.status for t, r in first.items()} == {"a": "moved", "b": "failed", "c": "moved"}
        assert "gave up after 4 attempts" in first["b"].error and first["b"].digest is None
        assert client.try_resolve(unique_repo, "b") is None
        second = {r.tag: r.status for r in client.retag_many(unique_repo, [("src", t) for t in "abc"])}
    assert second == {"a": "unchanged", "b": "moved", "c": "unchanged"}
    with registry.client() as direct:
        assert direct.resolve(unique_repo, "b") == digest


def test_total_time_bound(registry, fault_proxy, unique_repo):
    fault_proxy.inject("429", times=5, retry_after=30)
    with via(fault_proxy, retry=RetryPolicy(attempts=10, backoff=0.05, total=5.0)) as client:
        started = time.monotonic()
        with pytest.raises(RegistryError, match="HTTP 429; gave up after the 5s retry budget"):
            client.resolve(unique_repo, "v1")
    assert time.monotonic() - started < 1.0  # did not sleep 30s first
    assert fault_proxy.requests == 1


def test_plain_http_refused_for_non_loopback_unless_insecure(registry, unique_repo):
    import socket

    address = socket.gethostbyname(socket.gethostname())
    if address.startswith("127."):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent; picks the outbound interface address
            address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    with registry.client() as direct:
        digest = push_image(direct, unique_repo, "v1")
    with FaultProxy(registry.host, bind=address) as proxy:
        with via(proxy) as client:
            assert client.transport.scheme == "https"
            with pytest.raises(RegistryError, match=f"TLS connection to {proxy.host} failed.*--insecure-registry"):
                client.resolve(unique_repo, "v1")
        assert proxy.requests == 0  # nothing was sent in clear text
        with via(proxy, insecure=[proxy.host]) as client:
            assert client.resolve(unique_repo, "v1") == digest
