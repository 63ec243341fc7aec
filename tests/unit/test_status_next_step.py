"""The next step in words (status/next_step.py) and the row texts built from it."""

from __future__ import annotations

from lifecycle.status.collect import _state
from lifecycle.status.model import RevertCommit
from lifecycle.status.next_step import LIFT, LIFT_PROVENANCE, LIFT_WITH_PARENT, next_step, short_reason
from lifecycle.status.render_html import image_row, render_page
from tests.unit.test_status_render import channel, fleet, image

REVERT = RevertCommit("f" * 40, "Ops Person", "ops@example", "2026-01-05T10:00:00Z", 'Revert "solo v2"')


def test_hold_names_the_revert_commit_and_how_to_lift_it():
    held = image("solo", "held", hold="reverted on production since it was last rolled out; main has not changed it since",
                 revert=REVERT)
    assert next_step(held) == f"held: ffffffffff by Ops Person on 2026-01-05; {LIFT}"
    child = image("child", "held", hold="its parent solo is held", revert=REVERT)
    assert next_step(child) == f"held: ffffffffff by Ops Person on 2026-01-05 (its parent solo is held); {LIFT}"
    assert next_step(image("x", "held", hold="odd")) == f"held: odd; {LIFT}"  # no commit found: the reason


def test_a_provenance_hold_is_lifted_by_a_digest_that_verifies_not_by_a_revert():
    reason = "provenance: sha256:abcdef012345 has no provenance"
    assert next_step(image("solo", "held", hold=reason)) == f"held: {reason}; {LIFT_PROVENANCE}"
    forged = image("solo", "held", hold="provenance: the provenance of sha256:abcdef012345 does not verify against "
                                        "keys/*.pub (signature does not verify (Found: 0, Expected 1))")
    assert next_step(forged) == ("held: provenance: the provenance of sha256:abcdef012345 does not verify against "
                                 f"keys/*.pub; {LIFT_PROVENANCE}")  # the verifier's words stay in the details
    child = image("child", "held", hold="its parent solo is held")
    assert next_step(child) == f"held: its parent solo is held; {LIFT_WITH_PARENT}"


def test_stale_says_what_fixes_it():
    base = "base reg.example/debian:12 changed (sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb)"
    stale = image("s", "stale", latest=channel("s-latest", stale="stale", reasons=[base]),
                  staging=channel("s-staging", stale="stale", reasons=[base]))
    assert next_step(stale) == "stale: the nightly rebuild picks it up (base changed after 2026-01-01)"
    fresh = image("s", "stale", latest=channel("s-latest", stale="stale", reasons=[base]),
                  staging=channel("s-staging", digest="sha256:" + "b" * 64))
    assert next_step(fresh) == "stale: the next rollout promotes -staging (built 2026-01-01)"
    os_step = "2 security updates pending (a, b); built without the OS upgrade step: set osUpgrade or refresh the base"
    needs = image("s", "stale", latest=channel("s-latest", stale="stale", reasons=[os_step]),
                  staging=channel("s-staging", stale="stale", reasons=[os_step]))
    assert next_step(needs).startswith("stale: needs an osUpgrade on main")
    assert short_reason(base) == "base changed"
    assert short_reason("parent busybox-1.0-staging changed (sha256:a -> sha256:b)") == "parent busybox-1.0 changed"
    assert short_reason("built 40 days ago, older than the 30-day max age") == "older than 30 days"


def test_new_image_on_main_is_pending_not_unpublished():
    latest, staging = channel("n-latest", digest=None, stale="not published"), channel("n-staging")
    assert _state(None, False, latest, staging, False, in_production=False) == "pending"
    assert _state(None, False, latest, staging, False, in_production=True) == "unpublished"
    assert _state(None, False, latest, channel("n-staging", digest=None), False, in_production=False) == "unpublished"
    new = image("n", "pending", latest=latest, in_production=False)
    assert next_step(new) == "pending: new on main, the next rollout promotes it"


def test_rows_show_short_reasons_nothing_to_delete_and_the_served_tag():
    digest = "sha256:" + "a" * 64
    row = image_row(0, image("x", "current", tags=[{"tag": "x-20260101", "digest": digest, "kind": "immutable",
                                                    "built": None}], cleanup_candidates=["x-old"]))
    assert "nothing to delete" in row and ">x-20260101</code>" in row
    base = "base reg.example/debian:12 changed (sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb)"
    row = image_row(0, image("x", "stale", latest=channel("x-latest", stale="stale", reasons=[base])))
    assert ">latest: base changed</span>" in row and 'title="latest: base reg.example/debian:12 changed (sha256:aaaaaaaaaaaa -&gt; sha256:bbbbbbbbbbbb)"' in row
    deletes = image_row(0, image("x", "current", cleanup_candidates=["x-1", "x-2"], cleanup_deletes=["x-1"]))
    assert 'title="x-1">1 to delete' in deletes


def test_summary_boxes_are_filter_buttons_and_zero_counts_are_muted():
    page = render_page(fleet())
    assert 'data-state-filter="held" aria-pressed="false"' in page
    assert 'class="state-eol zero" data-state-filter="eol"' in page
    assert 'class="state-held" data-state-filter="held"' in page


def test_json_labels_read_as_lines_not_raw_json():
    from lifecycle.status.render_html import label_value

    digest = "sha256:" + "b" * 64
    html = label_value('{"reg.example/debian:12": "%s"}' % digest)
    assert "{" not in html and f'title="{digest}">sha256:bbbbbbbbbbbb</code>' in html
    assert 'title="reg.example/debian:12">reg.example/debian:12</code>: ' in html
    assert label_value("plain") == '<code class="id" tabindex="0" title="plain">plain</code>'


def test_floating_tags_and_their_target_wait_for_the_evaluation_period():
    from lifecycle.status.model import FloatingTagHold
    from lifecycle.status.next_step import floating_step

    evaluation = FloatingTagHold("x-net9.0-amd64", "new-amd64", "old-amd64",
                                 "evaluation period: new-amd64 first rolled out on 2026-02-01; 30 days must pass",
                                 "2026-03-03")
    assert floating_step(evaluation) == "waiting: evaluation period until 2026-03-03; then the rollout moves it to new-amd64"
    servicing = FloatingTagHold("x-net8.0-amd64", "new-amd64", "old-amd64",
                                "servicing .NET 8.0: x-net9.0-amd64 moved to new on 2026-02-10; 30 days must pass",
                                "2026-03-12")
    assert floating_step(servicing).startswith("waiting: servicing period until 2026-03-12")
    frozen = FloatingTagHold("x-net9.0-amd64", "new-amd64", "old-amd64", "stability period: .NET 9.0 reaches end of "
                             "life on 2026-05-12; its floating tags do not move after 2025-11-13", None)
    assert floating_step(frozen) == "frozen: stays on old-amd64 until its .NET version's end of life"
    reverted = FloatingTagHold("x-net9.0-amd64", "new-amd64", "old-amd64", "target new-amd64 was reverted on "
                               "production since it was last rolled out; main has not changed it since", None)
    assert floating_step(reverted) == f"held: reverted on production; {LIFT}"

    holds = [evaluation, servicing, frozen]
    assert next_step(image("new-amd64", "current"), holds) == (
        "waiting: evaluation period until 2026-03-03 (x-net9.0-amd64 then moves to it)")
    assert next_step(image("new-amd64", "pending"), holds) == (
        "pending: the next rollout promotes it; waiting: evaluation period until 2026-03-03 (x-net9.0-amd64 then "
        "moves to it)")
    assert next_step(image("old-amd64", "current"), holds) == "current: nothing to do"  # served, not waited for
    assert next_step(image("new-amd64", "current"), [frozen]) == "current: nothing to do"  # no date to wait for


def test_an_image_only_production_has_is_retiring():
    retiring = image("gone-amd64", "retiring", main_definition=None, in_sync=False)
    assert next_step(retiring) == "retiring: removed on main; the next rollout drops it"
    page = render_page(fleet())
    assert 'data-state-filter="retiring"' in page  # a summary box of its own
