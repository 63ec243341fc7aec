"""Reliability sweep, corrupt inputs: every verb that reads a broken file exits 2 naming the file (and the
line where there is one) and changes nothing: the registry's tags and the git branches are as before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lifecycle.sample import CHILD, PARENT, SOLO, TAGBASES
from tests.fixtures.gitops_origin import git
from tests.fixtures.lifecycle_repo import run_cli

pytestmark = pytest.mark.e2e


def snapshot(origin, client) -> tuple[dict[str, str], dict[str, str]]:
    """(tag -> digest in the registry, ref -> sha of every git ref in the bare origin and the agent clone)."""
    tags = {t: client.resolve(origin.repository, t) for t in client.tags(origin.repository)}
    refs = {}
    for name, repo in (("origin", origin.bare), ("agent", origin.agent)):
        for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
            ref, sha = line.split()
            refs[f"{name}:{ref}"] = sha
        if name == "agent":
            refs["agent:HEAD"] = git(repo, "rev-parse", "HEAD").strip()
    return tags, refs


def cut(text: str, marker: str, keep: int) -> str:
    """`text` truncated `keep` characters into the first `marker`: a file whose write was interrupted."""
    at = text.index(marker)
    return text[:at + keep]


@pytest.fixture
def world(gitops_origin, registry, engine, monkeypatch):
    """A published GitOps origin (synthetic images, -staging and -latest set) and its agent clone."""
    origin = gitops_origin(registry.host)
    client = registry.client()
    pushed = origin.publish_synthetic(client, origin.initial)
    for tagbase, digest in pushed.items():
        client.retag(origin.repository, digest, f"{tagbase}-latest")
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)  # in case a verb got as far as the engine (it must not)
    yield origin, client
    client.close()


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


CATALOG = "manifests/images.yml"
POLICY = "manifests/policy.yml"


def corrupt_catalog_truncated(agent: Path) -> tuple[str, int | None]:
    text = (agent / CATALOG).read_text()
    # cut inside a flow mapping: a YAML syntax error, not just a shorter list
    broken = cut(text, "platform: {os: linux", len("platform: {os: lin"))
    (agent / CATALOG).write_text(broken)
    return CATALOG, broken.count("\n") + 1   # the parser stops at the end of the stream: the last line


def corrupt_policy_truncated(agent: Path) -> tuple[str, int | None]:
    text = (agent / POLICY).read_text()
    broken = cut(text, '- "', 8)   # an unterminated quoted pattern
    (agent / POLICY).write_text(broken)
    return POLICY, broken.count("\n") + 1


def corrupt_no_from(agent: Path) -> tuple[str, int | None]:
    path = "src/busybox/1.0/solo/amd64/Dockerfile"
    (agent / path).write_text("# FROM was lost in an edit\nRUN echo solo > /etc/solo-release\n")
    return path, None


def corrupt_missing_folder(agent: Path) -> tuple[str, int | None]:
    # a new entry whose folder was never committed (the Dockerfile stayed on someone's disk)
    text = (agent / CATALOG).read_text() + ("  - tagBase: busybox-1.0-extra-amd64\n"
                                            "    dockerfile: src/busybox/1.0/extra/amd64\n"
                                            "    platform: {os: linux, architecture: amd64}\n")
    (agent / CATALOG).write_text(text)
    return CATALOG, line_of(text, "tagBase: busybox-1.0-extra-amd64")


CATALOGUE_CASES = {
    "truncated-images.yml": corrupt_catalog_truncated,
    "truncated-policy.yml": corrupt_policy_truncated,
    "dockerfile-without-from": corrupt_no_from,
    "catalogue-entry-missing-folder": corrupt_missing_folder,
}
VERBS = {
    "validate": ("validate", "--no-pipelines"),
    "publish": ("publish", "--channel", "staging", "--all"),
    "publish-images": ("publish", "--channel", "staging", "--images", SOLO),
    "cleanup": ("cleanup", "--apply"),
    "stale": ("stale", "--channel", "latest"),
    "emergency": ("rollback", "--image", SOLO, "--emergency"),
}


def assert_input_error(code: int, err: str, name: str, line: int | None) -> None:
    assert code == 2, err
    assert name in err, err
    if line is not None:
        assert re.search(rf"{re.escape(name)}:{line}\b", err), err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(CATALOGUE_CASES))
def test_corrupt_catalogue_exit_2_and_nothing_changed(world, capsys, case):
    origin, client = world
    agent = origin.agent
    name, line = CATALOGUE_CASES[case](agent)
    before = snapshot(origin, client)
    for verb, args in VERBS.items():
        if case in ("dockerfile-without-from", "catalogue-entry-missing-folder") and verb == "cleanup":
            continue  # cleanup reads only the catalogue's names and the policy, never src/: not its input
        code, out, err = run_cli(capsys, *args, "--repo", str(agent))
        assert code == 2, f"{verb}: {code} {out} {err}"
        # validate lists its problems once, in its table on stdout; the other verbs stop with the error
        assert_input_error(code, out + err if verb == "validate" else err, name, line)
        assert snapshot(origin, client) == before, f"{verb} changed something"


def test_image_info_not_json(world, capsys, tmp_path):
    origin, client = world
    bad = tmp_path / "artifacts" / "leg1" / "image-info.json"
    bad.parent.mkdir(parents=True)
    good = {"channel": "staging", "registry": origin.registry, "repository": origin.repository, "images": []}
    bad.write_text(json.dumps(good, indent=2)[:40])   # the upload stopped half-way
    before = snapshot(origin, client)
    for source in (bad, bad.parent.parent):           # the file, and the artifact folder holding it
        code, _, err = run_cli(capsys, "publish", "--channel", "staging", "--move-from", str(source),
                               "--info", str(tmp_path / "merged.json"), "--repo", str(origin.agent))
        assert_input_error(code, err, str(bad), None)
        assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: not JSON", err), err
    assert not (tmp_path / "merged.json").exists()
    assert snapshot(origin, client) == before


def test_journal_not_json(world, capsys, tmp_path):
    origin, client = world
    # move SOLO's latest once so an emergency rollback would have something to do
    newer = origin.publish_synthetic(client, origin.initial, [SOLO])[SOLO]
    client.retag(origin.repository, newer, f"{SOLO}-latest")
    journal = tmp_path / "journal.json"
    journal.write_text('{"kind": "rollout", "commit": "abc", "tags": [{"tag": "x-latest", "ima')
    before = snapshot(origin, client)
    for extra in ((), ("--dry-run",)):
        code, _, err = run_cli(capsys, "rollback", "--image", SOLO, "--emergency", "--journal", str(journal),
                               "--repo", str(origin.agent), *extra)
        assert_input_error(code, err, str(journal), 1)
    assert snapshot(origin, client) == before
    assert client.resolve(origin.repository, f"{SOLO}-latest") == newer


def test_truncated_cleanup_plan(world, capsys, tmp_path):
    origin, client = world
    # old immutable tags so that the plan has deletions
    for _ in range(3):
        origin.publish_synthetic(client, origin.initial, [PARENT, CHILD])
    plan = tmp_path / "plan.json"
    code, _, err = run_cli(capsys, "cleanup", "--plan-file", str(plan), "--now", "2027-12-01T00:00:00Z",
                           "--repo", str(origin.agent))
    assert code == 0, err
    assert json.loads(plan.read_text())["deletions"], "the plan must delete something for this test to mean much"
    full = plan.read_text()
    before = snapshot(origin, client)
    for size in (len(full) // 2, len(full) - 3, 0):
        plan.write_text(full[:size])
        code, _, err = run_cli(capsys, "cleanup", "--from-plan", str(plan), "--repo", str(origin.agent))
        assert_input_error(code, err, str(plan), None)
        assert snapshot(origin, client) == before
    # a plan that is JSON but not a plan (a journal given by mistake)
    plan.write_text(json.dumps({"kind": "rollout", "commit": "x", "tags": []}))
    code, _, err = run_cli(capsys, "cleanup", "--from-plan", str(plan), "--repo", str(origin.agent))
    assert_input_error(code, err, str(plan), None)
    assert snapshot(origin, client) == before


def test_rollout_of_a_truncated_catalogue_on_main(world, capsys):
    """Main's newest commit carries a truncated images.yml: the rollout stops before any change, naming
    the file and the commit, instead of promoting (or half-promoting) it."""
    origin, client = world
    text = origin.show(origin.initial, CATALOG)
    bad = origin.commit({CATALOG: cut(text, "platform: {os: linux", len("platform: {os: lin"))}, "oops")
    before = snapshot(origin, client)
    code, out, err = run_cli(capsys, "rollout", "--repo", str(origin.agent), "--commit", bad)
    assert code == 2, out + err
    assert CATALOG in err and "Traceback" not in err, err
    after = snapshot(origin, client)
    assert after[0] == before[0]
    assert {k: v for k, v in after[1].items() if "refs/remotes" not in k} == \
        {k: v for k, v in before[1].items() if "refs/remotes" not in k}   # the fetch may update remote refs only
    # the weekly walk skips the broken commit, naming why; production keeps what it has
    code, out, err = run_cli(capsys, "rollout", "--repo", str(origin.agent))
    assert code == 0, out + err
    assert bad[:10] in out and CATALOG in out, out
    assert origin.head("production") == before[1]["origin:refs/heads/production"]
    tags = snapshot(origin, client)[0]
    assert {t: d for t, d in tags.items() if t in before[0]} == before[0]
    # what it may add is production's own plan: the bare tags following -latest (bareTagFollowsLatest)
    assert {t: d for t, d in tags.items() if t not in before[0]} == {t: before[0][f"{t}-latest"] for t in TAGBASES}
