"""The engine's pushes and pulls through a fault proxy: a registry's 503 costs a retry, not the publish
(issue 11 item 12). Both engines (podman and Docker Engine) give up on a 503 to a push's manifest PUT and to a
pull's manifest GET; lifecycle.build.engine_retry tries again, and with it both survive. (An earlier version
of this test pulled an image the engine still had: Docker then never asked the registry, which looked like
Docker retrying by itself.)"""

from __future__ import annotations

import os
import secrets

import pytest

from lifecycle.errors import OperationError
from lifecycle.build.localbase import build_base_image
from lifecycle.output import Reporter
from lifecycle.build.publish import publish
from lifecycle.registry import RegistryClient, RetryPolicy
from lifecycle.sample import SOLO, SampleNames, write_sample
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.registry import ENGINE_PORTS, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture
def engine_proxy(registry):
    """A fault proxy the engine can reach (its port is in registries.conf's plain-HTTP range)."""
    proxy = FaultProxy(registry.host, port=free_port(ENGINE_PORTS)).start()
    yield proxy
    proxy.stop()


def test_one_broken_push_and_one_broken_pull_are_retried(engine, engine_proxy, registry, unique_repo, monkeypatch):
    # an image of its own (built and pushed elsewhere), so that removing its one name here removes it and each
    # pull below must fetch it
    ref = f"{engine_proxy.host}/{unique_repo}:pushed"
    source = f"{registry.host}/{unique_repo}-source:1"
    build_base_image(engine, source, marker=f"engine retry {secrets.token_hex(8)}")
    engine.tag(source, ref)
    engine.remove(source)
    direct = registry.client()
    pinned = None
    try:
        # without retries the same fault fails the push: it is the engine's answer, not the proxy's quirk
        monkeypatch.setattr(engine, "retry", NO_RETRY)
        engine_proxy.inject("503", times=1, method="PUT", path=r"/manifests/pushed$")
        with pytest.raises(OperationError, match="push of .* failed: .*503"):
            engine.push(ref)
        assert direct.try_resolve(unique_repo, "pushed") is None
        monkeypatch.undo()

        engine_proxy.reset()
        engine_proxy.inject("503", times=1, method="PUT", path=r"/manifests/pushed$")
        digest = engine.push(ref)
        assert engine_proxy.pending == 0 and engine_proxy.count("PUT", "503") == 1
        assert direct.resolve(unique_repo, "pushed") == digest
        image_id = engine.image_id(ref)

        pinned = f"{engine_proxy.host}/{unique_repo}@{digest}"
        engine.remove(ref)
        assert engine.image_id(pinned) is None
        monkeypatch.setattr(engine, "retry", NO_RETRY)
        engine_proxy.reset()
        engine_proxy.inject("503", times=1, method="GET", path=rf"/{unique_repo}/manifests/")
        with pytest.raises(OperationError, match="pull of .* failed: .*503"):
            engine.pull(pinned)
        monkeypatch.undo()

        # with lifecycle's retry both engines survive it
        engine_proxy.reset()
        engine_proxy.inject("503", times=1, method="GET", path=rf"/{unique_repo}/manifests/")
        engine.pull(pinned)
        assert engine_proxy.pending == 0 and engine_proxy.count("GET", "503") == 1
        assert engine.image_id(pinned) == image_id
    finally:
        for name in (ref, pinned):
            if name:
                engine.remove(name)
        direct.close()


def test_publish_survives_a_broken_push_and_a_broken_pull(engine, engine_proxy, registry, tmp_path, request):
    names = SampleNames(engine_proxy.host, repository=f"retry-{os.getpid()}-{request.node.name[-6:]}/prereqs",
                        base_repository=f"retry-{os.getpid()}/base")
    base_digest = build_base_image(engine, names.base, marker=f"engine retry base {secrets.token_hex(8)}")
    engine.remove(names.base)   # in the registry only: publish must pull it
    assert engine.image_id(f"{names.base.rsplit(':', 1)[0]}@{base_digest}") is None
    root = write_sample(tmp_path / "repo", names)
    # the engine's pull of SOLO's base by digest, and its push of SOLO's immutable tag: one 503 each
    engine_proxy.reset()
    engine_proxy.inject("503", times=1, method="GET", path=rf"/{names.base_repository}/manifests/sha256:")
    engine_proxy.inject("503", times=1, method="PUT", path=rf"/manifests/{SOLO}-\d{{14}}-")
    with RegistryClient(engine_proxy.host) as client, registry.client() as direct:
        report = publish(root, [SOLO], channel="staging", client=client, engine=engine, reporter=Reporter())
        assert report.ok, [(r.tagbase, r.status, r.reason) for r in report.results]
        assert engine_proxy.pending == 0, engine_proxy.log
        assert engine_proxy.count("GET", "503") == engine_proxy.count("PUT", "503") == 1
        (result,) = [r for r in report.results if r.tagbase == SOLO]
        assert result.status == "published" and result.immutable_tag
        assert direct.resolve(names.repository, result.immutable_tag) == result.digest
        assert direct.resolve(names.repository, f"{SOLO}-staging") == result.digest
