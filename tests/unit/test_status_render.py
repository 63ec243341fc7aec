"""The status page and texts from a hand-made status: escaping, the embedded JSON, links, states."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from lifecycle.errors import InputError
from lifecycle.status.collect import _state, check_link_template
from lifecycle.status.history import HELD_HEAD, PROMOTED_HEAD, _section
from lifecycle.status.model import ChannelState, Consumer, FleetStatus, FloatingTagHold, ImageStatus, Rollout
from lifecycle.status.render_html import json_for_script, render_page
from lifecycle.status.render_text import floating_hold_rows, image_row, markdown_summary

EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\u2028"


def channel(tag: str, digest: str | None = "sha256:" + "a" * 64, stale: str = "current",
            reasons: list[str] | None = None) -> ChannelState:
    return ChannelState(tag, digest, "2026-01-01T00:00:00Z" if digest else None, 3 if digest else None, stale,
                        reasons or [])


def image(tagbase: str, state: str, **kw) -> ImageStatus:
    fields = dict(tagbase=tagbase, state=state, platform="linux/amd64", folder=f"src/{tagbase}", owners=["team"],
                  eol=None, eol_passed=False, staging=channel(f"{tagbase}-staging"),
                  latest=channel(f"{tagbase}-latest"), main_definition="sha256:1", production_definition="sha256:1",
                  in_sync=True, hold=None, lkg_digest=None, lkg_tag=None, lkg_reason="never published", labels={},
                  tags=[], consumers={}, references=[], cleanup_candidates=[], cleanup_deletes=[])
    fields.update(kw)
    return ImageStatus(**fields)


def fleet() -> FleetStatus:
    held = image("solo-amd64", "held", hold=EVIL, labels={"x": EVIL},
                 references=[Consumer("repo", EVIL, 3, EVIL, "pinned", "javascript:alert(3)"),
                             Consumer("repo", "ci.yml", 8, "ref", "latest", "https://dev.example/ci.yml#L8")],
                 consumers={"latest": 1, "pinned": 1},
                 latest=channel("solo-amd64-latest", stale="stale", reasons=[EVIL]))
    return FleetStatus("2026-01-02T00:00:00Z", "reg.example", "team/prereqs", "a" * 40, "b" * 40, "c" * 40,
                       [image("base-amd64", "current"), held], [Rollout("d" * 40, "t", EVIL, "held", held=["x"])],
                       None, {"GET": 3, "HEAD": 2})


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_page_escapes_every_value_and_embeds_the_data_as_json():
    status = fleet()
    page = render_page(status)
    parsed = Elements()
    parsed.feed(page)
    names = [t for t, _ in parsed.tags]
    assert "img" not in names and names.count("script") == 2  # nothing the data said became markup
    assert [a.get("type") for t, a in parsed.tags if t == "script"] == ["application/json", None]
    assert json.loads(parsed.scripts[0]) == json.loads(json.dumps(status.to_dict()))
    hrefs = [a.get("href") for t, a in parsed.tags if t == "a"]
    assert hrefs == ["https://dev.example/ci.yml#L8"]  # the javascript: link is shown as text only
    assert not any(a.get("src") or a.get("href", "").startswith("http") and t in ("link", "script")
                   for t, a in parsed.tags)  # nothing loaded from elsewhere
    heads = [a for t, a in parsed.tags if t == "th" and "aria-sort" in a]
    assert len(heads) == 11 and all(a["aria-sort"] == "none" for a in heads)


def test_json_for_script_cannot_close_the_element():
    text = json_for_script({"a": EVIL})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": EVIL}


@pytest.mark.parametrize("kw, expected", [
    ({"hold": "x", "eol_passed": True}, "held"),
    ({"eol_passed": True}, "eol"),
    ({"latest_digest": None}, "unpublished"),
    ({"latest_stale": "rebuild"}, "stale"),
    ({"in_sync": False}, "pending"),
    ({"staging_digest": "sha256:other"}, "pending"),
    ({}, "current"),
])
def test_state_precedence(kw, expected):
    latest = channel("t-latest", kw.get("latest_digest", "sha256:" + "a" * 64), kw.get("latest_stale", "current"))
    staging = channel("t-staging", kw.get("staging_digest", "sha256:" + "a" * 64))
    assert _state(kw.get("hold"), kw.get("eol_passed", False), latest, staging, kw.get("in_sync", True)) == expected


def test_rollout_message_sections():
    message = (f"Roll out main@abc to production\n\n{PROMOTED_HEAD}\n- a-amd64: (none) -> sha256:1\n"
               f"- b-amd64: sha256:1 -> sha256:2\n\n{HELD_HEAD}\n- c-amd64: reverted on production\n\nTrailer: x\n")
    assert _section(message, PROMOTED_HEAD) == ["a-amd64", "b-amd64"]
    assert _section(message, HELD_HEAD) == ["c-amd64"]
    assert _section("Promoted: no latest tag moves.", PROMOTED_HEAD) == []


def test_link_template_fields_are_checked():
    check_link_template("https://x/{repository}/{file}#L{line}")
    with pytest.raises(InputError, match="unknown field"):
        check_link_template("https://x/{repo}")
    with pytest.raises(InputError):
        check_link_template("https://x/{file")


def test_text_rows_and_markdown_summary():
    status = fleet()
    row = image_row(status.images[1])
    assert row["state"] == "held" and row["consumers"] == "latest 1, pinned 1"
    assert row["stale"].startswith("latest: </script>")
    summary = markdown_summary(status, "status.html")
    assert "| ‖ held (held: the next rollout keeps -latest where it is (a revert, or the provenance gate)) | 1 |" in summary
    assert "`status.html` artifact" in summary


def test_floating_holds_are_shown_with_their_date_and_escaped():
    status = fleet()
    assert "Floating tags held" not in render_page(status) and "Floating tags held" not in markdown_summary(status)
    status.floating_holds = [FloatingTagHold("x-net9.0-amd64", "b-amd64", "a-amd64", EVIL, "2027-03-12")]
    page = render_page(status)
    assert "Floating tags held" in page and "2027-03-12" in page and EVIL not in page
    summary = markdown_summary(status)
    assert "## Floating tags held" in summary and "| x-net9.0-amd64 | a-amd64 | b-amd64 |" in summary
    assert floating_hold_rows(status)[0]["possible from"] == "2027-03-12"
