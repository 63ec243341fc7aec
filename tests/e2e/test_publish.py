"""Publish to staging on the real engine and registry, with the sample repository."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from lifecycle.catalogue.catalog import split_immutable_tag
from lifecycle.build.labels import ImageLabels
from lifecycle.output import Reporter
from lifecycle.build.publish import publish
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES, VARIANT_A, VARIANT_B
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def run(sample, **kw):
    return publish(sample.root, None, channel="staging", client=sample.client, engine=sample.engine,
                   reporter=Reporter(), **kw)


def immutable_tags(sample, tagbase: str) -> set[str]:
    return {t for t in sample.tags() if (s := split_immutable_tag(t)) and s[0] == tagbase}


def test_publish_all_then_noop(sample, tmp_path):
    info_path = tmp_path / "image-info.json"
    report = run(sample, info_path=info_path)
    assert report.ok and sorted(report.by_status("published")) == sorted(TAGBASES)
    ws = Workspace.load(WorkTree(sample.root))
    head = subprocess.check_output(["git", "-C", str(sample.root), "rev-parse", "HEAD"], text=True).strip()
    for result in report.results:
        staging = sample.digest(f"{result.tagbase}-staging")
        assert staging == result.digest == sample.digest(result.immutable_tag)
        labels = ImageLabels.read(sample.client.config(sample.repository, staging).labels, ws.policy)
        assert labels.definition == ws.definitions[result.tagbase]
        assert labels.revision == head
        assert result.immutable_tag.endswith(head[:7])
    # base digests: external base for PARENT, the parent's pushed digest for CHILD, both for the multi-stage
    by = {r.tagbase: r for r in report.results}
    assert by[PARENT].base_digest == sample.base_digest
    assert by[CHILD].base_digest == by[PARENT].digest
    assert set(by[MULTISTAGE].bases.values()) == {by[CHILD].digest, sample.base_digest}
    written = json.loads(info_path.read_text())
    assert {i["tagbase"]: i["digest"] for i in written["images"]} == {r.tagbase: r.digest for r in report.results}
    # the staging image really runs its test
    ref = sample.names.ref(f"{CHILD}-staging")
    sample.engine.remove(ref)
    sample.engine.pull(ref)
    assert sample.engine.run_test(ref, "/usr/local/bin/tool --version").output.strip() == "tool 1.0"

    before = sample.tags()
    again = run(sample)
    assert again.ok and sorted(again.by_status("skipped")) == sorted(TAGBASES)
    assert sample.tags() == before


def test_parent_change_republishes_descendants_only(sample):
    first = {r.tagbase: r.digest for r in run(sample).results}
    sample.write("src/busybox/1.0/amd64/Dockerfile",
                 f"FROM {sample.names.base}\nRUN echo 'parent v2' > /etc/image-release\n")
    sample.commit("parent v2")
    second = run(sample)
    assert sorted(second.by_status("published")) == sorted([PARENT, CHILD, MULTISTAGE])
    assert second.by_status("skipped") == [SOLO, VARIANT_A, VARIANT_B]
    for tagbase in (PARENT, CHILD, MULTISTAGE):
        assert sample.digest(f"{tagbase}-staging") != first[tagbase]
    assert sample.digest(f"{SOLO}-staging") == first[SOLO]


def test_failing_test_blocks_image_and_descendants(sample):
    sample.write("manifests/images.yml", sample.root.joinpath("manifests/images.yml").read_text()
                 .replace('tests: ["test -f /etc/image-release", "grep -q parent /etc/image-release"]',
                          'tests: ["grep -q nothing-like-this /etc/image-release"]'))
    sample.commit("break the parent's test")
    before = sample.tags()
    done = sample.cli("publish", "--repo", str(sample.root), "--all")
    assert done.returncode == 1, done.stderr
    assert PARENT in done.stderr
    new = sample.tags() - before
    assert {t for t in new if t.startswith(SOLO)} == {f"{SOLO}-staging", *immutable_tags(sample, SOLO)}
    assert not [t for t in new if t.startswith(("busybox-1.0-amd64", CHILD, MULTISTAGE))]


def test_new_base_digest_and_age_trigger_republish(sample):
    first = {r.tagbase: r.digest for r in run(sample).results}
    sample.reseed_base("an OS patch")
    second = run(sample)
    # every image is built on the base (directly or through a parent): all republish
    assert sorted(second.by_status("published")) == sorted(TAGBASES)
    assert all(sample.digest(f"{t}-staging") != first[t] for t in TAGBASES)
    # nothing changes, but time passes beyond maxAgeDays: republish again
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    third = run(sample, now=lambda: later)
    assert sorted(third.by_status("published")) == sorted(TAGBASES)


def test_no_push_builds_and_tests_only(sample):
    report = run(sample, push=False)
    assert report.ok and sorted(report.by_status("built")) == sorted(TAGBASES)
    assert sample.tags() == set()


def test_matrix_legs_push_and_final_job_moves_staging(sample, tmp_path):
    leg_info = tmp_path / "legs" / "leg1" / "image-info.json"
    legs = run(sample, move=False, info_path=leg_info)
    assert legs.ok and sorted(legs.by_status("pushed")) == sorted(TAGBASES)
    assert not [t for t in sample.tags() if t.endswith("-staging")]
    merged = tmp_path / "image-info.json"
    done = sample.cli("publish", "--repo", str(sample.root), "--move-from", str(tmp_path / "legs"),
                      "--info", str(merged), "--output", "json")
    assert done.returncode == 0, done.stderr
    pushed = {r.tagbase: r.digest for r in legs.results}
    assert {t: sample.digest(f"{t}-staging") for t in TAGBASES} == pushed
    assert {i["tagbase"]: i["status"] for i in json.loads(merged.read_text())["images"]} == \
        {t: "published" for t in TAGBASES}
    # a corrupt image-info file is bad input: exit 2, nothing moves
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = sample.cli("publish", "--repo", str(sample.root), "--move-from", str(bad))
    assert done.returncode == 2 and "bad.json" in done.stderr
