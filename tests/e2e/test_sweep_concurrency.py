"""Reliability sweep, concurrency: two rollouts (from two agent clones) and a cleanup started together
against one registry and one bare origin. Production ends with exactly one merge of the chosen commit,
every -latest at its LKG, and every tag that was not a cleanup candidate still resolves."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from lifecycle.cleanup.rules import Usage, decide
from lifecycle.cleanup.registry import load_manifests, read_inventory
from lifecycle.production.lkg import LkgResolver
from lifecycle.sample import SOLO, TAGBASES
from tests.e2e.test_sweep_faults import assert_complete
from tests.e2e.test_sweep_rollout_faults import merges_of
from tests.fixtures.gitops_origin import git

pytestmark = pytest.mark.e2e
SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lifecycle", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=dict(os.environ))


@pytest.mark.parametrize("round_", [1, 2])
def test_two_rollouts_and_a_cleanup_together(registry, gitops_origin, round_):
    client = registry.client()
    origin = gitops_origin(registry.host)
    second = origin.root / "agent2"
    git(origin.root, "clone", "-q", str(origin.bare), str(second))
    for name, value in (("user.name", "Agent Two"), ("user.email", "agent2@lifecycle.invalid")):
        git(second, "config", name, value)
    # three generations of the first catalogue (the older ones are cleanup's work), then main moves on
    for _ in range(3):
        origin.publish_synthetic(client, origin.initial, list(TAGBASES))
    c1 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    origin.publish_synthetic(client, c1)
    ws = origin.workspace(c1)
    resolver = LkgResolver(client, origin.repository, ws.policy.definition_label)
    expected_latest = {t: resolver.lkg(t, ws.definitions[t]).digest for t in TAGBASES}
    assert all(expected_latest.values())

    catalog, policy = load_manifests(origin.agent)
    now = dt.datetime.now(dt.timezone.utc)
    plan = decide(read_inventory(client, origin.repository, catalog), catalog, policy, Usage(), now)
    assert plan.deletions, "cleanup must have something to delete for the race to mean anything"
    candidates = {d.tag for d in plan.decisions if d.candidate}
    before = assert_complete(client, origin.repository)
    survivors = {t: d for t, d in before.items() if t not in candidates}

    processes = {
        "rollout 1": start("rollout", "--repo", str(origin.agent), "--journal", str(origin.root / "j1.json")),
        "rollout 2": start("rollout", "--repo", str(second), "--journal", str(origin.root / "j2.json")),
        "cleanup": start("cleanup", "--apply", "--repo", str(origin.agent)),
    }
    if round_ == 2:   # the other order of arrival: cleanup first, rollouts a moment later
        time.sleep(0.3)
    outputs = {name: (p.wait(timeout=300), *p.communicate()) for name, p in processes.items()}
    for name, (code, out, err) in outputs.items():
        assert code == 0, f"{name}: {code}\n{out}\n{err}"

    headlines = sorted(outputs[n][1].splitlines()[0].split(" ")[1] for n in ("rollout 1", "rollout 2"))
    assert headlines == [c1[:10], "merged"], headlines   # one merged; the other: "<c1> is already in production"
    # exactly one merge of c1, whichever rollout made it; the other found it and only (re)checked tags
    merges = merges_of(origin, c1)
    assert merges == [origin.head("production")]
    assert origin.tree(merges[0]) == origin.tree(c1)
    assert git(second, "rev-parse", "HEAD").strip() == origin.initial   # callers' checkouts untouched
    after = assert_complete(client, origin.repository)
    for tagbase in TAGBASES:
        assert after[f"{tagbase}-latest"] == expected_latest[tagbase]
        assert after[tagbase] == expected_latest[tagbase]                # bare tag follows latest
    lost = {t for t in survivors if after.get(t) != survivors[t]}
    assert not lost, f"tags lost or moved that were not cleanup candidates: {sorted(lost)}"
    assert after[f"{SOLO}-staging"] == before[f"{SOLO}-staging"]
    # cleanup did its work, and nothing a rollout promoted was deleted
    assert set(after) < set(before) | {f"{t}-latest" for t in TAGBASES} | set(TAGBASES)
    assert any(t not in after for t in candidates)
    client.close()
