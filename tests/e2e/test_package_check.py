"""check_image / PackageChecker on the real engine, with images that have no package manager (fast)."""

from __future__ import annotations

import pytest

from lifecycle.packages import PackageChecker, check_image
from lifecycle.packages.check import NO_SHELL
from tests.fixtures.images import push_image

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def test_busybox_has_no_package_manager_and_a_pulled_image_is_removed_again(engine, registry, base_image):
    report = check_image(engine, base_image.pinned)
    assert report.family is None and report.error == "" and report.pending == []
    assert report.summary() == "no known package manager (no /etc/os-release)"
    client = registry.client()
    digest = push_image(client, "test/package-check", "noshell", labels={"k": "v"})
    pinned = f"{registry.host}/test/package-check@{digest}"
    assert engine.image_id(pinned) is None
    report = check_image(engine, pinned)
    assert report.os == NO_SHELL and report.family is None and not report.error
    assert engine.image_id(pinned) is None  # pulled for the check, removed after it
    client.close()


def test_checker_caches_by_digest(engine, registry, base_image):
    checker = PackageChecker(engine, concurrency=2)
    name = base_image.ref.rsplit(":", 1)[0]
    checker.check_many(name, [base_image.digest, base_image.digest])
    first = checker.cache[base_image.digest]
    assert list(checker.cache) == [base_image.digest]
    assert checker.check(name, base_image.digest) is first  # no second container
