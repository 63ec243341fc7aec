"""End of life through the registry (issue 24): `retire` marks every published digest of the image with the
end-of-life referrer, and `consumers scan` classifies a reference to such a digest as eol from that record."""

from __future__ import annotations

import datetime as dt
import json

import git
import pytest

from lifecycle.supplychain.eol import attach_eol, eol_date
from tests.e2e.test_consumers import EXPECTED, IMAGES, _expected_class, _setup
from tests.fixtures.consumers import run_lifecycle
from tests.fixtures.images import push_image
from tests.fixtures.lifecycle_repo import gitops_repo, run_cli

pytestmark = pytest.mark.e2e

OLD, KEPT = "old-1.0-amd64", "app-1.0-amd64"


@pytest.mark.parametrize("own_repository", [False, True], ids=["default-repository", "its-own-repository"])
def test_retire_marks_every_published_digest_end_of_life(own_repository, tmp_path, registry, unique_repo, capsys):
    """In the catalogue's default repository, or in the image's own (`repository:`): the marks go where its
    tags live, and a same-named tag in the other repository is left alone."""
    where = f"{unique_repo}-apps" if own_repository else unique_repo
    repo = gitops_repo(tmp_path, registry.host, unique_repo, {OLD: "FROM 127.0.0.1:1/base/os:1\n",
                                                              KEPT: "FROM 127.0.0.1:1/base/os:1\n"},
                       extra={OLD: {"repository": where}} if own_repository else None)
    with registry.client() as client:
        first = push_image(client, where, f"{OLD}-20260101000000-aaaaaaa", labels={"n": "1"})
        second = push_image(client, where, f"{OLD}-20260201000000-bbbbbbb", labels={"n": "2"})
        for tag in (f"{OLD}-latest", f"{OLD}-staging"):
            client.retag(where, second, tag)
        other = push_image(client, unique_repo, f"{KEPT}-latest", labels={"n": "3"})
        # not the catalogue's OLD when it lives elsewhere: an image of the same name in the default repository
        namesake = push_image(client, unique_repo, f"{OLD}-latest", labels={"n": "4"}) if own_repository else None
        head = git.Repo(repo).head.commit
        name = f"{where}:{OLD}" if own_repository else OLD   # its catalogue name
        if own_repository:
            code, _, err = run_cli(capsys, "retire", OLD, "--repo", str(repo), "--dry-run")
            assert code == 2 and f"did you mean {name}?" in err, err

        code, out, err = run_cli(capsys, "retire", name, "--repo", str(repo), "--dry-run", "-o", "json")
        assert code == 0, err
        dry = json.loads(out)
        assert {m["digest"]: m["status"] for m in dry["end_of_life"]} == {first: "would-attach",
                                                                          second: "would-attach"}
        assert eol_date(client, where, first) is None and git.Repo(repo).head.commit == head

        code, out, err = run_cli(capsys, "retire", name, "--repo", str(repo), "-o", "json")
        assert code == 0, err
        done = json.loads(out)
        today = dt.date.today().isoformat()
        marks = {m["digest"]: m for m in done["end_of_life"]}
        assert {d: m["status"] for d, m in marks.items()} == {first: "attached", second: "attached"}
        assert marks[second]["tags"] == sorted([f"{OLD}-20260201000000-bbbbbbb", f"{OLD}-latest", f"{OLD}-staging"])
        assert eol_date(client, where, first) == eol_date(client, where, second) == today
        assert eol_date(client, unique_repo, other) is None
        if namesake is not None:
            assert eol_date(client, unique_repo, namesake) is None and namesake not in marks
        assert done["commit"] == git.Repo(repo).head.commit.hexsha != head.hexsha
        left = (repo / "manifests/images.yml").read_text(encoding="utf-8")
        assert f"tagBase: {OLD}" not in left and f"tagBase: {KEPT}" in left and not (repo / "src" / "old").exists()


def test_scan_classifies_a_reference_to_an_annotated_digest_as_eol(tmp_path, registry, unique_repo):
    sample, digests, gitops, _ = _setup(tmp_path, registry, unique_repo)
    with registry.client() as client:
        attach_eol(client, unique_repo, digests["debian"], dt.date(2026, 1, 31))
        attach_eol(client, unique_repo, digests["ubuntu"], dt.date.today() + dt.timedelta(days=365))  # not yet
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "-o", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["references"]
    present = {t for name, tags in IMAGES.items() if name != "gone" for t in tags}
    got = {(r["file"], r["line"]): r for r in rows}
    debian = {t for t in IMAGES["debian"]}
    changed = 0
    for e in EXPECTED:
        row = got[(e.path, e.line)]
        tag = None if "@" in e.text else e.text.format(R="r", M="m", DIGEST="").rsplit(":", 1)[1]
        if row.get("resolved") == digests["debian"] or tag in debian:
            assert row["class"] == "eol", row
            assert "marked end of life on 2026-01-31 in the registry" in row["note"]
            changed += 1
        else:
            assert row["class"] == _expected_class(e, present), row
    assert changed >= 2
