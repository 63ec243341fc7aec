"""The journal file: round trip, and clear input errors for files that are not journals."""

from __future__ import annotations

import json

import pytest

from lifecycle.errors import InputError
from lifecycle.journal import Journal, TagEntry


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
