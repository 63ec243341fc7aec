"""`lifecycle cleanup` against the real registry, with images whose build dates span two years."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.images import push_image, push_multiplatform
from tests.fixtures.lifecycle_repo import gitops_repo, policy_yaml, run_cli

pytestmark = pytest.mark.e2e

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
APP, LIB, RETIRED, RECENT_RETIRED = "app-1.0-amd64", "lib-1.0-amd64", "old-1.0-amd64", "gone-1.0-amd64"
DOCKERFILES = {APP: "FROM 127.0.0.1:1/base/os:1\n", LIB: "FROM 127.0.0.1:1/base/os:1\n"}


def imm(tagbase: str, when: dt.datetime) -> str:
    sha = hashlib.sha1(f"{tagbase}{when}".encode()).hexdigest()[:7]
    return f"{tagbase}-{when:%Y%m%d%H%M%S}-{sha}"


@dataclass
class Scenario:
    repo: str
    client: object
    delete: set[str] = field(default_factory=set)        # digests that must go
    keep: set[str] = field(default_factory=set)          # digests that must stay (and pull)
    kept_tags: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)   # tag -> digest as pushed
    usage_tags: list[str] = field(default_factory=list)
    usage_digests: list[str] = field(default_factory=list)

    def image(self, tag: str, when: dt.datetime, keep: bool) -> str:
        digest = push_image(self.client, self.repo, tag, created=when, labels={"tag": tag})
        self.note(tag, digest, keep)
        return digest

    def note(self, tag: str, digest: str, keep: bool) -> None:
        self.tags[tag] = digest
        (self.keep if keep else self.delete).add(digest)
        if keep:
            self.kept_tags.add(tag)


def app_build(i: int) -> dt.datetime:
    return dt.datetime(2024, 12, 1, tzinfo=UTC) + dt.timedelta(days=30 * i)   # i <= 18: older than 180 days


def build_scenario(client, repo: str) -> Scenario:
    s = Scenario(repo, client)
    special = {3, 5, 7, 8, 9, 11, 12, 20}
    for i in range(24):
        if i not in special:
            s.image(imm(APP, app_build(i)), app_build(i), keep=i > 18)
    # an old index that -latest points at: kept with its children
    idx3, kids3 = push_multiplatform(client, repo, imm(APP, app_build(3)), created=app_build(3), labels={"i": "3"})
    client.retag(repo, idx3, f"{APP}-latest")
    s.note(imm(APP, app_build(3)), idx3, True)
    s.note(f"{APP}-latest", idx3, True)
    s.keep |= set(kids3.values())
    # an old index nobody keeps: deleted, and its children with it
    idx5, kids5 = push_multiplatform(client, repo, imm(APP, app_build(5)), created=app_build(5), labels={"i": "5"})
    s.note(imm(APP, app_build(5)), idx5, False)
    s.delete |= set(kids5.values())
    # in use by tag, in use by digest, exception pattern
    s.image(imm(APP, app_build(7)), app_build(7), keep=True)
    s.usage_tags.append(imm(APP, app_build(7)))
    s.usage_digests.append(s.image(imm(APP, app_build(8)), app_build(8), keep=True))
    s.image(imm(APP, app_build(9)), app_build(9), keep=True)
    # two old tags on one digest: goes once
    d10 = s.tags[imm(APP, app_build(10))]
    client.retag(repo, d10, imm(APP, app_build(11)))
    s.note(imm(APP, app_build(11)), d10, False)
    # an old digest that a recent immutable tag also names: kept
    d12 = s.image(imm(APP, app_build(12)), app_build(12), keep=True)
    client.retag(repo, d12, imm(APP, app_build(20)))
    s.note(imm(APP, app_build(20)), d12, True)
    s.kept_tags.add(imm(APP, app_build(12)))
    staging = s.tags[imm(APP, app_build(23))]
    client.retag(repo, staging, f"{APP}-staging")
    s.note(f"{APP}-staging", staging, True)
    # keepLast 2 on a tag base whose builds are all old
    for month in (1, 2, 3, 4):
        when = dt.datetime(2025, month, 10, tzinfo=UTC)
        s.image(imm(LIB, when), when, keep=month > 2)
    # a retired tag base past the grace period: every tag goes, -latest included
    for month in (1, 2):
        when = dt.datetime(2025, month, 5, tzinfo=UTC)
        s.image(imm(RETIRED, when), when, keep=False)
    client.retag(repo, s.tags[imm(RETIRED, dt.datetime(2025, 2, 5, tzinfo=UTC))], f"{RETIRED}-latest")
    s.note(f"{RETIRED}-latest", s.tags[imm(RETIRED, dt.datetime(2025, 2, 5, tzinfo=UTC))], False)
    # a retired tag base still within grace (newest build 10 days ago): all kept
    s.image(imm(RECENT_RETIRED, dt.datetime(2025, 1, 1, tzinfo=UTC)), dt.datetime(2025, 1, 1, tzinfo=UTC), True)
    s.image(imm(RECENT_RETIRED, NOW - dt.timedelta(days=10)), NOW - dt.timedelta(days=10), True)
    # a tag this catalogue does not manage
    s.image("random-tag", dt.datetime(2024, 6, 1, tzinfo=UTC), keep=True)
    assert not (s.keep & s.delete), "scenario bug: a digest both kept and deleted"
    return s


def write_usage(path: Path, s: Scenario) -> Path:
    path.write_text(json.dumps({"version": 1, "tags": s.usage_tags, "digests": s.usage_digests, "references": []}))
    return path


def blob_sizes(client, repo: str, digest: str) -> dict[str, int]:
    m = client.manifest(repo, digest)
    out = {d.digest: d.size for d in m.layers}
    if m.config:
        out[m.config.digest] = m.config.size
    for child in m.children:
        out.update(blob_sizes(client, repo, child.digest))
    return out


def pulls(client, repo: str, digest: str) -> bool:
    m = client.manifest(repo, digest)
    if m.children:
        return all(pulls(client, repo, c.digest) for c in m.children)
    return all(client.blob(repo, d.digest) is not None for d in [m.config, *m.layers])


@pytest.fixture
def scenario(registry, unique_repo, tmp_path):
    client = registry.client()
    s = build_scenario(client, unique_repo)
    exceptions = (f"{APP}-{app_build(9):%Y%m%d}*",)
    repo = gitops_repo(tmp_path, registry.host, unique_repo, DOCKERFILES, policy=policy_yaml(exceptions=exceptions))
    yield s, repo, write_usage(tmp_path / "usage.json", s)
    client.close()


def test_dry_run_plans_exactly_and_deletes_nothing_then_apply_deletes_exactly(scenario, capsys, tmp_path):
    s, repo, usage = scenario
    client = s.client
    before = set(client.tags(s.repo))
    expected_bytes = {}
    for digest in s.delete:
        expected_bytes.update(blob_sizes(client, s.repo, digest))
    kept_blobs = {}
    for digest in s.keep:
        kept_blobs.update(blob_sizes(client, s.repo, digest))
    plan_file = tmp_path / "plan.json"
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage), "--now", NOW.isoformat(),
                             "--plan-file", str(plan_file), "--output", "json")
    assert code == 0, err
    assert set(client.tags(s.repo)) == before, "a dry run deleted something"
    plan = json.loads(plan_file.read_text())
    top = {d for d in s.delete if d in s.tags.values()}
    assert {x["digest"] for x in plan["deletions"]} == top
    assert {c for x in plan["deletions"] for c in x["children"]} == s.delete - top
    assert plan["totals"]["bytesToFree"] == sum(v for k, v in expected_bytes.items() if k not in kept_blobs) > 0
    by_tag = {d["tag"]: d for d in plan["tags"]}
    assert "usage file" in by_tag[imm(APP, app_build(7))]["reason"] and by_tag[imm(APP, app_build(7))]["candidate"]
    assert "exception" in by_tag[imm(APP, app_build(9))]["reason"]
    assert f"{APP}-latest" in by_tag[imm(APP, app_build(3))]["reason"]
    assert by_tag[f"{RETIRED}-latest"]["action"] == "delete"
    assert json.loads(out)["mode"] == "dry run"

    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage), "--now", NOW.isoformat(),
                             "--apply")
    assert code == 0, err
    for digest in s.delete:
        assert client.try_resolve(s.repo, digest) is None, f"{digest} should be deleted"
    for digest in s.keep:
        assert client.resolve(s.repo, digest) == digest
        assert pulls(client, s.repo, digest)
    assert set(client.tags(s.repo)) == s.kept_tags
    # a second run finds nothing more to delete
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage), "--now", NOW.isoformat(),
                             "--apply", "--output", "json")
    assert code == 0 and json.loads(out)["plan"]["deletions"] == []


def test_from_plan_skips_tags_moved_since_the_plan(scenario, capsys, tmp_path):
    s, repo, usage = scenario
    client = s.client
    plan_file = tmp_path / "plan.json"
    code, _, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage), "--now", NOW.isoformat(),
                           "--plan-file", str(plan_file))
    assert code == 0, err
    # between review and apply: an old tag is re-pushed with new content, and -staging moves onto a doomed digest
    moved_tag = imm(APP, app_build(13))
    old13 = s.tags[moved_tag]
    new13 = push_image(client, s.repo, moved_tag, created=NOW, labels={"rebuilt": "yes"})
    doomed14 = s.tags[imm(APP, app_build(14))]
    client.retag(s.repo, doomed14, f"{APP}-staging")
    # and a doomed tag is moved onto another doomed digest: both digests stay
    doomed15, doomed16 = s.tags[imm(APP, app_build(15))], s.tags[imm(APP, app_build(16))]
    client.retag(s.repo, doomed16, imm(APP, app_build(15)))
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage),
                             "--from-plan", str(plan_file), "--apply", "--output", "json")
    assert code == 0, err
    outcomes = {o["digest"]: o for o in json.loads(out)["outcomes"]}
    assert outcomes[old13]["status"] == "skipped" and "moved" in outcomes[old13]["detail"]
    assert outcomes[doomed14]["status"] == "skipped"
    assert outcomes[doomed15]["status"] == outcomes[doomed16]["status"] == "skipped"
    assert "moved onto it" in outcomes[doomed16]["detail"]
    assert client.resolve(s.repo, moved_tag) == new13
    assert client.resolve(s.repo, imm(APP, app_build(15))) == doomed16
    for digest in (old13, doomed14, doomed15, doomed16):
        assert client.resolve(s.repo, digest) == digest
    for digest in s.delete - {old13, doomed14, doomed15, doomed16}:
        assert client.try_resolve(s.repo, digest) is None
    for digest in s.keep - {s.tags[f"{APP}-staging"]}:
        assert client.resolve(s.repo, digest) == digest


def test_max_deletions_caps_a_run_oldest_first(scenario, capsys):
    s, repo, usage = scenario
    client = s.client
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--usage", str(usage), "--now", NOW.isoformat(),
                             "--apply", "--max-deletions", "2", "--output", "json")
    assert code == 0, err
    result = json.loads(out)
    deleted = [o["digest"] for o in result["outcomes"] if o["status"] == "deleted"]
    assert deleted == [x["digest"] for x in result["plan"]["deletions"][:2]]
    gone = {d for d in s.delete if client.try_resolve(s.repo, d) is None}
    assert gone == set(deleted)
    assert sum(o["status"] == "capped" for o in result["outcomes"]) == len(result["plan"]["deletions"]) - 2


@pytest.mark.parametrize("policy,needle", [
    (policy_yaml(retention=30), "retention/days"),
    (policy_yaml(exceptions=("app-[1.0*",)), "unbalanced"),
])
def test_bad_policy_exits_2_and_deletes_nothing(registry, unique_repo, tmp_path, capsys, policy, needle):
    s = Scenario(unique_repo, registry.client())
    for year in (2023, 2024):  # old enough for any retention
        s.image(imm(APP, dt.datetime(year, 1, 1, tzinfo=UTC)), dt.datetime(year, 1, 1, tzinfo=UTC), keep=False)
    s.image(imm(APP, dt.datetime(2026, 11, 1, tzinfo=UTC)), dt.datetime(2026, 11, 1, tzinfo=UTC), keep=True)
    repo = gitops_repo(tmp_path, registry.host, unique_repo, DOCKERFILES, policy=policy_yaml(keep_last=1))
    (repo / "manifests/policy.yml").write_text(policy)
    before = {t: s.client.resolve(s.repo, t) for t in s.client.tags(s.repo)}
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--now", NOW.isoformat(), "--apply")
    assert code == 2
    assert re.search(r"manifests/policy\.yml:\d+", err) and needle in err, err
    assert {t: s.client.resolve(s.repo, t) for t in s.client.tags(s.repo)} == before


def test_planning_reads_each_tag_once_and_each_digest_once(scenario, registry):
    from lifecycle.cleanup.registry import read_inventory
    from lifecycle.catalogue.catalog import parse_catalog

    s, repo, usage = scenario
    catalog = parse_catalog((repo / "manifests/images.yml").read_text())
    with registry.client() as client:
        inventory = read_inventory(client, s.repo, catalog)
        stats = client.stats
    manifests = len(inventory.manifests)            # tagged digests and index children
    assert inventory.tags == {t: d for t, d in s.tags.items()}
    assert stats.get("HEAD") == len(s.tags)          # tag -> digest, one HEAD each
    assert stats.get("GET") == 2 + manifests         # ACR listing probe (absent), tag list, a read per digest
    assert set(stats) == {"HEAD", "GET"}


def test_planning_follows_tag_list_pagination(scenario):
    from lifecycle.catalogue.catalog import parse_catalog
    from lifecycle.cleanup.registry import read_inventory
    from lifecycle.registry import ANONYMOUS, RegistryClient
    from tests.fixtures.faultproxy import FaultProxy
    from tests.fixtures.registry import TEST_RETRY

    s, repo, usage = scenario
    catalog = parse_catalog((repo / "manifests/images.yml").read_text())
    with FaultProxy(s.client.registry, paginate_tags=True) as proxy, \
            RegistryClient(proxy.host, credentials=ANONYMOUS, retry=TEST_RETRY) as client:
        inventory = read_inventory(client, s.repo, catalog, page_size=10)
        pages = sum(1 for m, path, _ in proxy.log if m == "GET" and "/tags/list" in path)
    assert inventory.tags == s.tags
    assert pages == -(-len(s.tags) // 10)


def test_a_failed_delete_is_reported_and_a_rerun_finishes(registry, unique_repo, tmp_path):
    from lifecycle.cleanup.rules import Usage, decide
    from lifecycle.cleanup.registry import apply_plan, load_manifests, read_inventory
    from lifecycle.registry import ANONYMOUS, RegistryClient
    from tests.fixtures.faultproxy import FaultProxy
    from tests.fixtures.registry import TEST_RETRY

    s = Scenario(unique_repo, registry.client())
    for year in (2022, 2023, 2024):
        s.image(imm(APP, dt.datetime(year, 1, 1, tzinfo=UTC)), dt.datetime(year, 1, 1, tzinfo=UTC), keep=False)
    s.image(imm(APP, dt.datetime(2026, 11, 1, tzinfo=UTC)), dt.datetime(2026, 11, 1, tzinfo=UTC), keep=True)
    with FaultProxy(registry.host) as proxy, \
            RegistryClient(proxy.host, credentials=ANONYMOUS, retry=TEST_RETRY) as client:
        repo = gitops_repo(tmp_path, proxy.host, unique_repo, DOCKERFILES, policy=policy_yaml(keep_last=1))
        catalog, policy = load_manifests(repo)
        plan = decide(read_inventory(client, unique_repo, catalog), catalog, policy, Usage(), NOW)
        assert {x.digest for x in plan.deletions} == s.delete
        proxy.inject("503", times=TEST_RETRY.attempts, method="DELETE")   # the first delete fails for good
        first = apply_plan(client, plan, policy, Usage())
        assert [o.status for o in first] == ["failed", "deleted", "deleted"]
        assert "503" in first[0].detail
        again = apply_plan(client, plan, policy, Usage())
        assert [o.status for o in again] == ["deleted", "skipped", "skipped"]
        assert all("gone" in o.detail for o in again[1:])
    for digest in s.delete:
        assert s.client.try_resolve(unique_repo, digest) is None
    assert s.client.tags(unique_repo) == sorted(s.kept_tags)
