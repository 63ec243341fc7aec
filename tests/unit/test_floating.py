"""Floating tags: parsing with positions, the validate rules, the hold rules with dates, byte-exact merges."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.catalog import parse_catalog

from lifecycle.catalogue.policy import parse_policy
from lifecycle.errors import InputError
from lifecycle.catalogue.floating import FloatingTag, compute_holds, parse, problems
from lifecycle.production.floating_rollout import merged_text

CATALOG = """registry: example.azurecr.io
repository: prereqs
images:
  - tagBase: alpine-3.20-helix-amd64
    dockerfile: src/alpine/3.20/helix/amd64
    platform: {os: linux, architecture: amd64}
  - tagBase: alpine-3.21-helix-amd64
    dockerfile: src/alpine/3.21/helix/amd64
    platform: {os: linux, architecture: amd64}
  - tagBase: alpine-3.21-helix-arm64v8
    dockerfile: src/alpine/3.21/helix/arm64v8
    platform: {os: linux, architecture: arm64, variant: v8}
  - tagBase: alpine-3.19-helix-amd64
    dockerfile: src/alpine/3.19/helix/amd64
    platform: {os: linux, architecture: amd64}
    endOfLife: 2026-06-30
  - tagBase: azurelinux-3.0-net8.0-build-amd64
    dockerfile: src/azurelinux/3.0/net8.0/build/amd64
    platform: {os: linux, architecture: amd64}
"""
POLICY = """approvedBases: ["x"]
labelPrefix: test
floatingTags: {evaluationDays: 30, stabilityDays: 180}
dotnetVersions:
  "8.0": {endOfLife: 2026-11-10}
  "9.0": {endOfLife: 2028-05-12}
  "10.0": {endOfLife: 2028-11-14}
"""
TODAY = dt.date(2027, 3, 1)


def f(tag: str, target: str, dotnet: str = "9.0") -> FloatingTag:
    return FloatingTag(tag, target, dotnet)


def test_parse_names_the_line_of_a_bad_entry():
    text = "floatingTags:\n  - tag: alpine-net9.0-helix-amd64\n    target: alpine-3.21-helix-amd64\n" \
           "    dotnet: \"9.0\"\n  - tag: alpine-net10.0-helix-amd64\n    target: x\n    dotnet: ten\n"
    with pytest.raises(InputError) as err:
        parse(text)
    assert "manifests/floating.yml:7" in "\n".join(err.value.problems)
    tags = parse(text.replace("ten", '"10.0"'))
    assert [(t.tag, t.line) for t in tags] == [("alpine-net9.0-helix-amd64", 2), ("alpine-net10.0-helix-amd64", 5)]


def test_validate_rules():
    catalog, policy = parse_catalog(CATALOG), parse_policy(POLICY)
    tags = (f("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64"),          # fine
            f("alpine-net9.0-helix-arm64v8", "alpine-3.21-helix-amd64"),        # other architecture
            f("alpine-net9.0-helix-amd64", "alpine-3.20-helix-amd64"),          # declared twice
            f("alpine-net10.0-old-amd64", "alpine-3.19-helix-amd64", "10.0"),   # target past end of life
            f("azurelinux-net9.0-build-amd64", "azurelinux-3.0-net8.0-build-amd64"),  # other .NET
            f("alpine-net7.0-helix-amd64", "alpine-3.21-helix-amd64", "7.0"),   # unknown .NET
            f("alpine-helix-amd64", "alpine-3.21-helix-amd64"),                 # does not name net9.0
            f("alpine-net8.0-helix-amd64", "alpine-3.21-helix-amd64", "8.0"),   # .NET 8 past EOL: warning
            f("alpine-3.21-helix-amd64-latest", "alpine-3.21-helix-amd64"))     # one of the image's tags
    found = problems(tags, catalog, policy, TODAY)
    messages = [m for m, _, s in found if s == "error"]
    assert any("another architecture" in m and "arm64v8" in m for m in messages)
    assert any("declared twice" in m for m in messages)
    assert any("reached end of life on 2026-06-30" in m for m in messages)
    assert any("is .NET 9.0 but its target azurelinux-3.0-net8.0-build-amd64 is .NET 8.0" in m for m in messages)
    assert any(".NET 7.0 is not in dotnetVersions" in m for m in messages)
    assert any("does not name net9.0" in m for m in messages)
    assert any("also a tag of an image" in m for m in messages)
    assert [m for m, _, s in found if s == "warning"] == [
        ".NET 8.0 reached end of life on 2026-11-10: retire floating tag 'alpine-net8.0-helix-amd64'"]
    assert len(messages) == 9  # the first tag breaks nothing; the last breaks two rules


def seen(images: dict[str, dt.date] | None = None, floating: dict[tuple[str, str], dt.date] | None = None):
    """A FirstSeen over a fixed record: since when production served an image, or a floating tag a target."""
    def first_seen(predicate):
        hits = [d for t, d in (images or {}).items() if predicate(frozenset([t]), {})]
        hits += [d for (tag, target), d in (floating or {}).items() if predicate(frozenset(), {tag: target})]
        return min(hits) if hits else None
    return first_seen


def test_evaluation_period_holds_a_move_until_the_target_is_a_month_in_production():
    policy = parse_policy(POLICY)
    prod = (f("alpine-net9.0-helix-amd64", "alpine-3.20-helix-amd64"),)
    cand = (f("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64"),)
    first = seen({"alpine-3.21-helix-amd64": dt.date(2027, 2, 15)})
    hold = compute_holds(prod, (), cand, policy, first, TODAY)["alpine-net9.0-helix-amd64"]
    assert hold.until == dt.date(2027, 3, 17) and hold.serving == "alpine-3.20-helix-amd64"
    assert "evaluation period" in hold.reason and "2027-02-15" in hold.reason
    assert compute_holds(prod, (), cand, policy, first, dt.date(2027, 3, 17)) == {}
    never = compute_holds(prod, (), cand, policy, seen({}), TODAY)["alpine-net9.0-helix-amd64"]
    assert never.until == TODAY + dt.timedelta(days=30) and "not rolled out yet" in never.reason


def test_stability_period_freezes_the_target_before_end_of_life():
    policy = parse_policy(POLICY)
    prod = (f("alpine-net9.0-helix-amd64", "alpine-3.20-helix-amd64"),)
    cand = (f("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64"),)
    old = seen({"alpine-3.21-helix-amd64": dt.date(2026, 1, 1)})
    assert compute_holds(prod, (), cand, policy, old, dt.date(2027, 11, 13)) == {}
    hold = compute_holds(prod, (), cand, policy, old, dt.date(2027, 11, 14))["alpine-net9.0-helix-amd64"]
    assert "stability period" in hold.reason and "2028-05-12" in hold.reason and hold.until is None


def test_servicing_version_follows_the_newest_version_of_its_line():
    policy = parse_policy(POLICY)
    prod = (f("alpine-net9.0-helix-amd64", "alpine-3.20-helix-amd64"),
            f("alpine-net10.0-helix-amd64", "alpine-3.20-helix-amd64", "10.0"))
    cand = (f("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64"),
            f("alpine-net10.0-helix-amd64", "alpine-3.21-helix-amd64", "10.0"))
    # the 3.21 image is old enough, but net10.0 has not served 3.21 yet
    old = {"alpine-3.21-helix-amd64": dt.date(2026, 1, 1)}
    holds = compute_holds(prod, (), cand, policy, seen(old), TODAY)
    assert set(holds) == {"alpine-net9.0-helix-amd64"}
    assert "moves after .NET 10.0" in holds["alpine-net9.0-helix-amd64"].reason
    # net10.0 has served 3.21 since Feb 20: net9.0 follows 30 days later, on Mar 22
    lead = {("alpine-net10.0-helix-amd64", "alpine-3.21-helix-amd64"): dt.date(2027, 2, 20)}
    hold = compute_holds(prod, (), cand, policy, seen(old, lead), TODAY)["alpine-net9.0-helix-amd64"]
    assert hold.until == dt.date(2027, 3, 22) and "servicing .NET 9.0" in hold.reason
    assert compute_holds(prod, (), cand, policy, seen(old, lead), dt.date(2027, 3, 22)) == {}


def test_a_reverted_target_is_held_at_production_s_target():
    policy = parse_policy(POLICY)
    wanted = (f("alpine-net9.0-helix-amd64", "alpine-3.21-helix-amd64"),)
    prod = (f("alpine-net9.0-helix-amd64", "alpine-3.20-helix-amd64"),)     # FR reverted the move
    old = seen({"alpine-3.21-helix-amd64": dt.date(2026, 1, 1)})
    hold = compute_holds(prod, {"alpine-net9.0-helix-amd64"}, wanted, policy, old, TODAY)["alpine-net9.0-helix-amd64"]
    assert "reverted on production" in hold.reason
    assert (hold.serving, hold.wanted, hold.until) == ("alpine-3.20-helix-amd64", "alpine-3.21-helix-amd64", None)
    assert compute_holds(prod, set(), wanted, policy, old, TODAY) == {}


@pytest.mark.parametrize("indent", ["  ", ""])
def test_merged_text_changes_only_the_held_entries_lines(indent):
    def doc(first_target: str) -> str:
        return (f"# floating tags\nfloatingTags:\n{indent}- tag: a-net9.0-amd64   # keep this comment\n"
                f"{indent}  target: {first_target}\n{indent}  dotnet: \"9.0\"\n\n"
                f"{indent}- {{tag: b-net9.0-amd64, target: b-2-amd64, dotnet: \"9.0\"}}\n")
    candidate, production = doc("a-2-amd64"), doc("a-1-amd64").replace("# keep this comment", "# prod")
    from lifecycle.catalogue.floating import FloatingHold

    held = {"a-net9.0-amd64": FloatingHold("a-net9.0-amd64", "r", "a-2-amd64", "a-1-amd64")}
    out = merged_text(candidate, production, held)
    assert out == production.replace("# prod", "# prod")  # the held entry's lines are production's
    assert out.splitlines()[-1] == candidate.splitlines()[-1] and out.startswith("# floating tags\n")
    assert merged_text(candidate, production, {}) == candidate


def test_validate_names_the_floating_file_and_line(tmp_path):
    import shutil
    from pathlib import Path

    from lifecycle.catalogue.source import WorkTree
    from lifecycle.catalogue.validation import validate

    root = Path(__file__).resolve().parents[2]
    for folder in ("manifests", "src"):
        shutil.copytree(root / folder, tmp_path / folder)
    (tmp_path / "manifests/floating.yml").write_text(
        "floatingTags:\n  - tag: azurelinux-net10.0-helix-amd64\n    target: azurelinux-3.0-net9.0-helix-amd64\n"
        "    dotnet: \"10.0\"\n")
    ws = validate(WorkTree(tmp_path), today=dt.date(2027, 1, 1))
    found = [str(p) for p in ws.errors if p.location.file == "manifests/floating.yml"]
    assert found == ["manifests/floating.yml:2: error: floating tag 'azurelinux-net10.0-helix-amd64' is .NET 10.0 "
                     "but its target azurelinux-3.0-net9.0-helix-amd64 is .NET 9.0"]
