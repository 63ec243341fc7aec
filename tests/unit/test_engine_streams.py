"""How the engine module reads build and push streams from Docker and from podman."""

from __future__ import annotations

import pytest

from lifecycle.build.engine import LOG_TAIL_LINES, TestResult, _digest_of, _Lines, _split_ref, _stream_error
from lifecycle.errors import OperationError

DIGEST = "sha256:" + "b8" * 32


def test_docker_push_digest_comes_from_aux():
    assert _digest_of({"aux": {"Tag": "x", "Digest": DIGEST, "Size": 737}}) == DIGEST


def test_podman_push_digest_comes_from_the_status_text():
    assert _digest_of({"status": f"app-amd64-staging: digest: {DIGEST} size: 737"}) == DIGEST
    assert _digest_of({"status": "Pushing", "progressDetail": {}}) is None
    assert _digest_of({"aux": {"ID": "sha256:abc"}}) is None


def test_stream_errors_are_found_in_either_field():
    assert _stream_error({"error": "boom", "errorDetail": {"message": "boom"}}) == "boom"
    assert _stream_error({"errorDetail": {"message": "only detail"}}) == "only detail"
    assert _stream_error({"stream": "STEP 1/2: FROM x\n"}) is None


def test_lines_are_recut_across_chunks_and_the_tail_is_bounded():
    seen: list[str] = []
    lines = _Lines(seen.append)
    lines.feed("STEP 1/2: FR")
    lines.feed("OM x\nline a\r\nline")
    assert seen == ["STEP 1/2: FROM x", "line a"]
    lines.feed(" b\n")
    for i in range(LOG_TAIL_LINES + 5):
        lines.feed(f"n{i}\n")
    lines.feed("unterminated")
    lines.close()
    assert seen[2] == "line b" and seen[-1] == "unterminated"
    assert len(lines.tail) == LOG_TAIL_LINES and lines.tail[-1] == "unterminated"
    assert "line b" not in lines.tail_text() and "  | unterminated" in lines.tail_text()


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("127.0.0.1:55000/team/images:app-amd64-staging", ("127.0.0.1:55000/team/images", "app-amd64-staging")),
        ("localhost:55001/a/b/c:1", ("localhost:55001/a/b/c", "1")),
    ],
)
def test_split_ref_handles_registry_ports(ref, expected):
    assert _split_ref(ref) == expected


@pytest.mark.parametrize("ref", ["127.0.0.1:55000/team/images", f"127.0.0.1:55000/team/images@{DIGEST}"])
def test_split_ref_needs_a_tag(ref):
    with pytest.raises(OperationError, match="a tag reference"):
        _split_ref(ref)


def test_test_result_passes_only_on_zero_without_timeout():
    assert TestResult("true", 0, "").passed
    assert not TestResult("false", 1, "").passed
    assert not TestResult("sleep", 0, "", timed_out=True).passed


def test_build_log_lines_carry_no_terminal_codes():
    seen: list[str] = []
    lines = _Lines(seen.append)
    lines.feed("\x1b[1;31mE: \x1b[0mfailed\n\x1b]0;title\x07\x1b(Bplain\x1b[2K\r\n")
    lines.close()
    assert seen == ["E: failed", "plain"] and list(lines.tail) == seen
