"""Level legs on the real engine and registry: a later leg builds on the digest an earlier leg pushed."""

from __future__ import annotations

import json

import pytest

from lifecycle.build.imageinfo import ImageInfo, write
from lifecycle.sample import CHILD, PARENT, SOLO

pytestmark = pytest.mark.e2e


def diff_ids(sample, digest: str) -> list[str]:
    manifest = sample.client.manifest(sample.repository, digest)
    return json.loads(sample.client.blob(sample.repository, manifest.config.digest))["rootfs"]["diff_ids"]


def test_a_later_leg_builds_on_the_earlier_legs_digest(sample, tmp_path):
    legs = tmp_path / "legs"
    # level 0: the parent (and an independent image); its child is not built here
    done = sample.cli("publish", "--repo", str(sample.root), "--images", f"{PARENT},{SOLO}", "--no-descendants",
                      "--no-move", "--parents-from", str(tmp_path / "none-yet"),
                      "--info", str(legs / "image-info-1" / "1.json"), "-o", "json")
    assert done.returncode == 0, done.stderr
    first = {i["tagbase"]: i for i in json.loads((legs / "image-info-1" / "1.json").read_text())["images"]}
    assert set(first) == {PARENT, SOLO} and first[PARENT]["status"] == "pushed"
    assert sample.digest(f"{PARENT}-staging") is None  # nothing a child could find by tag

    # level 1, another agent: the child's parent is the digest level 0 pushed
    sample.engine.remove(sample.names.ref(first[PARENT]["immutable_tag"]))
    done = sample.cli("publish", "--repo", str(sample.root), "--images", CHILD, "--no-descendants", "--no-move",
                      "--parents-from", str(legs), "--require-parents", PARENT, "--info", str(tmp_path / "2.json"),
                      "-o", "json")
    assert done.returncode == 0, done.stderr
    (child,) = json.loads((tmp_path / "2.json").read_text())["images"]
    assert child["tagbase"] == CHILD and child["status"] == "pushed"
    assert child["base_digest"] == first[PARENT]["digest"]
    parent_layers, child_layers = (diff_ids(sample, first[PARENT]["digest"]), diff_ids(sample, child["digest"]))
    assert child_layers[:len(parent_layers)] == parent_layers

    # a parent that failed in an earlier leg blocks its child: nothing is built or pushed
    failed = tmp_path / "failed" / "f.json"
    write(failed, "staging", sample.names.registry, sample.repository,
          [ImageInfo(PARENT, "failed", "sha256:x", "r", reason="test failed")])
    before = sample.tags()
    done = sample.cli("publish", "--repo", str(sample.root), "--images", CHILD, "--no-descendants", "--no-move",
                      "--parents-from", str(failed.parent), "-o", "json")
    assert done.returncode == 1
    assert f"parent {PARENT} did not publish" in done.stdout + done.stderr
    assert sample.tags() == before

    # a required parent whose leg left no image-info blocks its child instead of taking the channel's
    done = sample.cli("publish", "--repo", str(sample.root), "--images", CHILD, "--no-descendants", "--no-move",
                      "--parents-from", str(tmp_path / "lost"), "--require-parents", PARENT, "-o", "json")
    assert done.returncode == 1 and f"parent {PARENT} did not publish" in done.stdout + done.stderr
    assert sample.tags() == before

    # bad input: --no-descendants without --images, and image-info of another repository
    assert sample.cli("publish", "--repo", str(sample.root), "--all", "--no-descendants").returncode == 2
    other = tmp_path / "other.json"
    write(other, "staging", "elsewhere:5000", "x/y", [])
    done = sample.cli("publish", "--repo", str(sample.root), "--images", CHILD, "--no-descendants",
                      "--parents-from", str(other), "--dry-run")
    assert done.returncode == 2 and "other.json" in done.stderr
