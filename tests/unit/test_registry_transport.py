import email.utils
import time

import pytest

from lifecycle.registry.models import Manifest, Platform
from lifecycle.registry.transport import RetryPolicy, is_loopback, parse_retry_after, scheme_for


@pytest.mark.parametrize("host, loop", [("127.0.0.1:5000", True), ("127.3.4.5", True), ("localhost:80", True),
                                        ("[::1]:5000", True), ("192.0.2.2:5000", False),
                                        ("myreg.azurecr.io", False), ("localhost.evil.io", False)])
def test_loopback(host, loop):
    assert is_loopback(host) is loop


def test_scheme():
    assert scheme_for("127.0.0.1:5000", ()) == "http"
    assert scheme_for("reg.lan:5000", ()) == "https"
    assert scheme_for("reg.lan:5000", ["reg.lan:5000"]) == "http"
    assert scheme_for("reg.lan:5000", ["reg.lan"]) == "http"
    assert scheme_for("reg.lan:5000", ["other.lan:5000"]) == "https"


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.0 < parse_retry_after(later) <= 5.0


def test_backoff_grows_capped_and_honours_retry_after():
    policy = RetryPolicy(attempts=6, backoff=0.5, max_backoff=2.0, total=30)
    assert [policy.delay(n, None) for n in range(1, 5)] == [0.5, 1.0, 2.0, 2.0]
    assert policy.delay(1, 4.0) == 4.0


def test_manifest_parsing_index_and_image():
    index = Manifest.from_bytes(b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
                                b'"manifests":[{"mediaType":"m","digest":"sha256:aa","size":3,'
                                b'"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}', None)
    assert index.is_index and index.children[0].platform == Platform("linux", "arm", "v7")
    assert str(index.children[0].platform) == "linux/arm/v7" and Platform.parse("linux/arm/v7").variant == "v7"
    image = Manifest.from_bytes(b'{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:bb","size":1},'
                                b'"layers":[]}', "application/vnd.oci.image.manifest.v1+json")
    assert not image.is_index and image.config.digest == "sha256:bb"


def test_map_keeps_order_and_nested_map_does_not_deadlock():
    from lifecycle.registry.transport import Transport

    transport = Transport("127.0.0.1:1", concurrency=2)
    try:
        assert transport.map(lambda i: i * 2, range(10)) == list(range(0, 20, 2))
        nested = transport.map(lambda i: sum(transport.map(lambda j: i * j, range(3))), range(6))
        assert nested == [i * 3 for i in range(6)]
    finally:
        transport.close()
