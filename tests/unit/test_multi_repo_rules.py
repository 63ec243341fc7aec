"""A catalogue of several registry repositories, without a registry: tags are unique per repository, so
cleanup decides per repository and consumers classify and migrate a reference in the repository it names.
(tests/e2e/test_multi_repo.py runs every flow for real.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from types import SimpleNamespace

import pytest

from lifecycle.catalogue.catalog import parse_catalog

from lifecycle.catalogue.policy import parse_policy
from lifecycle.catalogue.repositories import by_repository, locate, tag_in
from lifecycle.cleanup.registry import check_plan_target
from lifecycle.cleanup.rules import Inventory, Usage, classify_tags, decide
from lifecycle.consumers.classify import KnownImages, classify_all
from lifecycle.consumers.migrate import plan_file
from lifecycle.consumers.references import Pattern, find_references
from lifecycle.consumers.scan import ScannedFile
from lifecycle.consumers.targets import Targets
from lifecycle.errors import InputError
from lifecycle.production.rollback import _branch
from lifecycle.registry.models import OCI_MANIFEST, Manifest

HOST = "reg.example"
CATALOG = f"""\
registry: {HOST}
repository: team/core
images:
  - tagBase: root-amd64
    dockerfile: src/root
    platform: {{os: linux, architecture: amd64}}
  - tagBase: root-amd64
    repository: team/apps
    dockerfile: src/other
    platform: {{os: linux, architecture: amd64}}
  - tagBase: app-1.0-amd64
    repository: team/apps
    dockerfile: src/app
    platform: {{os: linux, architecture: amd64}}
    endOfLife: 2026-01-01
  - tagBase: app-2.0-amd64
    repository: team/apps
    dockerfile: src/app2
    platform: {{os: linux, architecture: amd64}}
"""
POLICY = "approvedBases: ['*']\nlabelPrefix: com.example\nretention: {days: 90, keepLast: 1}\n"
NOW = dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)


def _manifest(name: str) -> Manifest:
    digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest,
                                 "size": 1}, "layers": []}).encode()
    return Manifest.from_bytes(raw, OCI_MANIFEST)


@pytest.fixture
def catalog():
    return parse_catalog(CATALOG)


def test_locate_names_the_repository_and_the_tag_as_pushed(catalog):
    assert locate(catalog, "root-amd64") == ("team/core", "root-amd64")
    assert locate(catalog, "team/apps:root-amd64") == ("team/apps", "root-amd64")
    assert tag_in(catalog, "team/apps:app-2.0-amd64", "latest") == ("team/apps", "app-2.0-amd64-latest")
    assert by_repository([("a", 1), ("b", 2), ("a", 3)]) == {"a": [1, 3], "b": [2]}


def test_cleanup_classifies_the_tags_of_one_repository_by_its_own_images(catalog):
    tags = ["root-amd64-20260101000000-abcdef0", "app-1.0-amd64-20260101000000-abcdef0", "app-1.0-amd64-latest"]
    core = classify_tags(tags, catalog, "team/core")
    apps = classify_tags(tags, catalog, "team/apps")
    assert core["root-amd64-20260101000000-abcdef0"].kind == apps["root-amd64-20260101000000-abcdef0"].kind == \
        "immutable"
    # app-1.0 is an image of team/apps only: the same tag in team/core belongs to no image of that repository
    assert core["app-1.0-amd64-20260101000000-abcdef0"].kind == "retired"
    assert apps["app-1.0-amd64-20260101000000-abcdef0"].kind == "immutable"
    assert (core["app-1.0-amd64-latest"].kind, apps["app-1.0-amd64-latest"].kind) == ("retired", "floating")


def test_a_plan_is_one_repository_and_applies_only_to_a_repository_of_the_catalogue(catalog):
    old, new = _manifest("old"), _manifest("new")
    inventory = Inventory({"root-amd64-20250101000000-abcdef0": old.digest,
                           "root-amd64-20261101000000-1234567": new.digest},
                          {old.digest: old, new.digest: new})
    plan = decide(inventory, catalog, parse_policy(POLICY), Usage(), NOW, "team/apps")
    assert plan.repository == "team/apps"
    assert [d.tags for d in plan.deletions] == [["root-amd64-20250101000000-abcdef0"]]
    check_plan_target(plan, catalog, "plan.json")   # another repository of this catalogue: accepted
    plan.repository = "team/elsewhere"
    with pytest.raises(InputError, match="team/elsewhere"):
        check_plan_target(plan, catalog, "plan.json")


def test_consumers_classify_and_migrate_a_reference_in_the_repository_it_names(catalog):
    known = KnownImages.from_catalog(catalog)
    assert known.names == ("team/core", "team/apps")
    text = (f"a: {HOST}/team/apps:root-amd64-20260101000000-abcdef0\n"
            f"b: {HOST}/team/core:root-amd64\n"
            f"c: {HOST}/team/apps:app-1.0-amd64\n"
            f"d: {HOST}/team/other:root-amd64\n")
    refs = find_references("x.txt", text, Pattern((HOST,), known.repository, known.names))
    assert [r.repository for r in refs] == ["team/apps", "team/core", "team/apps"]   # not team/other
    classified = classify_all(refs, known, today=NOW.date())
    assert [(c.form, c.klass, c.tagbase) for c in classified] == [
        ("pinned", "pinned", "team/apps:root-amd64"), ("bare", "bare", "root-amd64"),
        ("bare", "eol", "team/apps:app-1.0-amd64")]
    targets = Targets(known, today=NOW.date())
    change, skipped = plan_file(ScannedFile("x.txt", text, classified), None,
                                lambda c: targets.target(c, None), known.repository)
    assert not skipped and change is not None
    # each to -latest in its own repository; the end-of-life app to its successor, in that repository too
    assert change.new.decode() == (f"a: {HOST}/team/apps:root-amd64-latest\n"
                                     f"b: {HOST}/team/core:root-amd64-latest\n"
                                     f"c: {HOST}/team/apps:app-2.0-amd64-latest\n"
                                     f"d: {HOST}/team/other:root-amd64\n")


def test_a_rollback_branch_for_an_image_outside_the_default_repository_is_a_valid_ref_name():
    ops = SimpleNamespace(production="production")
    branch = _branch(ops, "pull-request", "team/apps:app-2.0-amd64", lambda: NOW)  # type: ignore[arg-type]
    assert branch == "rollback/team/apps/app-2.0-amd64-20261127000000"
    assert subprocess.run(["git", "check-ref-format", f"refs/heads/{branch}"]).returncode == 0
    assert subprocess.run(["git", "check-ref-format", "refs/heads/rollback/team/apps:app"]).returncode != 0
    assert _branch(ops, "push", "team/apps:app-2.0-amd64", lambda: NOW) == "production"  # type: ignore[arg-type]
