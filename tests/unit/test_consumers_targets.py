"""Per-branch migration targets: the branch's .NET floating tag, else -latest; end of life moves on."""

from __future__ import annotations

import datetime as dt

from lifecycle.consumers.classify import KnownImages, classify
from lifecycle.consumers.references import Reference
from lifecycle.consumers.targets import Targets, image_line
from lifecycle.catalogue.floating import FloatingTag

KNOWN = KnownImages("reg.example", "prereqs",
                    frozenset({"alpine-3.19-helix-amd64", "alpine-3.20-helix-amd64", "alpine-3.21-helix-amd64",
                               "centos-stream9-amd64"}),
                    {"alpine-3.19-helix-amd64": dt.date(2026, 1, 1), "centos-stream9-amd64": dt.date(2026, 5, 31)},
                    floating={"alpine-net9.0-helix-amd64": "alpine-3.21-helix-amd64"})
TARGETS = Targets(KNOWN, (FloatingTag("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64", "9.0"),),
                  ("8.0", "9.0", "10.0"), today=dt.date(2026, 12, 1))


def ref(tag: str, digest: str | None = None) -> Reference:
    text = f"reg.example/prereqs:{tag}" + (f"@{digest}" if digest else "")
    return Reference(path="ci.yml", line=1, column=1, start=0, end=len(text), text=text, kind="yaml",
                     registry="reg.example", repository="prereqs", tag=tag, digest=digest)


def target(tag: str, branch: str | None, digest: str | None = None, targets: Targets = TARGETS) -> str | None:
    return targets.target(classify(ref(tag, digest), KNOWN, today=dt.date(2026, 12, 1)), branch)


def test_image_lines_ignore_versions():
    assert image_line("alpine-3.21-net9.0-helix-amd64") == image_line("alpine-net9.0-helix-amd64") == \
        "alpine-helix-amd64"


def test_branch_version_picks_the_floating_tag():
    pinned = "alpine-3.20-helix-amd64-20260101000000-abc1234"
    assert target(pinned, "release/9.0") == "alpine-net9.0-helix-amd64"
    assert target(pinned, "release/8.0") == "alpine-3.20-helix-amd64-latest"     # no net8.0 floating tag
    assert target(pinned, "main") == "alpine-3.20-helix-amd64-latest"            # main is .NET 10.0
    assert target("alpine-3.20-helix-amd64-latest", "release/9.0") == "alpine-net9.0-helix-amd64"
    assert target("alpine-3.20-helix-amd64-latest", "main") is None              # already where it should be
    assert target("alpine-net9.0-helix-amd64", "release/9.0") is None


def test_pins_move_only_with_unpin():
    digest = "sha256:" + "a" * 64
    assert target("alpine-3.20-helix-amd64", "release/9.0", digest) is None
    unpin = Targets(KNOWN, TARGETS.floating, TARGETS.dotnet_versions, unpin=True, today=dt.date(2026, 12, 1))
    assert target("alpine-3.20-helix-amd64", "release/9.0", digest, unpin) == "alpine-net9.0-helix-amd64"


def test_end_of_life_moves_to_the_floating_tag_or_the_next_version():
    assert target("alpine-3.19-helix-amd64-latest", "release/9.0") == "alpine-net9.0-helix-amd64"
    assert target("alpine-3.19-helix-amd64-latest", "release/8.0") == "alpine-3.21-helix-amd64-latest"
    # no successor on the line: the pinned tag still moves to its own -latest, which cleanup keeps
    assert target("centos-stream9-amd64-20250101000000-0123abc", "main") == "centos-stream9-amd64-latest"
