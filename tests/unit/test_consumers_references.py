"""Finding and classifying references in realistic consumer files (no registry: pure text and YAML)."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.consumers.classify import KnownImages, classify_all, tag_form
from lifecycle.consumers.config import glob_match, load_consumers
from lifecycle.consumers.references import Pattern, find_references
from lifecycle.errors import InputError
from tests.fixtures.consumers import ALIAS, EXPECTED, TAGBASES, TODAY


def _known(sample) -> KnownImages:
    return KnownImages(sample.registry, sample.repository, frozenset(TAGBASES),
                       {t: d for t, d in TAGBASES.items() if d})


def _scan(sample):
    pattern = Pattern((sample.registry, ALIAS), sample.repository)
    found = []
    for path, data in sorted(sample.files().items()):
        text = data.decode()
        for c in classify_all(find_references(path, text, pattern), _known(sample), None, TODAY):
            found.append((c, text))
    return found


def test_every_reference_found_with_line_kind_and_class(consumer_sample):
    got = {(c.reference.path, c.reference.line, c.reference.kind, c.form, c.klass, c.reference.text)
           for c, _ in _scan(consumer_sample)}
    want = {(e.path, e.line, e.kind, e.form, e.klass, consumer_sample.fill(e.text)) for e in EXPECTED}
    assert got == want


def test_spans_and_columns_point_at_the_reference_text(consumer_sample):
    for c, text in _scan(consumer_sample):
        r = c.reference
        assert text[r.start:r.end] == r.text
        line_text = text.splitlines()[r.line - 1]
        assert line_text[r.column - 1:r.end_column - 1] == r.text


def test_yaml_paths_and_helix_queue_names(consumer_sample):
    by_line = {(c.reference.path, c.reference.line): c.reference for c, _ in _scan(consumer_sample)}
    assert by_line[("azure-pipelines.yml", 16)].yaml_path == "resources.containers[0].image"
    assert by_line[("azure-pipelines.yml", 37)].yaml_path == "jobs[2].container.image"
    assert by_line[("azure-pipelines.yml", 45)].queue == "(Debian.12.Arm64)Ubuntu.2204.ArmArch.Open"
    assert by_line[("azure-pipelines.yml", 45)].yaml_path == "jobs[3].strategy.matrix.debian.helixQueue"
    # the anchored mapping is reported once, where it is written, not again at each alias
    assert by_line[("eng/legs.yaml", 4)].yaml_path == "defaults.image"
    assert sum(1 for (p, _) in by_line if p == "eng/legs.yaml") == 4


@pytest.mark.parametrize("text", [
    "image: otheracr.io/dotnet-buildtools/prereqs:ubuntu-22.04-amd64\n",
    "image: myacr.azurecr.io/dotnet-buildtools/prereqs-extra:ubuntu-22.04-amd64\n",
    "image: xmyacr.azurecr.io/dotnet-buildtools/prereqs:ubuntu-22.04-amd64\n",
    "image: myacr.azurecr.io/dotnet-buildtools/prereqs/sub:ubuntu-22.04-amd64\n",
    "image: myacr.azurecr.io/dotnet-buildtools/prereqs\n",
])
def test_other_images_are_not_references(text):
    assert find_references("a.yml", text, Pattern(("myacr.azurecr.io",), "dotnet-buildtools/prereqs")) == []


def test_tag_and_digest_together_is_a_digest_reference():
    digest = "sha256:" + "0f" * 32
    text = f"FROM myacr.azurecr.io/dotnet-buildtools/prereqs:ubuntu-22.04-amd64@{digest}\n"
    [ref] = find_references("Dockerfile", text, Pattern(("myacr.azurecr.io",), "dotnet-buildtools/prereqs"))
    assert (ref.tag, ref.digest, ref.kind) == ("ubuntu-22.04-amd64", digest, "dockerfile-from")
    known = KnownImages("myacr.azurecr.io", "dotnet-buildtools/prereqs", frozenset({"ubuntu-22.04-amd64"}))
    [c] = classify_all([ref], known, None, TODAY)
    assert (c.form, c.tagbase, c.migratable) == ("digest", "ubuntu-22.04-amd64", False)


def test_unparsable_yaml_is_still_scanned_as_text():
    text = "key: [unclosed\n  image: myacr.azurecr.io/dotnet-buildtools/prereqs:ubuntu-22.04-amd64\n"
    [ref] = find_references("broken.yml", text, Pattern(("myacr.azurecr.io",), "dotnet-buildtools/prereqs"))
    assert (ref.kind, ref.line) == ("text", 2)


def test_tag_forms_and_eol_precedence():
    bases = frozenset({"ubuntu-22.04-amd64", "a-1-amd64"})
    assert tag_form("ubuntu-22.04-amd64-latest", bases) == ("latest", "ubuntu-22.04-amd64")
    assert tag_form("ubuntu-22.04-amd64-staging", bases) == ("staging", "ubuntu-22.04-amd64")
    assert tag_form("ubuntu-22.04-amd64-20260101000000-abcdef1", bases) == ("pinned", "ubuntu-22.04-amd64")
    assert tag_form("ubuntu-22.04-amd64", bases) == ("bare", "ubuntu-22.04-amd64")
    assert tag_form("ubuntu-24.04-amd64-latest", bases) == ("unknown", "ubuntu-24.04-amd64")
    assert tag_form("whatever", bases) == ("unknown", None)
    text = "x: myacr.azurecr.io/r:a-1-amd64-latest\n"
    refs = find_references("x.yml", text, Pattern(("myacr.azurecr.io",), "r"))
    known = KnownImages("myacr.azurecr.io", "r", bases, {"a-1-amd64": dt.date(2026, 1, 1)})
    assert classify_all(refs, known, None, dt.date(2026, 1, 1))[0].klass == "latest"   # EOL day still fine
    assert classify_all(refs, known, None, dt.date(2026, 1, 2))[0].klass == "eol"


def test_shared_tags_count_as_latest():
    known = KnownImages("h", "r", frozenset({"a-1-amd64"}), shared_tags={"a-amd64": "a-1-amd64"})
    refs = find_references("x.txt", "h/r:a-amd64\n", Pattern(("h",), "r"))
    [c] = classify_all(refs, known, None, TODAY)
    assert (c.form, c.tagbase, c.migratable) == ("latest", "a-1-amd64", False)


@pytest.mark.parametrize("pattern,path,matches", [
    ("**/*.yml", "a.yml", True),
    ("**/*.yml", "eng/pipelines/a.yml", True),
    ("*.yml", "eng/pipelines/a.yml", True),        # no '/': the file name anywhere
    ("eng/*.yml", "eng/pipelines/a.yml", False),   # '*' stays in one folder
    ("eng/**", "eng/pipelines/a.yml", True),
    ("eng/", "eng/pipelines/a.yml", True),
    ("Dockerfile*", "src/x/Dockerfile.arm64", True),
    ("docs/**", "src/docs.yml", False),
])
def test_globs(pattern, path, matches):
    assert glob_match(pattern, path) is matches


def test_consumers_file_loads_and_bad_one_names_the_line(tmp_path):
    good = tmp_path / "consumers.yml"
    good.write_text(
        "# yaml-language-server: $schema=../scripts/lifecycle/schemas/consumers.schema.json\n"
        "registryAliases: [mcr.microsoft.com]\n"
        "exclude: ['docs/**']\n"
        "repositories:\n"
        "  - name: local\n"
        "    path: ../consumer\n"
        "    include: ['**/*.yml']\n"
        "  - name: remote\n"
        "    azureDevOps: {organization: dnceng, project: internal, repository: dotnet-runtime}\n")
    config = load_consumers(good, tmp_path)
    local, remote = config.repositories
    assert local.path == (tmp_path / "../consumer").resolve()
    assert local.wants("eng/a.yml") and not local.wants("docs/a.yml") and not local.wants("eng/a.txt")
    assert remote.azure_devops.organization_url == "https://dev.azure.com/dnceng"
    assert remote.azure_devops.branch == "main"
    assert config.registry_aliases == ("mcr.microsoft.com",)

    bad = tmp_path / "bad.yml"
    bad.write_text("repositories:\n  - name: x\n    path: a\n    branch: main\n")
    with pytest.raises(InputError) as err:
        load_consumers(bad, tmp_path, "bad.yml")
    assert "bad.yml:4:5: unknown key 'branch'" in str(err.value)


def test_excluded_folders_are_not_walked(tmp_path):
    from lifecycle.consumers.config import ConsumerRepo
    from lifecycle.consumers.sources import LocalSource

    for rel in ("a.yml", "artifacts/x.yml", "sub/node_modules/y.yml", "sub/z.yml", ".git/config.yml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x: 1\n")
    repo = ConsumerRepo("r", tmp_path, include=("*.yml",), exclude=("artifacts/**", "**/node_modules/**"))
    assert LocalSource(repo).files() == ["a.yml", "sub/z.yml"]
    assert repo.prunes("artifacts") and repo.prunes("sub/node_modules") and not repo.prunes("sub")


def test_a_sentence_full_stop_is_not_part_of_the_tag():
    text = "Builds use myacr.azurecr.io/dotnet-buildtools/prereqs:ubuntu-22.04-amd64-latest.\n"
    [ref] = find_references("README.md", text, Pattern(("myacr.azurecr.io",), "dotnet-buildtools/prereqs"))
    assert ref.tag == "ubuntu-22.04-amd64-latest"
