"""One catalogue, three registry repositories, real builds: every image's tags live in its own repository.

`core` holds the root image; `tools` builds on it (a parent in another repository); `apps` builds on tools
and holds an unrelated image with the same tag base as the root (tags are unique per repository only).
Plan, publish, rollout, a revert with reconcile, stale, cleanup and status, each asserted per repository
through the registry API.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap

import pytest

from lifecycle.build import labels as labels_mod
from lifecycle.build.publish import publish
from lifecycle.production.gitops import GitOps
from lifecycle.production.reconcile import reconcile
from lifecycle.production.rollout import rollout
from tests.fixtures.gitops_origin import git, quiet

pytestmark = pytest.mark.e2e

ROOT, TOOLS, APP, OTHER = "root-amd64", "tools-amd64", "app-amd64", "root-amd64"
ROOT_DF = "src/root/Dockerfile"


def _files(host: str, core: str, tools: str, apps: str, base: str) -> dict[str, str]:
    d = textwrap.dedent
    return {
        "manifests/images.yml": d(f"""\
            registry: {host}
            repository: {core}
            images:
              - tagBase: {ROOT}
                dockerfile: src/root
                platform: {{os: linux, architecture: amd64}}
                tests: ["grep -q 'root v1' /etc/root-release"]
              - tagBase: {TOOLS}
                repository: {tools}
                dockerfile: src/tools
                platform: {{os: linux, architecture: amd64}}
                tests: ["test -f /etc/tools-release"]
              - tagBase: {APP}
                repository: {apps}
                dockerfile: src/app
                platform: {{os: linux, architecture: amd64}}
                tests: ["test -f /etc/app-release"]
              - tagBase: {OTHER}
                repository: {apps}
                dockerfile: src/other
                platform: {{os: linux, architecture: amd64}}
                tests: ["test -f /etc/other-release"]
            """),
        "manifests/policy.yml": d(f"""\
            approvedBases: ["{base.rpartition(':')[0]}:*"]
            labelPrefix: com.example.lifecycle
            bareTagFollowsLatest: true
            retention: {{days: 90, keepLast: 1}}
            """),
        ROOT_DF: f"FROM {base}\nRUN echo 'root v1' > /etc/root-release\n",
        "src/tools/Dockerfile": f"FROM {host}/{core}:{ROOT}\nRUN echo tools > /etc/tools-release\n",
        "src/app/Dockerfile": f"FROM {host}/{tools}:{TOOLS}\nRUN echo app > /etc/app-release\n",
        "src/other/Dockerfile": f"FROM {base}\nRUN echo other > /etc/other-release\n",
        "README.md": "# three repositories\n",
    }


def _lifecycle(cwd, *args: str, engine=None) -> dict:
    env = {**os.environ, **({"DOCKER_HOST": engine.base_url} if engine else {})}
    run = subprocess.run([sys.executable, "-m", "lifecycle", *args, "--repo", str(cwd), "--output", "json"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_every_flow_works_per_repository(gitops_origin, registry, client, engine, base_image, tmp_path):
    prefix = f"test/multi-{secrets.token_hex(3)}"
    core, tools, apps = f"{prefix}/core", f"{prefix}/tools", f"{prefix}/apps"
    where = {ROOT: core, f"{tools}:{TOOLS}": tools, f"{apps}:{APP}": apps, f"{apps}:{OTHER}": apps}
    origin = gitops_origin(registry.host, core)
    c0 = origin.commit({p: None for p in ("manifests/images.yml", "manifests/policy.yml")}
                       | _files(registry.host, core, tools, apps, base_image.ref), "three repositories")
    git(origin.dev, "rm", "-rq", "--ignore-unmatch", "src/busybox")
    git(origin.dev, "commit", "-qm", "only the three repositories' images")
    git(origin.dev, "push", "-q", "origin", "main", "main:production")  # production starts where main is
    c0 = origin.head("main")

    def digest(name: str, suffix: str) -> str | None:
        return client.try_resolve(where[name], f"{name.rpartition(':')[2]}-{suffix}")

    # -- publish: -staging and the immutable tags in each image's own repository ----------------------
    first = publish(origin.dev, None, channel="staging", client=client, engine=engine, reporter=quiet())
    assert first.ok and sorted(first.by_status("published")) == sorted(where)
    by = {r.tagbase: r for r in first.results}
    for name, repository in where.items():
        tag = name.rpartition(":")[2]
        assert client.try_resolve(repository, f"{tag}-staging") == by[name].digest
        assert client.try_resolve(repository, by[name].immutable_tag) == by[name].digest
        assert by[name].immutable_tag.startswith(f"{tag}-")
    assert client.try_resolve(core, f"{TOOLS}-staging") is None and client.try_resolve(tools, f"{APP}-staging") is None
    # the same tag base in two repositories: two images, two digests
    assert by[ROOT].digest != by[f"{apps}:{OTHER}"].digest
    # a parent in another repository resolves to its digest there, recorded in the child's labels
    assert by[f"{tools}:{TOOLS}"].base_digest == by[ROOT].digest
    assert by[f"{apps}:{APP}"].base_digest == by[f"{tools}:{TOOLS}"].digest
    labels = client.config(tools, by[f"{tools}:{TOOLS}"].digest).labels
    assert labels[labels_mod.BASE_DIGEST] == by[ROOT].digest

    # a second publish finds every channel tag current, in its repository
    again = publish(origin.dev, None, channel="staging", client=client, engine=engine, reporter=quiet())
    assert sorted(again.by_status("skipped")) == sorted(where)

    # -- rollout: -latest (and the bare tag) in each repository -----------------------------------------
    rollout(GitOps(origin.agent), client, quiet())
    v1 = {name: by[name].digest for name in where}
    for name in where:
        assert digest(name, "latest") == v1[name]
        assert client.try_resolve(where[name], name.rpartition(":")[2]) == v1[name]

    # -- plan --since: the root's change reaches its descendants across repositories, and only them -----
    c1 = origin.commit({ROOT_DF: origin.show(c0, ROOT_DF).replace("root v1", "root v2")
                        + "RUN echo 'root v1' >> /etc/root-release\n"}, "root v2")
    plan = _lifecycle(origin.dev, "plan", "--since", c0)
    planned = [i["tagbase"] if isinstance(i, dict) else i for i in plan["images"]]
    assert sorted(planned) == sorted([ROOT, f"{tools}:{TOOLS}", f"{apps}:{APP}"])

    second = publish(origin.dev, None, channel="staging", client=client, engine=engine, reporter=quiet())
    assert second.ok and sorted(second.by_status("published")) == sorted(planned)
    assert second.by_status("skipped") == [f"{apps}:{OTHER}"]
    v2 = {r.tagbase: r.digest for r in second.results}
    for name in planned:
        assert digest(name, "staging") == v2[name] != v1[name]
        assert digest(name, "latest") == v1[name]          # production untouched until the rollout
    assert {r.tagbase: r.base_digest for r in second.results}[f"{tools}:{TOOLS}"] == v2[ROOT]

    result = rollout(GitOps(origin.agent), client, quiet())
    assert result.pushed
    for name in where:
        assert digest(name, "latest") == v2[name]
    moved = {(e.repository, e.tag) for e in result.entries if e.status == "moved"}
    assert moved == {(where[n], f"{n.rpartition(':')[2]}-latest") for n in planned} | \
        {(where[n], n.rpartition(":")[2]) for n in planned}

    # -- emergency rollback (dry run): the tools image's tags, in its repository, back to v1 ---------------
    name = f"{tools}:{TOOLS}"
    emergency = _lifecycle(origin.dev, "rollback", "--image", name, "--emergency", "--dry-run")
    assert {(e["repository"], e["tag"], e["previous"], e["new"], e["status"]) for e in emergency["tags"]} == {
        (tools, f"{TOOLS}-latest", v2[name], v1[name], "would-move"), (tools, TOOLS, v2[name], v1[name], "would-move")}
    assert digest(name, "latest") == v2[name]   # a dry run moved nothing

    # -- rollback: revert the rollout on production, reconcile restores the v1 digests where they live ----
    merge = origin.head("production")
    origin.revert_on_production(merge)
    report = reconcile(GitOps(origin.agent), client, quiet(), publish_missing=lambda *_: pytest.fail("rebuilt"))
    assert report.ok and not report.built
    for name in where:
        assert digest(name, "latest") == v1[name]
        assert digest(name, "staging") == (v2 if name in planned else v1)[name]  # staging is main's
    restored = {(e.repository, e.tag): e.new for e in report.entries if e.status == "moved"}
    assert restored == {(where[n], f"{n.rpartition(':')[2]}-latest"): v1[n] for n in planned} | \
        {(where[n], n.rpartition(":")[2]): v1[n] for n in planned}

    # -- stale: each channel tag read from its own repository --------------------------------------------
    stale = _lifecycle(origin.dev, "stale", "--channel", "staging", "--no-package-check")
    rows = {row["tagbase"]: row for row in stale["images"]}
    assert set(rows) == set(where)
    assert all(row["digest"] == v2.get(n, v1[n]) and row["repository"] == where[n] for n, row in rows.items())

    # -- cleanup: one plan per repository, each deciding about its own tags only -------------------------
    later = "2027-12-01T00:00:00Z"   # past the 90-day retention: every tag not kept for a reason could go
    run = _lifecycle(origin.dev, "cleanup", "--dry-run", "--now", later, "--plan-file", str(tmp_path / "plan.json"))
    plans = {p["plan"]["repository"]: p["plan"] for p in run["plans"]}
    assert list(plans) == [core, tools, apps]                        # the catalogue's order, default first
    for repository in (core, tools, apps):   # --plan-file: one file per repository, for --from-plan
        path = tmp_path / ("plan.json" if repository == core else f"plan.{repository.replace('/', '-')}.json")
        assert json.loads(path.read_text())["tags"] == plans[repository]["tags"]
    assert run["plan"]["repository"] == core                        # the default repository's, as before
    for repository, plan in plans.items():
        assert {d["tag"] for d in plan["tags"]} == set(client.tags(repository))
    decisions = {(r, d["tag"]): d for r, p in plans.items() for d in p["tags"]}
    for name in planned:   # v1 is older than keepLast 1 allows, but -latest serves it again: kept for that
        v1_tag = decisions[where[name], by[name].immutable_tag]
        tag = name.rpartition(":")[2]   # -latest and the bare tag serve it again (bareTagFollowsLatest)
        assert v1_tag["candidate"] and v1_tag["action"] == "keep"
        assert v1_tag["reason"].endswith((f"kept: digest also tagged {tag} (kept)",
                                          f"kept: digest also tagged {tag}-latest (kept)"))
    # apps holds its own root-amd64: only its immutable tag, the newest there, whatever core holds
    apps_root = [d for (r, _), d in decisions.items()
                 if r == apps and d["tagbase"] == OTHER and d["kind"] == "immutable"]
    assert [d["tag"] for d in apps_root] == [by[f"{apps}:{OTHER}"].immutable_tag]
    assert "newest 1" in apps_root[0]["reason"]
    assert all(not p["deletions"] for p in plans.values())

    # -- status: each image's repository and the digests there ---------------------------------------------
    status = _lifecycle(origin.agent, "status")
    images = {i["tagbase"]: i for i in status["images"]}
    assert {n: images[n]["repository"] for n in where} == where
    assert all(images[n]["latest"]["digest"] == v1[n] for n in where)
    assert all(images[n]["staging"]["digest"] == v2.get(n, v1[n]) for n in where)
    # each image's tags are read from its own repository: the immutable tags of v1 and v2 are listed
    for name in planned:
        listed = {t["tag"] for t in images[name]["tags"]}
        assert {by[name].immutable_tag, f"{name.rpartition(':')[2]}-latest"} <= listed

    # -- consumers: references into each repository classified there, migrated within it ------------------
    host = registry.host
    app_pin = by[f"{apps}:{APP}"].immutable_tag
    consumer = origin.dev.parent / "consumer"
    consumer.mkdir()
    pipeline = textwrap.dedent(f"""\
        resources:
          containers:
            - container: app
              image: {host}/{apps}:{app_pin}
            - container: root
              image: {host}/{core}:{ROOT}
            - container: tools
              image: {host}/{tools}:{TOOLS}-latest
            - container: other
              image: {host}/{apps}:{OTHER}
        """)
    (consumer / "pipeline.yml").write_text(pipeline)
    git(consumer, "init", "-q", "-b", "main")
    (origin.dev / "manifests/consumers.yml").write_text("repositories:\n  - name: product\n    path: ../consumer\n")
    scanned = _lifecycle(origin.dev, "consumers", "scan")
    found = {r["reference"]: r for r in scanned["references"]}
    assert {ref: (r["class"], r["tagbase"], r["digest"]) for ref, r in found.items()} == {
        f"{host}/{apps}:{app_pin}": ("pinned", f"{apps}:{APP}", v1[f"{apps}:{APP}"]),
        f"{host}/{core}:{ROOT}": ("bare", ROOT, v1[ROOT]),
        f"{host}/{tools}:{TOOLS}-latest": ("latest", f"{tools}:{TOOLS}", v1[f"{tools}:{TOOLS}"]),
        f"{host}/{apps}:{OTHER}": ("bare", f"{apps}:{OTHER}", v1[f"{apps}:{OTHER}"]),
    }
    _lifecycle(origin.dev, "consumers", "migrate")
    assert (consumer / "pipeline.yml").read_text() == pipeline \
        .replace(f"{apps}:{app_pin}", f"{apps}:{APP}-latest").replace(f"{core}:{ROOT}\n", f"{core}:{ROOT}-latest\n") \
        .replace(f"{apps}:{OTHER}\n", f"{apps}:{OTHER}-latest\n")
    # status counts each consumer reference for the image of the repository it names (root-amd64 is in two)
    usage = tmp_path / "usage.json"
    _lifecycle(origin.dev, "consumers", "scan", "--usage-out", str(usage))
    assert json.loads(usage.read_text())["repositories"] == [core, tools, apps]
    status = _lifecycle(origin.agent, "status", "--usage", str(usage), "--no-cleanup")
    assert {i["tagbase"]: i["consumers"] for i in status["images"]} == {name: {"latest": 1} for name in where}
