"""Parsing images.yml and policy.yml: models, positions of schema errors, tag helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lifecycle.catalogue.catalog import parse_catalog, split_immutable_tag

from lifecycle.catalogue.policy import parse_policy
from lifecycle.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_catalogue_and_policy_parse():
    catalog = parse_catalog((ROOT / "manifests/images.yml").read_text())
    policy = parse_policy((ROOT / "manifests/policy.yml").read_text())
    assert len(catalog.images) >= 5 and len(set(catalog.tagbases)) == len(catalog.images)
    for image in catalog.images:
        assert (ROOT / image.dockerfile).is_file()
    # the shipped catalogue shows the model: one folder for two platforms, one folder with two build-arg variants
    folders: dict[str, list] = {}
    for image in catalog.images:
        folders.setdefault(image.folder, []).append(image)
    assert any(len({str(i.platform) for i in same}) >= 2 for same in folders.values())
    assert any(len({tuple(sorted(i.build_args.items())) for i in same}) >= 2 and
               len({str(i.platform) for i in same}) == 1 for same in folders.values())
    assert [s.tag for s in catalog.index_tags] == ["azurelinux-3.0-net9.0-helix"]
    assert catalog.aliases == ("mcr.microsoft.com/dotnet-buildtools/prereqs",)
    assert policy.approves("mcr.microsoft.com/azurelinux/base/core:3.0")
    assert not policy.approves("docker.io/library/alpine:3.20")


CATALOG = """\
registry: localhost:5000
repository: team/prereqs
images:
  - tagBase: a-amd64
    dockerfile: src/a/amd64/
    platform: {os: linux, architecture: arm64, variant: v8}
    buildArgs: {X: "1"}
    endOfLife: 2027-01-31
    sharedTags: [a-latest-alias]
"""


def test_parse_catalog_model():
    catalog = parse_catalog(CATALOG, "images.yml")
    (image,) = catalog.images
    assert (image.folder, image.dockerfile, str(image.platform)) == ("src/a/amd64", "src/a/amd64/Dockerfile", "linux/arm64/v8")
    assert image.build_args == {"X": "1"} and image.eol == dt.date(2027, 1, 31) and image.line == 4
    assert catalog.reference(image.staging_tag()) == "localhost:5000/team/prereqs:a-amd64-staging"
    assert image.past_eol(dt.date(2027, 2, 1)) and not image.past_eol(dt.date(2027, 1, 31))


@pytest.mark.parametrize("change, fragments", [
    (("architecture: arm64", "architecture: sparc"), ["images.yml:6:", "'sparc' is not one of"]),
    (("buildArgs: {X: \"1\"}", "buildArgs: {X: 1}"), ["images.yml:7:", "1 is not of type 'string'"]),
    (("    endOfLife: 2027-01-31\n", "    endOfLife: 2027-13-45\n"), ["images.yml:8:16", "malformed YAML: month must be in 1..12"]),
    (("    sharedTags", "    colour: red\n    sharedTags"), ["images.yml:9:5", "unknown key 'colour'"]),
    (("repository: team/prereqs", "repository: Team/Prereqs"), ["images.yml:2:", "does not match"]),
    (("  - tagBase: a-amd64\n", "  -\n"), ["images.yml:5:5", "'tagBase' is a required property"]),
])
def test_schema_errors_have_positions(change, fragments):
    with pytest.raises(InputError) as info:
        parse_catalog(CATALOG.replace(*change), "images.yml")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_empty_and_missing_required():
    with pytest.raises(InputError, match="empty file"):
        parse_catalog("", "images.yml")
    with pytest.raises(InputError, match="'images' is a required property"):
        parse_catalog("registry: r\nrepository: x\n", "images.yml")


def test_policy_defaults_and_globs():
    policy = parse_policy("approvedBases: ['mcr.microsoft.com/*:3.0*']\nlabelPrefix: org.example\n", "p.yml")
    assert policy.definition_label == "org.example.definition" and policy.retention_days == 180
    assert policy.approves("mcr.microsoft.com/azurelinux/base/core:3.0.20260101")
    assert not policy.approves("mcr.microsoft.com/azurelinux/base/core:2.0")
    with pytest.raises(InputError, match="p.yml:3:.*minimum of 90"):
        parse_policy("approvedBases: [a]\nlabelPrefix: x\nretention: {days: 30}\n", "p.yml")


def test_immutable_tags():
    built = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    image = parse_catalog(CATALOG).images[0]
    tag = image.immutable_tag(built, "0123456789abcdef")
    assert tag == "a-amd64-20260304050607-0123456"
    assert image.is_immutable_tag(tag) and not image.is_immutable_tag("a-amd64-latest")
    assert split_immutable_tag(tag) == ("a-amd64", built, "0123456")
    assert split_immutable_tag("a-amd64-staging") is None


def test_yaml_1_2_meaning_and_lines_survive_the_fast_path():
    # `on` is a boolean to YAML 1.1 (libyaml) but a string to YAML 1.2 (ruamel): the catalogue means 1.2
    catalog = parse_catalog(CATALOG.replace('buildArgs: {X: "1"}', "buildArgs: {X: on}"), "images.yml")
    assert catalog.images[0].build_args == {"X": "on"} and catalog.images[0].line == 4
    two = CATALOG + "  - tagBase: b-amd64\n    dockerfile: src/b/amd64\n    platform: {os: linux, architecture: amd64}\n"
    assert [i.line for i in parse_catalog(two).images] == [4, 10]
    assert [i.line for i in parse_catalog(two.replace("X: \"1\"", "X: yes")).images] == [4, 10]


def test_duplicate_keys_are_rejected_with_position():
    with pytest.raises(InputError, match=r"images.yml:6:5: malformed YAML: .*duplicate"):
        parse_catalog(CATALOG.replace("    platform:", "    dockerfile: src/x\n    platform:"), "images.yml")
