"""The one revert-hold rule, over plain key->value maps (image definitions and floating-tag targets alike)."""

from __future__ import annotations

from lifecycle.production.revert_holds import Reverted, promoted_values, reverted


def history(*rollouts: tuple[dict[str, str], dict[str, str]]):
    """Rollouts newest first as (tree written, main promoted) value maps, with the commits read recorded."""
    values = {}
    pairs = []
    for i, (written, wanted) in enumerate(rollouts):
        values[f"w{i}"], values[f"m{i}"] = written, wanted
        pairs.append((f"w{i}", f"m{i}"))
    read: list[str] = []

    def values_at(sha: str) -> dict[str, str]:
        read.append(sha)
        return values[sha]
    return pairs, values_at, read


def test_the_newest_rollout_settles_every_key_it_took_from_main():
    pairs, values_at, read = history(({"a": "1", "b": "2"}, {"a": "1", "b": "2"}), ({"a": "0"}, {"a": "0"}))
    assert promoted_values(pairs, values_at) == {"a": "1", "b": "2"}
    assert read == ["w0", "m0"]       # older rollouts are not read


def test_a_key_held_by_later_rollouts_keeps_the_value_it_was_last_taken_with():
    # rollout 2 moved a to 1.1, FR reverted it, rollouts 1 and 0 held it (main unchanged)
    pairs, values_at, read = history(({"a": "1.0", "b": "y"}, {"a": "1.1", "b": "y"}),
                                     ({"a": "1.0", "b": "x"}, {"a": "1.1", "b": "x"}),
                                     ({"a": "1.1"}, {"a": "1.1"}),
                                     ({"a": "1.0"}, {"a": "1.0"}))
    promoted = promoted_values(pairs, values_at)
    assert promoted == {"a": "1.1", "b": "y"} and "w3" not in read
    assert reverted({"a": "1.0", "b": "y"}, promoted, {"a": "1.1", "b": "y"}) == {"a": Reverted("a", "1.0", "1.1")}


def test_a_hold_for_another_reason_is_not_a_revert():
    # an evaluation period held a at 1.0 while main wanted 1.1: what was last rolled out is 1.0
    pairs, values_at, _ = history(({"a": "1.0"}, {"a": "1.1"}), ({"a": "1.0"}, {"a": "1.0"}))
    promoted = promoted_values(pairs, values_at)
    assert promoted == {"a": "1.0"}
    assert reverted({"a": "1.0"}, promoted, {"a": "1.1"}) == {}


def test_a_new_value_on_main_or_a_revert_of_the_revert_lifts_it():
    promoted = {"a": "1.1"}
    assert reverted({"a": "1.0"}, promoted, {"a": "1.2"}) == {}     # main moved on
    assert reverted({"a": "1.1"}, promoted, {"a": "1.1"}) == {}     # the revert was reverted
    assert reverted({}, promoted, {"a": "1.1"}) == {"a": Reverted("a", None, "1.1")}   # removed on production
    assert reverted({"a": "1.0"}, promoted, {"b": "1.1"}) == {}     # renamed on main: a new key


def test_no_rollout_promotes_nothing():
    assert promoted_values([], lambda sha: {}) == {}
