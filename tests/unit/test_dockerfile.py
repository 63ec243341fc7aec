"""The Dockerfile model: stages, ARG substitution into FROM, COPY --from, and where each came from."""

from __future__ import annotations

import pytest

from lifecycle.catalogue.dockerfile import normalize_reference, parse, substitute
from lifecycle.errors import InputError

MULTI = """\
# syntax=docker/dockerfile:1
ARG REGISTRY=mcr.microsoft.com
ARG TAG
FROM --platform=$BUILDPLATFORM ${REGISTRY}/azurelinux/base/core:${TAG:-3.0} AS build
RUN echo \\
    FROM not-a-stage
FROM build AS test
COPY --from=build /a /a
FROM ${REGISTRY}/mirror/docker/library/ubuntu:22.04
COPY --from=0 /a /a
COPY --chown=1:1 --from=docker.io/library/busybox:1.36 /bin/busybox /bin/
"""


def test_stages_args_and_copies():
    df = parse(MULTI, "src/x/Dockerfile")
    assert [(s.index, s.name, s.base.kind, s.base.ref, s.base.line) for s in df.stages] == [
        (0, "build", "image", "mcr.microsoft.com/azurelinux/base/core:3.0", 4),
        (1, "test", "stage", "build", 7),
        (2, None, "image", "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04", 9),
    ]
    assert df.stages[0].platform == ""  # BUILDPLATFORM is not a declared global arg
    assert [(c.kind, c.ref, c.line) for c in df.stages[1].copies_from] == [("stage", "build", 8)]
    assert [(c.kind, c.ref) for c in df.stages[2].copies_from] == [("stage", "0"), ("image", "docker.io/library/busybox:1.36")]
    assert [r.ref for r in df.image_refs()] == ["mcr.microsoft.com/azurelinux/base/core:3.0",
                                                "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04",
                                                "docker.io/library/busybox:1.36"]


def test_build_args_override_defaults():
    df = parse(MULTI, "Dockerfile", {"TAG": "3.0.20260101", "REGISTRY": "localhost:5000"})
    assert df.stages[0].base.ref == "localhost:5000/azurelinux/base/core:3.0.20260101"
    assert df.final_base.ref == "localhost:5000/mirror/docker/library/ubuntu:22.04"


def test_final_base_follows_stage_aliases():
    df = parse("FROM alpine:3 AS a\nFROM a AS b\nFROM b\n", "Dockerfile")
    assert df.final_base.ref == "alpine:3" and df.final_base.kind == "image"
    assert parse("FROM scratch\n", "Dockerfile").final_base.kind == "scratch"


def test_escape_directive_and_comments_in_continuations():
    text = "# escape=`\nFROM alpine:3 `\n  AS base\nRUN echo `\n# comment\n  done\nFROM base\n"
    df = parse(text, "Dockerfile")
    assert [(s.name, s.base.ref, s.base.line) for s in df.stages] == [("base", "alpine:3", 2), (None, "base", 7)]


@pytest.mark.parametrize("text, line, fragment", [
    ("RUN true\n", 1, "RUN before the first FROM"),
    ("# only a comment\n", None, "no FROM instruction"),
    ("ARG BASE\nFROM $BASE\n", 2, "is a build arg missing"),
    ("FROM a b c d\n", 1, "malformed FROM"),
    ("FROM --network=host alpine\n", 1, "unknown FROM flag"),
    ("FROM alpine\nCOPY --from='x /a /b\n", 2, "cannot parse"),
])
def test_errors_name_file_and_line(text, line, fragment):
    with pytest.raises(InputError) as info:
        parse(text, "src/a/Dockerfile")
    assert fragment in str(info.value)
    assert info.value.location.file == "src/a/Dockerfile" and info.value.location.line == line


def test_substitute_forms():
    v = {"A": "1", "E": ""}
    assert substitute("$A ${A} ${B:-d} ${E:-d} ${E-d} ${A:+set} ${B:+set}", v) == "1 1 d d  set "


@pytest.mark.parametrize("ref, expected", [
    ("ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
    ("team/app:1", "docker.io/team/app:1"),
    ("localhost/app", "localhost/app"),
    ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"),
    ("mcr.microsoft.com/x:y", "mcr.microsoft.com/x:y"),
])
def test_normalize_reference(ref, expected):
    assert normalize_reference(ref) == expected


def test_heredoc_bodies_are_not_instructions():
    text = ("FROM alpine:3 AS one\nRUN <<EOF cat > /x && <<-'END' cat > /y\nFROM evil:1\nEOF\n"
            "COPY --from=evil:2 / /\n\tEND\nCOPY <<EOF /z\nhello\nEOF\nFROM one\n")
    df = parse(text, "Dockerfile")
    assert [(s.base.ref, s.base.line) for s in df.stages] == [("alpine:3", 1), ("one", 10)]
    assert [r.ref for r in df.image_refs()] == ["alpine:3"]
