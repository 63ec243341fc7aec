"""`lifecycle stale` against the real registry: re-pushed bases, refreshed parents, age, end of life."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.images import make_layer, push_image
from tests.fixtures.lifecycle_repo import LABEL_PREFIX, gitops_repo, run_cli

pytestmark = pytest.mark.e2e

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC)
A, B, C, D, H, E, F, G = ("os-1.0-amd64", "os-1.0-build-amd64", "os-1.0-build-test-amd64", "other-1.0-amd64",
                          "multi-1.0-amd64", "new-1.0-amd64", "eol-1.0-amd64", "aged-1.0-amd64")


@pytest.fixture
def setup(registry, unique_repo, tmp_path):
    client = registry.client()
    base1 = f"{registry.host}/base/{unique_repo.split('/')[-1]}-one:1"
    base2 = f"{registry.host}/base/{unique_repo.split('/')[-1]}-two:1"
    own = f"{registry.host}/{unique_repo}"
    dockerfiles = {
        A: f"FROM {base1}\nRUN echo a\n",
        B: f"FROM {own}:{A}\nRUN echo b\n",
        C: f"FROM {own}:{B}\nRUN echo c\n",
        D: f"FROM {base2}\n",
        H: f"FROM {base2} AS tools\nRUN echo t\nFROM {base1}\nCOPY --from=tools /bin/sh /bin/x\n",
        E: f"FROM {base1}\n",
        F: f"FROM {base1}\n",
        G: f"FROM {base2}\n",
    }
    repo = gitops_repo(tmp_path, registry.host, unique_repo, dockerfiles,
                       extra={F: {"endOfLife": "2020-01-31"}})
    ws = Workspace.load(WorkTree(repo))
    bases = {base1: push_base(client, base1, "v1"), base2: push_base(client, base2, "v1")}

    def publish(tagbase: str, recorded: dict[str, str], created: dt.datetime = NOW - dt.timedelta(days=1)) -> str:
        labels = {"org.opencontainers.image.revision": "0" * 40, "org.opencontainers.image.created": created.isoformat(),
                  f"{LABEL_PREFIX}.definition": ws.definitions[tagbase]}
        if len(recorded) == 1:
            (name, digest), = recorded.items()
            labels.update({"org.opencontainers.image.base.name": name, "org.opencontainers.image.base.digest": digest})
        else:
            labels[f"{LABEL_PREFIX}.bases"] = json.dumps(recorded)
            labels["org.opencontainers.image.base.name"] = base1
            labels["org.opencontainers.image.base.digest"] = recorded[base1]
        return push_image(client, unique_repo, f"{tagbase}-staging", labels=labels, created=created)

    digests = {A: publish(A, {base1: bases[base1]})}
    digests[B] = publish(B, {f"{own}:{A}": digests[A]})
    digests[C] = publish(C, {f"{own}:{B}": digests[B]})
    digests[D] = publish(D, {base2: bases[base2]})
    digests[H] = publish(H, {base2: bases[base2], base1: bases[base1]})
    digests[F] = publish(F, {base1: bases[base1]})
    digests[G] = publish(G, {base2: bases[base2]}, created=NOW - dt.timedelta(days=45))
    yield {"client": client, "repo": repo, "repository": unique_repo, "base1": base1, "base2": base2,
           "publish": publish, "digests": digests, "own": own}
    client.close()


def push_base(client, ref: str, content: str) -> str:
    repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
    return push_image(client, repository, tag, layers=[make_layer({"etc/os-release": content.encode()})])


def report(capsys, repo, *extra: str) -> dict:
    code, out, err = run_cli(capsys, "stale", "--repo", str(repo), "--channel", "staging", "--output", "json",
                             "--no-package-check", *extra)
    assert code == 0, err
    return json.loads(out)


def by_image(data: dict) -> dict[str, dict]:
    return {e["tagbase"]: e for e in data["images"]}


def test_fresh_images_are_current_and_age_eol_unpublished_are_reported(setup, capsys):
    data = report(capsys, setup["repo"])
    images = by_image(data)
    assert {t for t, e in images.items() if e["status"] == "current"} == {A, B, C, D, H}
    assert images[E]["status"] == "not published"
    assert images[F]["reasons"] == ["end of life 2020-01-31 has passed"]
    assert len(images[G]["reasons"]) == 1 and "older than the 30-day max age" in images[G]["reasons"][0]
    assert set(data["stale"]) == {E, F, G}
    assert set(data["rebuild"]) == {E, F, G}


def test_repushed_base_makes_its_images_and_their_descendants_stale(setup, capsys, monkeypatch):
    old = setup["digests"]
    new_base = push_base(setup["client"], setup["base1"], "v2 with patches")
    data = report(capsys, setup["repo"])
    images = by_image(data)
    assert images[A]["status"] == "stale"
    assert images[A]["reasons"] == [f"base {setup['base1']} changed (sha256:"
                                    f"{images[A]['bases'][setup['base1']][7:19]} -> {new_base[:19]})"]
    assert images[H]["status"] == "stale" and any(setup["base1"] in r for r in images[H]["reasons"])
    assert images[B]["status"] == images[C]["status"] == "rebuild"
    assert images[B]["reasons"] == [f"parent {A} is stale"]
    assert images[C]["reasons"] == [f"parent {A} is stale"]
    assert images[D]["status"] == "current"
    assert set(data["rebuild"]) == {A, B, C, H, E, F, G}
    assert data["rebuild"].index(A) < data["rebuild"].index(B) < data["rebuild"].index(C)
    assert images[A]["digest"] == old[A]

    monkeypatch.setenv("TF_BUILD", "True")
    code, out, err = run_cli(capsys, "stale", "--repo", str(setup["repo"]), "--channel", "staging", "--matrix",
                             "--output", "json", "--no-package-check")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("##vso[task.setvariable variable=matrix;isOutput=true]"))
    matrix = json.loads(line.split("]", 1)[1])
    legs = [leg["images"].split(",") for leg in matrix.values()]
    assert sorted(t for leg in legs for t in leg) == sorted({A, B, C, H, E, F, G})
    chain = next(leg for leg in legs if A in leg)
    assert chain.index(A) < chain.index(B) < chain.index(C)


def test_refreshed_parent_makes_children_stale(setup, capsys):
    client, base1 = setup["client"], setup["base1"]
    setup["publish"](A, {base1: client.resolve(*base1.split("/", 1)[1].rsplit(":", 1))},
                     created=dt.datetime.now(UTC))  # a rebuild of A with the same base: new digest
    images = by_image(report(capsys, setup["repo"]))
    assert images[A]["status"] == "current"
    assert images[B]["status"] == "stale"
    assert images[B]["reasons"][0].startswith(f"parent {A}-staging changed")
    assert images[C]["status"] == "rebuild" and images[C]["reasons"] == [f"parent {B} is stale"]


def test_definition_change_and_table_output(setup, capsys):
    dockerfile = setup["repo"] / "src/other/1.0/amd64/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo changed\n")
    images = by_image(report(capsys, setup["repo"]))
    assert images[D]["reasons"] == ["definition changed"]
    # the default runs the package check too: these synthetic images have no shell, so it has no verdict
    code, out, err = run_cli(capsys, "stale", "--repo", str(setup["repo"]), "--channel", "staging")
    assert code == 0 and "definition changed" in out and D in out, err
    assert "PACKAGES" in out and "no known package manager (no shell to read /etc/os-release)" in out


def test_a_deleted_base_is_reported(setup, capsys):
    client, base2 = setup["client"], setup["base2"]
    repository, tag = base2.split("/", 1)[1].rsplit(":", 1)
    client.delete(repository, client.resolve(repository, tag))
    images = by_image(report(capsys, setup["repo"]))
    for tagbase in (D, G, H):
        assert f"base {base2} no longer exists in its registry" in images[tagbase]["reasons"]
    assert images[A]["status"] == "current"
