"""What the CLI prints per output mode: each problem once (issue 11 item 6), and in Azure Pipelines every
verb masks the registry secrets and ends a failure with a logging command (issue 11 item 13)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.fixtures.catalogs import run_cli, sample_files
from tests.fixtures.gitrepo import make_repo

PIPELINE_ERROR = "##vso[task.logissue type=error]"
PIPELINE_WARNING = "##vso[task.logissue type=warning]"


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.delenv("TF_BUILD", raising=False)


@pytest.fixture
def pipeline(monkeypatch, tmp_path):
    """Azure Pipelines' environment with registry credentials in every place the CLI reads them from."""
    config = tmp_path / "docker-config"
    config.mkdir()
    auth = base64.b64encode(b"robot:config-pa55word-xyz").decode()
    (config / "config.json").write_text(json.dumps({"auths": {"r.example.io": {"auth": auth}}}))
    env = {"TF_BUILD": "True", "LIFECYCLE_REGISTRY_PASSWORD": "gen3ric-s3cret-abc",
           "LIFECYCLE_REGISTRY_R_EXAMPLE_IO_USERNAME": "robot",
           "LIFECYCLE_REGISTRY_R_EXAMPLE_IO_PASSWORD": "h0st-s3cret-def", "DOCKER_CONFIG": str(config)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return ["gen3ric-s3cret-abc", "h0st-s3cret-def", "config-pa55word-xyz", auth]


def broken_repo(tmp_path):
    """The sample repository with one error (an unapproved base) and nothing else wrong."""
    files = sample_files()
    files["src/ubuntu/amd64/Dockerfile"] = "FROM docker.io/library/ubuntu:22.04\nRUN true\n"
    return make_repo(tmp_path, files)


def problem_of(repo) -> str:
    code, out, _ = run_cli(["validate", "--repo", str(repo), "-o", "json"])
    assert code == 2
    errors = [p for p in json.loads(out) if p["severity"] == "error"]
    assert len(errors) == 1, errors
    return errors[0]["problem"]


def test_validate_on_a_terminal_prints_each_error_once_in_the_table(tmp_path, terminal):
    repo = broken_repo(tmp_path)
    problem = problem_of(repo)
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2
    assert (out + err).count(problem) == 1 and problem in out
    assert err.strip() == "error: validation failed: 1 error(s)"


def test_validate_with_json_prints_each_error_once_in_the_document(tmp_path, terminal):
    repo = broken_repo(tmp_path)
    code, out, err = run_cli(["validate", "--repo", str(repo), "-o", "json"])
    problem = json.loads(out)[0]["problem"]
    assert code == 2 and problem not in err and out.count(problem) == 1


def test_validate_in_a_pipeline_prints_each_error_once_as_a_logging_command(tmp_path, pipeline):
    repo = broken_repo(tmp_path)
    problem = problem_of(repo)
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2
    assert (out + err).count(problem) == 1 and out == ""
    issues = [line for line in err.splitlines() if line.startswith(PIPELINE_ERROR)]
    assert len(issues) == 2 and problem in issues[0]
    assert issues[1] == PIPELINE_ERROR + "validation failed: 1 error(s)"
    # JSON in a pipeline: the document only
    code, out, err = run_cli(["validate", "--repo", str(repo), "-o", "json"])
    assert problem in out and problem not in err


# One invocation per verb family, each failing on its input (an empty folder is no GitOps repository)
# before any registry or engine call: what must show is the masking and the fatal logging command.
VERBS = {
    "validate": ["validate", "--repo", "{empty}"],
    "plan": ["plan", "--repo", "{empty}", "--all"],
    "matrix": ["matrix", "--repo", "{empty}", "--all"],
    "publish": ["publish", "--repo", "{empty}", "--all", "--dry-run"],
    "lkg": ["lkg", "--repo", "{empty}"],
    "stale": ["stale", "--repo", "{empty}", "--channel", "latest"],
    "cleanup": ["cleanup", "--repo", "{empty}"],
    "retire": ["retire", "--repo", "{empty}", "--dry-run", "x-amd64"],
    "rollout": ["rollout", "--repo", "{empty}", "--dry-run"],
    "reconcile": ["reconcile", "--repo", "{empty}", "--dry-run"],
    "rollback": ["rollback", "--repo", "{empty}", "--commit", "HEAD", "--push", "--dry-run"],
    "consumers": ["consumers", "scan", "--repo", "{empty}", "--no-registry"],
    "registry": ["registry", "digest", "not a reference"],
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_in_a_pipeline_masks_the_secrets_and_fails_with_a_logging_command(verb, tmp_path, pipeline):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli([a.format(empty=empty) for a in VERBS[verb]])
    assert code in (1, 2), out + err
    lines = err.splitlines()
    mark = "##vso[task.setsecret]"
    announced = [line.removeprefix(mark) for line in lines if line.startswith(mark)]
    assert sorted(announced) == sorted(pipeline)          # every secret, each once, before anything else
    assert lines[:len(pipeline)] == [f"{mark}{s}" for s in announced]
    assert lines[-1].startswith(PIPELINE_ERROR) and not any(line.startswith("error:") for line in lines)
    rest = out + "\n".join(lines[len(pipeline):])
    assert not any(s in rest for s in pipeline)


def test_a_fatal_error_on_a_terminal_stays_plain(tmp_path, terminal):
    code, _, err = run_cli(["lkg", "--repo", str(tmp_path)])
    assert code == 2 and err.startswith("error: ") and "##vso" not in err


def test_a_multi_line_error_is_one_logging_command_and_a_secret_in_it_is_masked(pipeline, capsys):
    from lifecycle.output import Reporter

    out = Reporter(secrets=["h0st-s3cret-def"])
    out.error("first line 100%\nsecond line h0st-s3cret-def")
    err = capsys.readouterr().err
    assert err == PIPELINE_ERROR + "first line 100%AZP25%0Asecond line ***\n"
    out.add_secret("h0st-s3cret-def")   # already masked: not announced twice
    assert capsys.readouterr().err == ""


def test_problems_go_to_the_issue_list_only_in_a_pipeline_table_run(pipeline, monkeypatch, capsys):
    from lifecycle.output import Reporter

    Reporter().problems([("warning", "w1"), ("error", "e1")])
    assert capsys.readouterr().err == f"{PIPELINE_WARNING}w1\n{PIPELINE_ERROR}e1\n"
    Reporter(format="json").problems([("warning", "w1")])
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("TF_BUILD")
    Reporter().problems([("warning", "w1")])
    assert capsys.readouterr().err == ""


def test_a_secret_in_a_fatal_error_is_masked(tmp_path, pipeline):
    folder = tmp_path / f"x{pipeline[0]}x"     # a message that happens to carry a secret (here: a path)
    folder.mkdir()
    code, out, err = run_cli(["rollback", "--repo", str(folder), "--commit", "HEAD", "--push", "--dry-run"])
    last = err.splitlines()[-1]
    assert code == 2 and last.startswith(PIPELINE_ERROR) and "x***x" in last and pipeline[0] not in last
