"""The Dockerfile a build gets: every image reference pinned, everything else as written in git."""

from __future__ import annotations

import pytest

from lifecycle.catalogue.dockerfile import parse
from lifecycle.errors import OperationError
from lifecycle.build.pinning import pin

ID_A = "sha256:" + "a" * 64
ID_B = "sha256:" + "b" * 64
ID_C = "sha256:" + "c" * 64

from tests.unit.test_dockerfile import MULTI  # noqa: E402  the multi-stage Dockerfile the model is tested on

PINS = {
    "mcr.microsoft.com/azurelinux/base/core:3.0": ID_A,
    "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04": ID_B,
    "docker.io/library/busybox:1.36": ID_C,
}


def test_every_image_reference_of_every_stage_is_pinned_and_the_rest_kept():
    pinned = pin(MULTI, parse(MULTI, "Dockerfile"), PINS)
    assert pinned.splitlines() == [
        "# syntax=docker/dockerfile:1",
        "ARG REGISTRY=mcr.microsoft.com",
        "ARG TAG",
        f"FROM --platform=$BUILDPLATFORM {ID_A} AS build",
        "RUN echo \\",
        "    FROM not-a-stage",           # part of a RUN: not an instruction, untouched
        "FROM build AS test",             # a stage, not an image
        "COPY --from=build /a /a",
        f"FROM {ID_B}",
        "COPY --from=0 /a /a",
        f"COPY --chown=1:1 --from={ID_C} /bin/busybox /bin/",
    ]
    # what the builder sees parses to the pins and the same stage structure
    again = parse(pinned, "Dockerfile")
    assert [s.base.ref for s in again.stages] == [ID_A, "build", ID_B]
    assert [s.name for s in again.stages] == ["build", "test", None]


def test_multiline_from_keeps_line_numbers_and_indentation():
    text = "FROM \\\n  # the parent\n  127.0.0.1:5000/team/repo:parent \\\n  AS base\nRUN true\n"
    pinned = pin(text, parse(text, "Dockerfile"), {"127.0.0.1:5000/team/repo:parent": ID_A})
    assert pinned.split("\n") == [f"FROM {ID_A} AS base", "", "", "", "RUN true", ""]


def test_build_args_are_substituted_by_the_parser_and_pinned_by_position():
    text = "ARG BASE\nFROM ${BASE}\nRUN true\n"
    df = parse(text, "Dockerfile", {"BASE": "127.0.0.1:5000/base/busybox:1"})
    assert pin(text, df, {"127.0.0.1:5000/base/busybox:1": ID_A}) == f"ARG BASE\nFROM {ID_A}\nRUN true\n"


def test_escape_directive_and_quoted_copy_from():
    text = "# escape=`\nFROM r.example/os:1 `\n  AS b\nCOPY --from=\"r.example/tools:2\" `\n  /t /t\n"
    df = parse(text, "Dockerfile")
    pinned = pin(text, df, {"r.example/os:1": ID_A, "r.example/tools:2": ID_B})
    assert pinned == f"# escape=`\nFROM {ID_A} AS b\n\nCOPY --from={ID_B} `\n  /t /t\n"


def test_scratch_is_left_alone_and_a_missing_pin_is_an_error():
    text = "FROM scratch\nCOPY x /x\n"
    assert pin(text, parse(text, "Dockerfile"), {}) == text
    text = "FROM r.example/os:1\nFROM r.example/other:2\n"
    with pytest.raises(OperationError, match=r"Dockerfile:2: FROM r.example/other:2 has no resolved image"):
        pin(text, parse(text, "Dockerfile"), {"r.example/os:1": ID_A})
