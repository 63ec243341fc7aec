"""The cleanup rules on synthetic inventories (no registry): what is a candidate, what keeps a digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from lifecycle.catalogue.catalog import Catalog, ImageSpec, Platform

from lifecycle.catalogue.policy import Policy
from lifecycle.cleanup.rules import (DELETE, KEEP, CleanupPlan, Inventory, Usage, classify_tags, decide, load_usage,
                               tags_needing_created)
from lifecycle.errors import InputError
from lifecycle.registry.models import OCI_INDEX, OCI_MANIFEST, Manifest

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
APP = "app-1.0-amd64"


def blob(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def image(name: str, layers: dict[str, int] | None = None) -> Manifest:
    layers = layers if layers is not None else {f"layer-{name}": 1000}
    data = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(f"cfg-{name}"),
                       "size": 10},
            "layers": [{"mediaType": "x", "digest": blob(k), "size": v} for k, v in layers.items()]}
    return Manifest.from_bytes(json.dumps(data).encode(), OCI_MANIFEST)


def index(children: list[Manifest]) -> Manifest:
    data = {"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": c.digest, "size": len(c.raw),
                           "platform": {"os": "linux", "architecture": "amd64"}} for c in children]}
    return Manifest.from_bytes(json.dumps(data).encode(), OCI_INDEX)


def imm(tagbase: str, days_ago: int, n: int = 0) -> str:
    when = NOW - dt.timedelta(days=days_ago)
    return f"{tagbase}-{when:%Y%m%d%H%M%S}-{n:07x}"


def catalog(*tagbases: str, shared: tuple[str, ...] = ()) -> Catalog:
    images = tuple(ImageSpec(t, "src/" + t.replace("-", "/"), Platform("linux", "amd64"), shared_tags=shared)
                   for t in tagbases)
    return Catalog("registry.test", "team/images", images)


def policy(**kw) -> Policy:
    return Policy(("*",), "org.test", retention_days=kw.get("retention", 180), keep_last=kw.get("keep_last", 2),
                  cleanup_exceptions=tuple(kw.get("exceptions", ())), retired_grace_days=kw.get("grace", 30))


class Repo:
    """A tiny in-memory registry repository: tag -> manifest."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.manifests: dict[str, Manifest] = {}
        self.created: dict[str, dt.datetime] = {}

    def push(self, tag: str | None, manifest: Manifest) -> str:
        self.manifests[manifest.digest] = manifest
        for child in manifest.children:
            assert child.digest in self.manifests
        if tag:
            self.tags[tag] = manifest.digest
        return manifest.digest

    def plan(self, cat: Catalog | None = None, pol: Policy | None = None, usage: Usage = Usage()) -> CleanupPlan:
        return decide(Inventory(self.tags, self.manifests, self.created), cat or catalog(APP), pol or policy(),
                      usage, NOW)


def deleted(plan: CleanupPlan) -> set[str]:
    return {x.digest for x in plan.deletions}


def test_old_immutable_tags_go_newest_n_stay_even_when_old():
    repo = Repo()
    digests = [repo.push(imm(APP, 400 - i), image(str(i))) for i in range(5)]
    plan = repo.plan()
    assert deleted(plan) == set(digests[:3])
    assert [x.digest for x in plan.deletions] == digests[:3]  # oldest first
    reasons = {d.tag: d.reason for d in plan.decisions}
    assert "newest 2" in reasons[imm(APP, 396)]
    assert plan.totals()["candidates"] == 3


def test_within_retention_is_kept_and_retention_boundary():
    repo = Repo()
    young = repo.push(imm(APP, 179), image("young"))
    old = repo.push(imm(APP, 181), image("old"))
    for i in range(2):
        repo.push(imm(APP, 1, i), image(f"new{i}"))
    assert deleted(repo.plan()) == {old}
    assert young not in deleted(repo.plan(pol=policy(retention=200)))
    assert deleted(repo.plan(pol=policy(retention=200))) == set()


def test_floating_tags_protect_shared_digest_and_every_tag_must_be_deletable():
    repo = Repo()
    shared = repo.push(imm(APP, 300), image("shared"))
    repo.tags[f"{APP}-latest"] = shared
    both_old = repo.push(imm(APP, 299), image("both-old"))
    repo.tags[imm(APP, 298)] = both_old
    young_too = repo.push(imm(APP, 297), image("young-too"))
    repo.tags[imm(APP, 10)] = young_too
    for i in range(2):
        repo.push(imm(APP, 1, i), image(f"new{i}"))
    plan = repo.plan()
    assert deleted(plan) == {both_old}
    assert next(x for x in plan.deletions).tags == sorted([imm(APP, 299), imm(APP, 298)])
    decision = {d.tag: d for d in plan.decisions}
    assert decision[imm(APP, 300)].candidate and decision[imm(APP, 300)].action == KEEP
    assert f"{APP}-latest" in decision[imm(APP, 300)].reason
    assert decision[imm(APP, 297)].action == KEEP


def test_bare_staging_and_shared_tags_are_floating():
    kinds = classify_tags([APP, f"{APP}-staging", f"{APP}-latest", "nightly", imm(APP, 5), "foo"],
                          catalog(APP, shared=("nightly",)))
    assert {t: k.kind for t, k in kinds.items()} == {
        APP: "floating", f"{APP}-staging": "floating", f"{APP}-latest": "floating", "nightly": "floating",
        imm(APP, 5): "immutable", "foo": "other"}


def test_floating_looking_tags_of_unknown_names_are_not_ours_to_delete():
    repo = Repo()
    theirs = repo.push("tools-latest", image("theirs"))
    repo.created[theirs] = NOW - dt.timedelta(days=900)
    retired = repo.push("centos-7-amd64-latest", image("retired"))
    repo.created[retired] = NOW - dt.timedelta(days=900)
    plan = repo.plan()
    assert deleted(plan) == {retired}
    assert {d.tag: d.kind for d in plan.decisions} == {"tools-latest": "other", "centos-7-amd64-latest": "retired"}


def test_exceptions_and_usage_tags_and_digests_keep():
    repo = Repo()
    exc = repo.push(imm(APP, 400, 1), image("exc"))
    used_tag = repo.push(imm(APP, 400, 2), image("used-tag"))
    used_digest = repo.push(imm(APP, 400, 3), image("used-digest"))
    gone = repo.push(imm(APP, 400, 4), image("gone"))
    for i in range(2):
        repo.push(imm(APP, 1, i), image(f"new{i}"))
    plan = repo.plan(pol=policy(exceptions=[f"{APP}-*-0000001"]),
                     usage=Usage(frozenset({imm(APP, 400, 2)}), frozenset({used_digest})))
    assert deleted(plan) == {gone}
    reasons = {d.digest: d.reason for d in plan.decisions}
    assert "exception" in reasons[exc] and "usage file" in reasons[used_tag] and "usage file" in reasons[used_digest]


def test_retired_tag_bases_go_after_grace_only():
    repo = Repo()
    old_imm = repo.push(imm("gone-1.0-amd64", 100), image("g1"))
    repo.tags["gone-1.0-amd64-latest"] = old_imm
    repo.tags["gone-1.0-amd64"] = old_imm
    recent = repo.push(imm("fresh-1.0-amd64", 10), image("f1"))
    older = repo.push(imm("fresh-1.0-amd64", 500), image("f0"))
    plan = repo.plan()
    assert deleted(plan) == {old_imm}
    assert sorted(plan.deletions[0].tags) == sorted([imm("gone-1.0-amd64", 100), "gone-1.0-amd64-latest",
                                                     "gone-1.0-amd64"])
    assert recent not in deleted(plan) and older not in deleted(plan)


def test_retired_without_immutable_tags_uses_config_created():
    repo = Repo()
    d = repo.push("lost-1.0-amd64-latest", image("lost"))
    assert tags_needing_created(repo.tags, catalog(APP)) == ["lost-1.0-amd64-latest"]
    assert deleted(repo.plan()) == set()  # age unknown: kept
    repo.created[d] = NOW - dt.timedelta(days=60)
    assert deleted(repo.plan()) == {d}
    repo.created[d] = NOW - dt.timedelta(days=5)
    assert deleted(repo.plan()) == set()


def test_index_children_follow_their_index():
    repo = Repo()
    kept_kids = [repo.push(None, image(f"k{i}")) for i in range(2)]
    kept = repo.push(imm(APP, 400, 1), index([repo.manifests[k] for k in kept_kids]))
    repo.tags[f"{APP}-latest"] = kept
    gone_kids = [repo.push(None, image(f"g{i}")) for i in range(2)]
    gone = repo.push(imm(APP, 400, 2), index([repo.manifests[k] for k in gone_kids]))
    shared_kid = repo.push(None, image("s"))
    other = repo.push(imm(APP, 400, 3), index([repo.manifests[shared_kid]]))
    repo.push(None, index([repo.manifests[shared_kid], repo.manifests[kept_kids[0]]]))  # an untagged index too
    for i in range(2):
        repo.push(imm(APP, 1, i), image(f"new{i}"))
    plan = repo.plan()
    assert deleted(plan) == {gone, other}
    by = {x.digest: x for x in plan.deletions}
    assert sorted(by[gone].children) == sorted(gone_kids)
    assert by[other].children == []  # another index names it too


def test_bytes_to_free_counts_unique_layers_no_kept_image_shares():
    repo = Repo()
    repo.push(imm(APP, 400, 1), image("a", {"base": 5000, "a-only": 300}))
    repo.push(imm(APP, 400, 2), image("b", {"base": 5000, "b-only": 70}))
    repo.push(imm(APP, 1, 1), image("n1", {"base": 5000, "n1": 1}))
    repo.push(imm(APP, 1, 2), image("n2", {"n2": 1}))
    plan = repo.plan()
    assert len(plan.deletions) == 2
    assert plan.bytes_to_free == 300 + 70 + 10 + 10  # two layers and two configs; "base" is still used


def test_a_locked_tag_is_never_planned_and_keeps_its_digest_and_plans_without_the_field_still_load(tmp_path):
    repo = Repo()
    old = [repo.push(imm(APP, 400 - i), image(f"old{i}")) for i in range(3)]
    repo.tags[imm(APP, 390, 1)] = old[1]                      # a second old tag on old[1]
    for i in range(2):
        repo.push(imm(APP, 1, i), image(f"new{i}"))
    locked = frozenset({imm(APP, 399)})                       # ACR deleteEnabled false on old[1]'s first tag
    plan = decide(Inventory(repo.tags, repo.manifests, repo.created, locked), catalog(APP), policy(), Usage(), NOW)
    assert deleted(plan) == {old[0], old[2]}
    by_tag = {d.tag: d for d in plan.decisions}
    assert by_tag[imm(APP, 399)].locked and by_tag[imm(APP, 399)].action == KEEP
    assert "locked" in by_tag[imm(APP, 399)].reason
    assert by_tag[imm(APP, 390, 1)].action == KEEP and "kept" in by_tag[imm(APP, 390, 1)].reason
    assert plan.totals()["locked"] == 1
    data = plan.to_dict()
    for row in data["tags"]:
        del row["locked"]                                     # a plan written before locks existed
    assert [d.locked for d in CleanupPlan.from_dict(data).decisions] == [False] * len(plan.decisions)


def test_plan_round_trips_through_json(tmp_path):
    repo = Repo()
    repo.push(imm(APP, 400), image("x"))
    plan = repo.plan(pol=policy(keep_last=1))
    assert plan.deletions == []  # the only tag is the newest
    repo.push(imm(APP, 1), image("y"))
    plan = repo.plan(pol=policy(keep_last=1))
    path = tmp_path / "plan.json"
    plan.write(path)
    again = CleanupPlan.load(path)
    assert again.to_dict() == plan.to_dict()
    assert again.deletions[0].tags == [imm(APP, 400)]
    assert [d.action for d in again.decisions] == [DELETE, KEEP]


def test_bad_plan_and_usage_files_are_input_errors(tmp_path):
    (tmp_path / "p.json").write_text('{"version": 99}')
    with pytest.raises(InputError, match="version 1"):
        CleanupPlan.load(tmp_path / "p.json")
    (tmp_path / "u.json").write_text("[1,")
    with pytest.raises(InputError, match="u.json:1"):
        load_usage(tmp_path / "u.json")
    (tmp_path / "u.json").write_text(json.dumps({"version": 1, "tags": ["t1"], "digests": [],
                                                 "references": [{"tag": "t2", "digest": None, "resolved": "sha256:x"}]}))
    usage = load_usage(tmp_path / "u.json")
    assert usage.tags == {"t1", "t2"} and usage.digests == {"sha256:x"}
