"""The weekly rollout end to end: a bare origin with main and production, clones, the real registry.

Publishes from main are synthetic images carrying the definition label (tests/fixtures/gitops_origin.py),
which is all a rollout looks at: it never builds. Every step asserts digests, tags, commits and files.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.production.journal import Journal
from lifecycle.production.reconcile import reconcile
from lifecycle.registry import ANONYMOUS, RegistryClient
from lifecycle.production.rollout import rollout
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES
from tests.fixtures.registry import TEST_RETRY
from tests.fixtures.gitops_origin import quiet

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
PARENT_DF = "src/busybox/1.0/amd64/Dockerfile"
SOLO_DIR = "src/busybox/1.0/solo/amd64"

pytestmark = pytest.mark.e2e



def solo(origin, version: str) -> dict[str, str]:
    return {SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", f"solo v{version}")}


def latest(client, origin, tagbase: str, suffix: str = "-latest") -> str | None:
    return client.try_resolve(origin.repository, tagbase + suffix)


def latest_all(client, origin) -> dict[str, str | None]:
    return {t: latest(client, origin, t) for t in TAGBASES}


def do_rollout(origin, client, **kwargs):
    return rollout(GitOps(origin.agent), client, quiet(), **kwargs)




@pytest.fixture
def v1(origin, client):
    """Main at c1 published to staging and rolled out: every latest is the v1 staging digest."""
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    staged = origin.publish_synthetic(client, c1)
    assert set(staged) == set(TAGBASES)
    result = do_rollout(origin, client)
    return c1, staged, result


def test_first_rollout_promotes_staging_and_merges(origin, client, v1, tmp_path):
    c1, staged, result = v1
    merge = origin.head("production")
    assert result.pushed and result.plan.merge == merge and result.plan.commit == c1
    assert origin.parents(merge) == [origin.initial, c1]
    assert origin.tree(merge) == origin.tree(c1)
    for tagbase in TAGBASES:
        assert latest(client, origin, tagbase) == staged[tagbase] == latest(client, origin, tagbase, "-staging")
        assert latest(client, origin, tagbase, "") == staged[tagbase]  # bareTagFollowsLatest
    message = origin.message(merge)
    assert message.splitlines()[0] == f"Roll out main@{c1[:7]} to production"
    for tagbase in TAGBASES:
        assert f"- {tagbase}: (none) -> {staged[tagbase]}" in message
    assert f"Lifecycle-Rollout-Of: {c1}" in message
    assert {e.tag: e.status for e in result.entries} == {**{f"{t}-latest": "moved" for t in TAGBASES},
                                                         **{t: "moved" for t in TAGBASES}}


def test_v2_promotes_only_the_changed_image_and_rerun_is_a_no_op(origin, client, v1, tmp_path):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    assert set(v2) == {SOLO}
    assert latest(client, origin, SOLO, "-staging") == v2[SOLO]
    assert latest(client, origin, SOLO) == v1_digests[SOLO]

    before = origin.head("production")
    dry = do_rollout(origin, client, dry_run=True)
    assert origin.head("production") == before and latest(client, origin, SOLO) == v1_digests[SOLO]
    assert dry.plan.merge and [c.image for c in dry.plan.moves()] == [SOLO, SOLO]

    client.reset_stats()
    journal_path = tmp_path / "journal.json"
    result = do_rollout(origin, client, journal_path=journal_path)
    assert client.stats.get("PUT", 0) == 2  # SOLO-latest and bare SOLO; no PUT for untouched images
    merge = origin.head("production")
    assert result.pushed and result.plan.merge == merge
    assert origin.parents(merge) == [before, c2] and origin.tree(merge) == origin.tree(c2)
    assert latest(client, origin, SOLO) == latest(client, origin, SOLO, "") == v2[SOLO]
    for tagbase in (PARENT, CHILD, MULTISTAGE):
        assert latest(client, origin, tagbase) == v1_digests[tagbase]
    journal = Journal.read(journal_path)
    assert journal.commit == merge and journal.main_commit == c2
    entry = journal.entry(f"{SOLO}-latest")
    assert (entry.previous, entry.new, entry.status) == (v1_digests[SOLO], v2[SOLO], "moved")
    assert journal.entry(f"{PARENT}-latest").status == "unchanged"
    assert f"- {SOLO}: {v1_digests[SOLO]} -> {v2[SOLO]}" in origin.message(merge)
    assert PARENT not in origin.message(merge).split("Promoted")[1].split("\n\n")[0]

    client.reset_stats()
    again = do_rollout(origin, client)
    assert again.plan.already and not again.pushed and origin.head("production") == merge
    assert client.stats.get("PUT", 0) == 0
    assert all(e.status == "unchanged" for e in again.entries)


def test_revert_reconcile_hold_then_fix_forward(origin, client, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    do_rollout(origin, client)
    merge2 = origin.head("production")
    v1_manifest = client.manifest(origin.repository, v1_digests[SOLO]).raw

    # FR reverts the rollout merge on production; the production pipeline reconciles
    origin.revert_on_production(merge2)
    tags_before = set(client.tags(origin.repository))
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok and not report.built
    assert latest(client, origin, SOLO) == v1_digests[SOLO]
    assert client.manifest(origin.repository, f"{SOLO}-latest").raw == v1_manifest  # byte for byte
    assert latest(client, origin, SOLO, "-staging") == v2[SOLO]
    assert set(client.tags(origin.repository)) == tags_before  # nothing rebuilt, nothing pushed

    # next week: main unchanged for SOLO, the parent chain has new versions: SOLO stays held at v1
    c3 = origin.commit({PARENT_DF: origin.show(c2, PARENT_DF).replace("parent v1", "parent v2")}, "parent v2")
    v3 = origin.publish_synthetic(client, c3)
    assert set(v3) == {PARENT, CHILD, MULTISTAGE}
    client.reset_stats()
    result = do_rollout(origin, client)
    merge3 = origin.head("production")
    assert set(result.plan.holds) == {SOLO}
    assert {e.tag for e in result.entries if e.status == "moved"} == {
        f"{t}{s}" for t in (PARENT, CHILD, MULTISTAGE) for s in ("-latest", "")}
    assert client.stats.get("PUT", 0) == 6
    assert latest(client, origin, SOLO) == v1_digests[SOLO]
    for tagbase in (PARENT, CHILD, MULTISTAGE):
        assert latest(client, origin, tagbase) == v3[tagbase]
    assert origin.tree(merge3, SOLO_DIR) == origin.tree(origin.initial, SOLO_DIR)
    assert f"- {SOLO}: reverted on production" in origin.message(merge3)
    assert any(r["image"] == SOLO and r["status"] == "held" for r in _rows(result))

    # main fixes forward, on the very lines production reverted: promoted, hold gone, main's tree exactly
    c4 = origin.commit(solo(origin, "3"), "solo v3")
    v4 = origin.publish_synthetic(client, c4)
    result = do_rollout(origin, client)
    merge4 = origin.head("production")
    assert result.plan.holds == {}
    assert latest(client, origin, SOLO) == v4[SOLO]
    assert origin.tree(merge4) == origin.tree(c4)
    assert "solo v3" in origin.show(merge4, SOLO_DF)


def _rows(result):
    from lifecycle.production.rollout import summary_rows

    return summary_rows(result)


def test_reverting_the_revert_lifts_the_hold(origin, client, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    do_rollout(origin, client)
    revert = origin.revert_on_production(origin.head("production"))
    reconcile(GitOps(origin.agent), client, quiet())
    assert latest(client, origin, SOLO) == v1_digests[SOLO]

    origin.revert_on_production(revert)
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok and latest(client, origin, SOLO) == v2[SOLO]
    c3 = origin.commit({"README.md": "later\n"}, "docs")
    result = do_rollout(origin, client)
    assert result.plan.holds == {} and result.plan.commit == c3
    assert latest(client, origin, SOLO) == v2[SOLO]
    assert origin.tree(origin.head("production")) == origin.tree(c3)


def test_main_moved_after_the_last_publish_promotes_the_previous_commit(origin, client, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    c3 = origin.commit(solo(origin, "3"), "solo v3")
    result = do_rollout(origin, client)
    assert result.plan.commit == c2
    assert [s.sha for s in result.plan.skipped] == [c3]
    assert SOLO in result.plan.skipped[0].reason and "not built yet" in result.plan.skipped[0].reason
    merge = origin.head("production")
    assert origin.parents(merge)[1] == c2
    assert latest(client, origin, SOLO) == v2[SOLO]
    assert c3[:10] in origin.message(merge) and "Newer main commits not promoted" in origin.message(merge)


def test_commit_option_without_lkg_fails_naming_the_images(origin, client, v1):
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    before = origin.head("production")
    with pytest.raises(OperationError, match=SOLO):
        do_rollout(origin, client, commit=c2)
    assert origin.head("production") == before


def test_interrupted_rollout_finishes_on_rerun(origin, client, registry, fault_proxy, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit({PARENT_DF: origin.show(c1, PARENT_DF).replace("parent v1", "parent v2"),
                        SOLO_DF: solo(origin, "2")[SOLO_DF]}, "parent v2, solo v2")
    staged = origin.publish_synthetic(client, c2)
    assert set(staged) == {PARENT, CHILD, MULTISTAGE, SOLO}
    flaky = RegistryClient(fault_proxy.host, credentials=ANONYMOUS, retry=TEST_RETRY)
    # every retry of these PUTs fails: half of the retags never land
    for tagbase in (CHILD, SOLO):
        fault_proxy.inject("503", times=TEST_RETRY.attempts, method="PUT", path=f"/manifests/{tagbase}-latest$")
    first = do_rollout(origin, flaky)
    flaky.close()
    assert not first.ok
    assert {e.tag for e in first.entries if e.status == "failed"} == {f"{CHILD}-latest", f"{SOLO}-latest"}
    merge = origin.head("production")
    assert origin.parents(merge)[1] == c2
    assert latest(client, origin, PARENT) == staged[PARENT] and latest(client, origin, SOLO) == v1_digests[SOLO]

    second = do_rollout(origin, client)
    assert second.ok and second.plan.already and origin.head("production") == merge
    assert {e.tag for e in second.entries if e.status == "moved"} == {f"{CHILD}-latest", f"{SOLO}-latest"}
    assert latest_all(client, origin) == {**v1_digests, **staged}
    assert {t: latest(client, origin, t, "") for t in TAGBASES} == {**v1_digests, **staged}


def test_two_rollouts_at_once_the_second_finds_the_first(origin, client, v1):
    c1, _, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)

    # another agent (another identity: the same one in the same second would write the very same commit)
    subprocess.run(["git", "-C", str(origin.dev), "config", "user.name", "Other agent"], check=True)

    class Racing(GitOps):
        raced = False

        def push(self, sha: str, branch: str) -> None:
            if not self.raced:  # the other rollout lands between our plan and our push
                self.raced = True
                rollout(GitOps(origin.dev), client, quiet())
            super().push(sha, branch)

    client.reset_stats()
    result = rollout(Racing(origin.agent), client, quiet())
    first_merge = origin.head("production")
    assert origin.parents(first_merge)[1] == c2
    assert result.plan.already and not result.pushed
    assert all(e.status == "unchanged" for e in result.entries)
    assert client.stats.get("PUT", 0) == 2  # only the other rollout's two retags
    assert latest(client, origin, SOLO) == v2[SOLO]
    assert len([c for c in origin.message(first_merge).splitlines() if c.startswith("Roll out")]) == 1


def test_production_moving_twice_fails_without_changing_a_tag(origin, client, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    origin.publish_synthetic(client, c2)

    class AlwaysLate(GitOps):
        def push(self, sha: str, branch: str) -> None:
            origin.revert_on_production(origin.head("production"))  # FR pushes between our fetch and push
            super().push(sha, branch)

    client.reset_stats()
    with pytest.raises(OperationError, match="moved again. No tag was changed"):
        rollout(AlwaysLate(origin.agent), client, quiet())
    assert client.stats.get("PUT", 0) == 0
    assert latest(client, origin, SOLO) == v1_digests[SOLO]
    assert "Revert" in origin.message(origin.head("production"))


def test_guard_refuses_foreign_commits_and_changes_nothing(origin, client, v1):
    c1, v1_digests, _ = v1
    origin.commit(solo(origin, "2"), "solo v2")
    origin.publish_synthetic(client, origin.head("main"))
    hotfix = origin.commit_on_production({"README.md": "hotfix\n"}, "hotfix on production")
    with pytest.raises(OperationError, match="neither merges from main nor reverts"):
        do_rollout(origin, client)
    assert origin.head("production") == hotfix
    assert latest(client, origin, SOLO) == v1_digests[SOLO]


def test_cli_rollout_dry_run_and_journal(origin, client, v1, tmp_path):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    before = origin.head("production")
    run = [sys.executable, "-m", "lifecycle", "rollout", "--repo", str(origin.agent)]
    dry = subprocess.run(run + ["--dry-run", "--output", "json"], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["dry_run"] and data["commit"] == c2 and not data["pushed"]
    assert {t["tag"]: t["status"] for t in data["journal"]["tags"]}[f"{SOLO}-latest"] == "would-move"
    assert origin.head("production") == before and latest(client, origin, SOLO) == v1_digests[SOLO]

    journal = tmp_path / "out" / "journal.json"
    done = subprocess.run(run + ["--journal", str(journal)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Journal:" in done.stdout and v2[SOLO] in done.stdout
    assert Journal.read(journal).entry(f"{SOLO}-latest").new == v2[SOLO]
    assert latest(client, origin, SOLO) == v2[SOLO]


def test_cli_lkg_names_images_without_one(origin, client, v1):
    c1, v1_digests, _ = v1
    c2 = origin.commit(solo(origin, "2"), "solo v2")
    subprocess.run(["git", "-C", str(origin.agent), "fetch", "-q", "origin"], check=True)
    run = subprocess.run([sys.executable, "-m", "lifecycle", "lkg", "--repo", str(origin.agent), "--commit", c2,
                          "--output", "json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = {r["image"]: r for r in json.loads(run.stdout)}
    assert {t: rows[t]["digest"] for t in (PARENT, CHILD, MULTISTAGE)} == {
        t: v1_digests[t] for t in (PARENT, CHILD, MULTISTAGE)}
    assert rows[SOLO]["digest"] is None and "no published digest with this definition" in rows[SOLO]["reason"]
    assert rows[SOLO]["definition"] == origin.workspace(c2).definitions[SOLO]
    assert SOLO not in run.stderr  # the JSON says it; printed once (issue 11 item 6)
