"""The provenance gate (policy `requireProvenance: true`) on the real registry and git: rollout holds an image
whose new digest's provenance is tampered, signed by another key, missing or about another definition, and
moves the rest (the status page, opened in a headless browser, says why and how the hold lifts); reconcile
leaves such tags where they are; the emergency rollback needs --allow-unverified.
Images are synthetic (tests/fixtures/gitops_origin.py); their provenance is signed with keys made at test time.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lifecycle.catalogue.floating import FLOATING_PATH
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.production.journal import Journal
from lifecycle.production.reconcile import reconcile
from lifecycle.production.rollback import emergency
from lifecycle.production.rollout import rollout, summary_rows
from lifecycle.registry import referrers
from lifecycle.registry.pool import RegistryPool
from lifecycle.output import short_digest
from lifecycle.status.collect import collect_status
from lifecycle.status.next_step import LIFT_PROVENANCE
from lifecycle.status.render_html import write_page
from lifecycle.sample import SOLO, TAGBASES, VARIANT_A, VARIANT_B
from lifecycle.supplychain import provenance
from lifecycle.supplychain.records import RecordWriter, envelope
from lifecycle.supplychain.signing import load_signer
from tests.e2e.test_floating_rollout import FLOAT, floating_yml
from tests.fixtures.browser import save, visible_images
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
VARIANT_DF = "src/busybox/1.0/variant/Dockerfile"


def attest(client, origin, sha: str, digests: dict[str, str], key, *, case: str = "good") -> None:
    """What publish attaches, for synthetic images: provenance signed with `key` (or broken per `case`)."""
    ws = origin.workspace(sha)
    writer = RecordWriter(client, origin.repository, f"{origin.registry}/{origin.repository}", "file:///src", sha)
    for tagbase, digest in digests.items():
        if case == "missing":
            continue
        definition = "sha256:" + "0" * 64 if case == "other-definition" else ws.definitions[tagbase]
        statement = provenance.statement(writer.facts(digest, definition, platform="linux/amd64", bases={},
                                                      build_args={}, tests_passed=()))
        body = envelope(statement, load_signer(f"file:{key}"))
        if case == "tampered":
            document = json.loads(body)
            forged = json.loads(provenance.encode(statement))
            forged["predicate"]["buildDefinition"]["externalParameters"]["buildArgs"] = {"EVIL": "1"}
            document["payload"] = base64.b64encode(provenance.encode(forged)).decode()
            body = json.dumps(document).encode()
        referrers.attach(client, origin.repository, digest, provenance.ARTIFACT_TYPE, body, provenance.ARTIFACT_TYPE)


def latest(client, origin, tagbase: str) -> str | None:
    return client.try_resolve(origin.repository, f"{tagbase}-latest")


@pytest.fixture
def gated(gitops_origin, registry, client, signing_keys):
    """requireProvenance on, keys/release.pub trusted, main@c1 published with good provenance and rolled out."""
    origin = gitops_origin(registry.host)
    public = signing_keys["trusted"][1].read_text()
    policy = origin.show(origin.initial, "manifests/policy.yml") + "requireProvenance: true\n"
    c1 = origin.commit({"manifests/policy.yml": policy, "keys/release.pub": public}, "require provenance")
    v1 = origin.publish_synthetic(client, c1)
    attest(client, origin, c1, v1, signing_keys["trusted"][0])
    first = rollout(GitOps(origin.agent), client, quiet())
    assert not first.plan.holds and {t: latest(client, origin, t) for t in TAGBASES} == v1
    return origin, v1


def rollout_with_solo_failing(gated, client, signing_keys, case: str):
    """main@c2 changes SOLO and the variants; the variants' provenance is good, SOLO's fails per `case`;
    then the weekly rollout."""
    origin, v1 = gated
    c2 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2"),
                        VARIANT_DF: origin.show(origin.initial, VARIANT_DF) + "RUN echo v2\n"}, "solo and variants v2")
    v2 = origin.publish_synthetic(client, c2)
    assert set(v2) == {SOLO, VARIANT_A, VARIANT_B}
    attest(client, origin, c2, {t: d for t, d in v2.items() if t != SOLO}, signing_keys["trusted"][0])
    attest(client, origin, c2, {SOLO: v2[SOLO]}, signing_keys["stranger" if case == "other-key" else "trusted"][0],
           case=case)
    return v2, rollout(GitOps(origin.agent), client, quiet())


def status_now(origin):
    ops = GitOps(origin.agent)
    ops.fetch()
    with RegistryPool() as pool:
        return collect_status(ops, pool, cleanup=False)


@pytest.mark.parametrize("case", ["tampered", "other-key", "missing", "other-definition"])
def test_rollout_holds_the_image_whose_provenance_fails_and_moves_the_rest(case, gated, client, signing_keys):
    origin, v1 = gated
    v2, result = rollout_with_solo_failing(gated, client, signing_keys, case)
    expected = {"tampered": "does not verify", "other-key": "does not verify", "missing": "has no provenance",
                "other-definition": "names definition sha256:0000000"}[case]
    assert list(result.plan.holds) == [SOLO]
    assert result.plan.holds[SOLO].reason.startswith("provenance: ") and expected in result.plan.holds[SOLO].reason
    assert latest(client, origin, SOLO) == v1[SOLO]
    assert latest(client, origin, VARIANT_A) == v2[VARIANT_A] and latest(client, origin, VARIANT_B) == v2[VARIANT_B]
    # the hold is the usual one: production keeps SOLO's v1 files, the report and the journal say why
    merge = origin.head("production")
    assert "solo v1" in origin.show(merge, SOLO_DF) and origin.show(merge, VARIANT_DF).endswith("RUN echo v2\n")
    rows = {r["image"]: r for r in summary_rows(result)}
    assert rows[SOLO]["status"] == "held" and expected in rows[SOLO]["note"]
    assert {h["image"]: expected in h["reason"] for h in result.journal.holds} == {SOLO: True}
    assert expected in origin.message(merge)
    # the status page shows the hold the next rollout will make again, with the same reason
    shown = {i.tagbase: i for i in status_now(origin).images}
    assert shown[SOLO].hold and expected in shown[SOLO].hold and shown[SOLO].lkg_digest == v1[SOLO]
    assert shown[VARIANT_A].hold is None


def test_the_status_page_shows_a_provenance_hold_and_how_it_lifts_in_a_browser(gated, client, signing_keys,
                                                                                browser, tmp_path):
    """What the person on call opens: the held row says why and that no revert lifts it."""
    origin, v1 = gated
    v2, result = rollout_with_solo_failing(gated, client, signing_keys, "other-key")
    assert list(result.plan.holds) == [SOLO]
    page = tmp_path / "status.html"
    write_page(status_now(origin), page)

    browser.get(page.as_uri())
    badges = {r.get_attribute("data-image"): r.find_element(By.CSS_SELECTOR, "td .badge").text
              for r in browser.find_elements(By.CSS_SELECTOR, "#fleet tr.image-row")}
    assert badges[SOLO].endswith("held"), badges
    assert not any(b.endswith("held") for t, b in badges.items() if t != SOLO), badges
    step = browser.find_element(By.CSS_SELECTOR, f"tr.image-row[data-image='{SOLO}'] td.step").text
    assert step.startswith(f"held: provenance: the provenance of {short_digest(v2[SOLO])} does not verify against "
                           "keys/*.pub"), step
    assert step.endswith(LIFT_PROVENANCE) and "reverting the revert" not in step, step

    row = browser.find_element(By.CSS_SELECTOR, f"tr.image-row[data-image='{SOLO}']")
    toggle = row.find_element(By.CSS_SELECTOR, "button.toggle")
    toggle.send_keys(Keys.ENTER)
    detail = browser.find_element(By.ID, toggle.get_attribute("aria-controls"))
    assert detail.is_displayed()
    note = detail.find_element(By.CSS_SELECTOR, ".hold-reason")
    assert note.find_element(By.CSS_SELECTOR, ".reason").text == result.plan.holds[SOLO].reason
    assert not note.find_elements(By.CSS_SELECTOR, ".revert"), "no revert commit holds it"
    # -latest is still v1 on the page, as in the registry
    assert short_digest(v1[SOLO]) in detail.text and latest(client, origin, SOLO) == v1[SOLO]

    box = browser.find_element(By.ID, "filter")
    box.send_keys("provenance")  # the hold reason is searchable
    assert visible_images(browser) == [SOLO]
    save(browser, tmp_path / "status-provenance-hold.png", full=True)


def test_a_floating_tag_whose_new_target_fails_the_gate_keeps_productions_entry(gated, client):
    """The floating tag is held like an image: production keeps its floating.yml entry, so production and
    the registry agree, and the reconcile that the rollout's push starts has nothing to refuse."""
    origin, v1 = gated
    policy = origin.show("main", "manifests/policy.yml") + (
        'floatingTags: {evaluationDays: 0, stabilityDays: 0}\ndotnetVersions:\n  "9.0": {endOfLife: 2030-06-30}\n')
    origin.commit({FLOATING_PATH: floating_yml(SOLO), "manifests/policy.yml": policy}, "a floating tag on solo")
    assert rollout(GitOps(origin.agent), client, quiet()).ok
    assert client.try_resolve(origin.repository, FLOAT) == v1[SOLO]
    # variant a's -latest serves a digest whose provenance has since gone: not a move for the image itself,
    # but a move for the floating tag
    referrers.delete_referrers(client, origin.repository, v1[VARIANT_A])
    origin.commit({FLOATING_PATH: floating_yml(VARIANT_A)}, "the floating tag moves to variant a")

    moved = rollout(GitOps(origin.agent), client, quiet())
    hold = moved.plan.floating_holds[FLOAT]
    assert hold.reason == f"provenance: {short_digest(v1[VARIANT_A])} has no provenance", hold
    assert (hold.serving, hold.wanted) == (SOLO, VARIANT_A) and not moved.plan.holds
    assert client.try_resolve(origin.repository, FLOAT) == v1[SOLO]
    assert origin.show(origin.head("production"), FLOATING_PATH) == floating_yml(SOLO)
    shown = status_now(origin).floating_holds
    assert [(h.tag, h.reason) for h in shown] == [(FLOAT, hold.reason)]
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok and not report.holds and client.try_resolve(origin.repository, FLOAT) == v1[SOLO]


def test_reconcile_leaves_tags_whose_new_digest_fails_the_gate(gated, client):
    origin, v1 = gated
    production = origin.head("production")
    # a newer digest of SOLO's production definition, without provenance: the LKG walk prefers it
    newer = origin.publish_synthetic(client, production, [SOLO])[SOLO]
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert list(report.holds) == [SOLO] and "has no provenance" in report.holds[SOLO].reason
    assert report.lkgs[SOLO].digest == newer != v1[SOLO]
    assert latest(client, origin, SOLO) == v1[SOLO]
    assert client.try_resolve(origin.repository, SOLO) == v1[SOLO]
    assert report.journal is not None and report.journal.holds[0]["image"] == SOLO


@pytest.mark.parametrize("signer", ["trusted", "stranger"])
def test_a_definition_reconcile_builds_moves_only_when_its_provenance_verifies(signer, gated, client, engine,
                                                                              base_image, signing_keys):
    """A revert to a definition never published: reconcile builds it from production (the real engine, as
    production's pipeline runs it), and the gate checks what it built like any other digest."""
    origin, v1 = gated
    policy = origin.show("main", "manifests/policy.yml") + f"signing:\n  key: file:{signing_keys[signer][0]}\n"
    c2 = origin.commit({"manifests/policy.yml": policy,
                        SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    c3 = origin.commit({SOLO_DF: origin.show(c2, SOLO_DF).replace("solo v2", "solo v3")}, "solo v3")
    v3 = origin.publish_synthetic(client, c3)   # solo v2 is never published
    assert set(v3) == {SOLO}
    attest(client, origin, c3, v3, signing_keys["trusted"][0])
    rollout(GitOps(origin.agent), client, quiet())
    assert latest(client, origin, SOLO) == v3[SOLO]
    revert = origin.revert_on_production(c3)    # back to solo v2: no digest has it

    run = subprocess.run([sys.executable, "-m", "lifecycle", "reconcile", "--channel", "latest", "--repo",
                          str(origin.agent), "--output", "json"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "DOCKER_HOST": engine.base_url})
    report = json.loads(run.stdout)
    assert report["commit"] == revert and report["built"] == [SOLO], run.stderr
    built = [t for t in client.tags(origin.repository) if t.startswith(f"{SOLO}-") and revert[:7] in t]
    assert len(built) == 1, built
    digest = client.resolve(origin.repository, built[0])
    if signer == "trusted":
        assert run.returncode == 0, run.stderr
        assert report["holds"] == [] and latest(client, origin, SOLO) == digest != v3[SOLO]
        assert client.try_resolve(origin.repository, SOLO) == digest
        return
    assert run.returncode == 1, run.stdout
    assert f"held, tags left where they are: {SOLO} (provenance: the provenance of {short_digest(digest)} does not " \
           "verify against keys/*.pub" in run.stderr and "--allow-unverified" in run.stderr, run.stderr
    assert [h["image"] for h in report["holds"]] == [SOLO]
    assert latest(client, origin, SOLO) == v3[SOLO] and client.try_resolve(origin.repository, SOLO) == v3[SOLO]
    assert not [t for t in report["tags"] if t["status"] == "moved"], report["tags"]


def test_emergency_rollback_to_an_unverified_digest_needs_allow_unverified(gated, client, signing_keys, tmp_path):
    origin, v1 = gated
    c2 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    attest(client, origin, c2, v2, signing_keys["trusted"][0])
    moved = rollout(GitOps(origin.agent), client, quiet(), journal_path=tmp_path / "journal.json")
    assert latest(client, origin, SOLO) == v2[SOLO]
    referrers.delete_referrers(client, origin.repository, v1[SOLO])   # v1's provenance is gone
    ws = origin.workspace(origin.head("production"))
    journal = Journal.read(tmp_path / "journal.json")
    with pytest.raises(OperationError, match="has no provenance.*--allow-unverified"):
        emergency(ws, client, SOLO, journal=journal, journal_name="journal.json")
    assert latest(client, origin, SOLO) == v2[SOLO]
    done = emergency(ws, client, SOLO, journal=journal, journal_name="journal.json", allow_unverified=True)
    assert done.ok and "has no provenance" in done.unverified
    assert latest(client, origin, SOLO) == v1[SOLO]
    assert moved.ok
