"""The journal file: round trip, and clear input errors for files that are not journals."""

from __future__ import annotations

import json

import pytest

from lifecycle.errors import InputError
from lifecycle.production.journal import Journal, TagEntry


def test_round_trip_keeps_every_field(tmp_path):
    journal = Journal("rollout", "a" * 40, main_commit="b" * 40,
                      tags=[TagEntry("x-latest", "x", None, "sha256:1", "moved"),
                            TagEntry("x", "x", "sha256:0", "sha256:1", "moved")],
                      holds=[{"image": "y", "reason": "reverted"}])
    path = tmp_path / "out" / "journal.json"
    journal.write(path)
    again = Journal.read(path)
    assert again == journal
    assert again.entry("x").previous == "sha256:0" and again.entry("nope") is None
    assert [e.tag for e in again.entries_for("x")] == ["x-latest", "x"]
    assert sum(1 for line in path.read_text().splitlines() if line.strip().startswith('{"tag"')) == 2


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "top level must be a JSON object"),
    ('{"kind": "rollout"}', "missing commit, tags"),
    ('{"kind": "rollout", "commit": null, "tags": {}}', "'tags' must be a list"),
    ('{"kind": "rollout", "commit": null, "tags": [{"image": "x"}]}', "tags[0] lacks 'tag'"),
])
def test_bad_files_are_input_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "j.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        Journal.read(path)
    assert message in str(info.value) and str(path) in str(info.value) and info.value.exit_code == 2


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="journal file not found"):
        Journal.read(tmp_path / "absent.json")


def test_json_error_has_line_and_column(tmp_path):
    path = tmp_path / "j.json"
    path.write_text('{\n  "kind": "rollout",\n  oops\n}')
    with pytest.raises(InputError) as info:
        Journal.read(path)
    assert info.value.location.line == 3 and json  # line of the bad token


# -- binding to a repository (issue 11 item 10) ----------------------------------------------------------

def _catalog(registry: str = "r.example.io", repository: str = "team/images",
             source: str = "https://dev.example/_git/gitops"):
    from lifecycle.catalogue.catalog import parse_catalog

    return parse_catalog(f"registry: {registry}\nrepository: {repository}\nsource: {source}\nimages:\n"
                         "  - tagBase: a-amd64\n    dockerfile: src/a/amd64\n"
                         "    platform: {os: linux, architecture: amd64}\n")


def test_a_bound_journal_round_trips_and_belongs_only_to_its_repository(tmp_path):
    path = tmp_path / "journal.json"
    Journal("rollout", "a" * 40, tags=[TagEntry("a-amd64-latest", "a-amd64", "sha256:0", "sha256:1", "moved")]
            ).bound_to(_catalog()).write(path)
    journal = Journal.read(path)
    data = json.loads(path.read_text())
    assert (data["registry"], data["repository"], data["source"], data["version"]) == (
        "r.example.io", "team/images", "https://dev.example/_git/gitops", 2)
    journal.check_belongs(_catalog(), str(path))
    # the journal's value, then this repository's
    for changed, field in ((dict(registry="other.example.io"), "registry r.example.io (this repository: other"),
                           (dict(repository="team/other"), "repository team/images (this repository: team/other)"),
                           (dict(source="https://dev.example/_git/fork"),
                            "source https://dev.example/_git/gitops (this repository: https://dev.example/_git/fork)")):
        with pytest.raises(InputError) as info:
            journal.check_belongs(_catalog(**changed), str(path))
        text = str(info.value)
        assert text.startswith(f"{path}: this journal belongs to another repository") and info.value.exit_code == 2
        assert field in text
        # only what differs is named
        named = text.split("another repository: ")[1].split(". Its digests")[0]
        assert named.startswith(field) and ";" not in named


def test_an_unbound_journal_needs_legacy_and_then_still_checks_what_it_has(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"version": 1, "kind": "rollout", "commit": "abc", "tags": []}')
    journal = Journal.read(path)
    assert not journal.bound and journal.version == 1
    with pytest.raises(InputError, match="--legacy-journal") as info:
        journal.check_belongs(_catalog(), str(path))
    assert str(path) in str(info.value) and "r.example.io/team/images" in str(info.value)
    journal.check_belongs(_catalog(), str(path), legacy=True)
    half = Journal.read(path)
    half.registry = "other.example.io"
    with pytest.raises(InputError, match="registry other.example.io"):
        half.check_belongs(_catalog(), str(path), legacy=True)


def test_a_binding_field_of_the_wrong_type_is_an_input_error(tmp_path):
    path = tmp_path / "j.json"
    path.write_text('{"kind": "rollout", "commit": "abc", "tags": [], "registry": 5}')
    with pytest.raises(InputError, match="'registry' must be a string"):
        Journal.read(path)
