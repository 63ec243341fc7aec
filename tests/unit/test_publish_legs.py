"""publish.use_earlier_legs: what a level leg takes from the earlier legs' image-info records."""

from __future__ import annotations

from lifecycle.build.imageinfo import ImageInfo
from lifecycle.output import Reporter
from lifecycle.build.publish import Publisher, use_earlier_legs
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import sample_files
from tests.fixtures.gitrepo import make_repo


def test_records_become_parent_digests_or_blocks(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    publisher = Publisher(Workspace.load(WorkTree(repo)), repo, "staging", None, None, None, Reporter())
    records = [
        ImageInfo("base-amd64", "pushed", "sha256:d1", "r", digest="sha256:aa"),
        ImageInfo("ubuntu-amd64", "skipped", "sha256:d2", "r", digest="sha256:bb"),
        ImageInfo("base-tools-amd64", "failed", "sha256:d3", "r", reason="test failed"),
        ImageInfo("cross-amd64", "built", "sha256:d4", "r"),  # --no-push: nothing another agent can use
    ]
    use_earlier_legs(publisher, records, ["base-amd64", "cross-amd64", "base-tools-helix-amd64"])
    assert publisher._channel_digest("base-amd64") == "sha256:aa"  # by the recorded digest, no registry call
    assert publisher._channel_digest("ubuntu-amd64") == "sha256:bb"
    assert {t: i.status for t, i in publisher.built.items()} == {
        "base-tools-amd64": "failed", "cross-amd64": "blocked", "base-tools-helix-amd64": "blocked"}
    assert publisher.built["base-tools-helix-amd64"].reason == "no image-info from its leg"
