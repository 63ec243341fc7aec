"""The osUpgrade step: the Dockerfile text publish builds, its label, and publish's rebuild rule."""

from __future__ import annotations

import datetime as dt
import json

from lifecycle.catalogue import dockerfile as dockerfile_mod
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.policy import Policy
from lifecycle.build.osupgrade import (MARKER, RECORD, UPGRADE_SCRIPT, fail_closed, final_stage_user, label_key,
                                       needs_rebuild, step_script, upgrade_label, upgraded_at, upgraded_dockerfile)
from lifecycle.catalogue.platform import Platform

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(("*",), "org.test")
IMAGE = ImageSpec("debian-12-app-amd64", "src/debian/12/app/amd64", Platform("linux", "amd64"))


def test_step_is_appended_to_the_final_stage_in_exec_form():
    text = "FROM debian:12 AS build\nRUN make\n\nFROM debian:12\nCOPY --from=build /out /out\n"
    upgraded = upgraded_dockerfile(text, NOW)
    assert upgraded.startswith(text)
    tail = upgraded[len(text):].strip().splitlines()
    assert tail[0] == MARKER and len(tail) == 2
    assert json.loads(tail[1][len("RUN "):]) == ["/bin/sh", "-c", step_script(NOW)]
    parsed = dockerfile_mod.parse(upgraded, "Dockerfile")
    assert [s.base.ref for s in parsed.stages] == [s.base.ref for s in dockerfile_mod.parse(text, "Dockerfile").stages]


def test_a_final_stage_user_is_switched_to_root_and_back():
    text = "FROM debian:12\nUSER root\nRUN x\nUSER app:app\nCMD [\"run\"]\n"
    assert final_stage_user(text) == "app:app"
    tail = upgraded_dockerfile(text, NOW).splitlines()[-3:]
    assert tail[0] == "USER root" and tail[1].startswith("RUN [") and tail[2] == "USER app:app"
    # a USER of an earlier stage does not carry over
    assert final_stage_user("FROM a AS b\nUSER nobody\nFROM c\nRUN y\n") is None
    assert "USER" not in upgraded_dockerfile("FROM a AS b\nUSER nobody\nFROM c\n", NOW).split(MARKER)[1]


def test_the_script_covers_each_family_and_adds_the_security_suites_for_the_step_only():
    for command in ("apt-get -y -q", "upgrade --with-new-pkgs", "tdnf -y -q upgrade", "dnf -y -q upgrade",
                    "apk upgrade --no-cache", "debian-security $c-security", "rm -f \"$extra\"", RECORD):
        assert command in UPGRADE_SCRIPT


def test_label_and_rebuild_rule():
    labels = upgrade_label(POLICY, NOW)
    assert list(labels) == [label_key(POLICY)] == ["org.test.os-upgrade"]
    assert json.loads(labels["org.test.os-upgrade"])["record"] == RECORD
    assert upgraded_at(labels, POLICY) == NOW
    assert upgraded_at({}, POLICY) is None and upgraded_at({"org.test.os-upgrade": "{bad"}, POLICY) is None
    assert needs_rebuild({}, POLICY, NOW) == "built without the OS upgrade step"
    assert needs_rebuild(labels, POLICY, NOW + dt.timedelta(days=7)) is None
    assert needs_rebuild(labels, POLICY, NOW + dt.timedelta(days=8)) == "OS upgrade step ran 8 days ago (policy: 7)"


def test_policy_default_and_image_override():
    on = Policy(("*",), "org.test", os_upgrade=True)
    assert not POLICY.wants_os_upgrade(IMAGE) and on.wants_os_upgrade(IMAGE)
    off = ImageSpec(IMAGE.tagbase, IMAGE.folder, IMAGE.platform, os_upgrade=False)
    yes = ImageSpec(IMAGE.tagbase, IMAGE.folder, IMAGE.platform, os_upgrade=True)
    assert not on.wants_os_upgrade(off) and POLICY.wants_os_upgrade(yes)




def test_the_step_text_changes_with_the_build_time_so_no_layer_cache_serves_it():
    day_later = NOW + dt.timedelta(days=1)
    text = "FROM debian:12\n"
    assert upgraded_dockerfile(text, NOW) != upgraded_dockerfile(text, day_later)
    assert step_script(day_later).startswith("echo 'lifecycle osUpgrade step of 2026-12-02T12:00:00Z'\n")
    assert step_script(NOW).endswith(UPGRADE_SCRIPT)


def test_the_step_fails_closed_on_an_index_it_cannot_fetch():
    assert "-o APT::Update::Error-Mode=any update" in UPGRADE_SCRIPT
    assert "grep -Eq '^(W|E|Err):'" in UPGRADE_SCRIPT
    assert "skip_if_unavailable=False makecache" in UPGRADE_SCRIPT and "check-update > \"$rec\" || true" not in UPGRADE_SCRIPT
    assert UPGRADE_SCRIPT.startswith("set -e\n")  # tdnf makecache and apk update fail the step on their own
    assert fail_closed(upgrade_label(POLICY, NOW), POLICY)
    assert not fail_closed({label_key(POLICY): json.dumps({"time": "2026-12-01T12:00:00Z"})}, POLICY)
    assert not fail_closed({}, POLICY)
