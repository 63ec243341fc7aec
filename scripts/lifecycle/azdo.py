"""The only module that talks to Azure DevOps, through the `azure-devops` package.

What the lifecycle needs: list repositories, list and read files at a commit, push a branch with
edited files (one push: a ref update plus a commit with changes) and open a pull request.

The token comes from AZURE_DEVOPS_EXT_PAT or SYSTEM_ACCESSTOKEN and lives in a Secret that never
shows in a repr, a str or an error message: every SDK error is re-raised as OperationError with the
token (and its Basic-auth encoding) masked.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from dataclasses import dataclass, field
from typing import Iterator, Mapping

from lifecycle.errors import InputError, OperationError

TOKEN_VARIABLES = ("AZURE_DEVOPS_EXT_PAT", "SYSTEM_ACCESSTOKEN")


class Secret:
    """A token that prints as ***."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def forms(self) -> list[str]:
        """Every way the token may show up in text (raw, and inside a Basic auth header)."""
        basic = base64.b64encode(f":{self._value}".encode()).decode()
        return [self._value, basic]

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a cache or a log
        raise TypeError("a Secret cannot be pickled")


def token_from_env(env: Mapping[str, str] | None = None) -> Secret:
    env = os.environ if env is None else env
    for name in TOKEN_VARIABLES:
        if env.get(name):
            return Secret(env[name])
    raise InputError(f"no Azure DevOps token: set {' or '.join(TOKEN_VARIABLES)}")


@dataclass(frozen=True)
class RepoRef:
    """A repository: organisation URL (https://dev.azure.com/<org>), project, repository name or id."""

    organization_url: str
    project: str
    name: str

    @property
    def web_url(self) -> str:
        return f"{self.organization_url}/{self.project}/_git/{self.name}"

    def __str__(self) -> str:
        return f"{self.organization_url}/{self.project}/{self.name}"

    @classmethod
    def parse_remote(cls, url: str) -> "RepoRef":
        """A git remote URL of Azure DevOps (https dev.azure.com, visualstudio.com, ssh, or any
        `<scheme>://<host>/<org>/<project>/_git/<repo>`)."""
        text = re.sub(r"://[^@/]+@", "://", url.strip())  # drop user info (it may hold a token)
        ssh = re.match(r"^(?:ssh://)?git@ssh\.dev\.azure\.com(?::|/)v3/([^/]+)/([^/]+)/([^/]+?)/?$", text)
        if ssh:
            return cls(f"https://dev.azure.com/{ssh[1]}", ssh[2], ssh[3])
        vs = re.match(r"^https://([^./]+)\.visualstudio\.com/(?:DefaultCollection/)?([^/]+)/_git/([^/]+?)/?$", text)
        if vs:
            return cls(f"https://dev.azure.com/{vs[1]}", vs[2], vs[3])
        http = re.match(r"^(https?://[^/]+/[^/]+)/([^/]+)/_git/([^/]+?)/?$", text)
        if http:
            return cls(http[1], http[2], http[3])
        raise InputError(f"not an Azure DevOps repository URL: {re.sub(r'://[^@/]+@', '://', url)}")


@dataclass(frozen=True)
class RepositoryInfo:
    id: str
    name: str
    default_branch: str | None
    web_url: str | None


@dataclass(frozen=True)
class PullRequest:
    id: int
    url: str
    source_branch: str
    target_branch: str
    title: str


def _heads(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


@dataclass
class AzureDevOps:
    """One client for any number of organisations (a connection per organisation URL)."""

    token: Secret
    _connections: dict[str, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AzureDevOps":
        return cls(token_from_env(env))

    # -- plumbing -------------------------------------------------------------------------------

    def _git(self, organization_url: str):
        from azure.devops.connection import Connection
        from msrest.authentication import BasicAuthentication

        key = organization_url.rstrip("/")
        if key not in self._connections:
            self._connections[key] = Connection(base_url=key, creds=BasicAuthentication("", self.token.reveal()))
        connection = self._connections[key]
        return connection.clients_v7_1.get_git_client()  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        from msrest.exceptions import ClientException

        try:
            yield
        except ClientException as exc:
            message = str(exc)
            for form in self.token.forms():
                message = message.replace(form, "***")
            raise OperationError(f"Azure DevOps: {what}: {message}") from None
        except (OSError, ValueError) as exc:
            message = f"{type(exc).__name__}: {exc}"
            for form in self.token.forms():
                message = message.replace(form, "***")
            raise OperationError(f"Azure DevOps: {what}: {message}") from None

    # -- reads ----------------------------------------------------------------------------------

    def list_repositories(self, organization_url: str, project: str) -> list[RepositoryInfo]:
        with self._call(f"list repositories of {organization_url}/{project}"):
            repos = self._git(organization_url).get_repositories(project=project)
        return [RepositoryInfo(r.id, r.name, r.default_branch, r.web_url) for r in repos or []]

    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        """The commit a branch points at, None when the branch does not exist."""
        name = _heads(branch)
        with self._call(f"read branch {branch} of {repo}"):
            refs = self._git(repo.organization_url).get_refs(repo.name, project=repo.project,
                                                             filter=name.removeprefix("refs/"))
        for ref in refs or []:
            if ref.name == name:
                return ref.object_id
        return None

    def list_branches(self, repo: RepoRef) -> dict[str, str]:
        """Every branch (name without refs/heads/) and the commit it points at."""
        with self._call(f"list branches of {repo}"):
            refs = self._git(repo.organization_url).get_refs(repo.name, project=repo.project, filter="heads/")
        return {ref.name.removeprefix("refs/heads/"): ref.object_id for ref in refs or []
                if ref.name.startswith("refs/heads/")}

    def list_files(self, repo: RepoRef, commit: str, path: str = "/") -> list[str]:
        """Paths (relative, '/'-separated) of every file under `path` at `commit`."""
        from azure.devops.v7_1.git.models import GitVersionDescriptor

        with self._call(f"list files of {repo} at {commit[:12]}"):
            items = self._git(repo.organization_url).get_items(
                repo.name, project=repo.project, scope_path=path, recursion_level="Full",
                version_descriptor=GitVersionDescriptor(version=commit, version_type="commit"))
        return sorted(i.path.lstrip("/") for i in items or []
                      if not i.is_folder and (i.git_object_type or "blob").lower() == "blob")

    def read_file(self, repo: RepoRef, path: str, commit: str) -> bytes:
        from azure.devops.v7_1.git.models import GitVersionDescriptor

        with self._call(f"read {path} of {repo} at {commit[:12]}"):
            chunks = self._git(repo.organization_url).get_item_content(
                repo.name, path="/" + path.lstrip("/"), project=repo.project, download=True,
                version_descriptor=GitVersionDescriptor(version=commit, version_type="commit"))
            return b"".join(chunks)

    def find_pull_request(self, repo: RepoRef, source_branch: str, target_branch: str) -> PullRequest | None:
        """The active pull request from source to target, if there is one."""
        from azure.devops.v7_1.git.models import GitPullRequestSearchCriteria

        criteria = GitPullRequestSearchCriteria(source_ref_name=_heads(source_branch),
                                                target_ref_name=_heads(target_branch), status="active")
        with self._call(f"list pull requests of {repo}"):
            found = self._git(repo.organization_url).get_pull_requests(repo.name, criteria, project=repo.project)
        for pr in found or []:
            return self._pull_request(repo, pr)
        return None

    # -- writes ---------------------------------------------------------------------------------

    def push_branch(self, repo: RepoRef, branch: str, base_commit: str, changes: Mapping[str, bytes],
                    message: str) -> str:
        """One commit on `base_commit` editing `changes` (path -> new bytes), as branch `branch`.

        The pushes API takes the commit to build on as the ref's old object id: for a new branch that
        creates it there; for an existing branch it must be its head (the service refuses otherwise).
        Contents go base64-encoded so that bytes arrive unchanged."""
        from azure.devops.v7_1.git.models import GitCommitRef, GitPush, GitRefUpdate

        push = GitPush(
            ref_updates=[GitRefUpdate(name=_heads(branch), old_object_id=base_commit)],
            commits=[GitCommitRef(comment=message, changes=[
                {"changeType": "edit", "item": {"path": "/" + path.lstrip("/")},
                 "newContent": {"content": base64.b64encode(data).decode("ascii"), "contentType": "base64encoded"}}
                for path, data in sorted(changes.items())
            ])],
        )
        with self._call(f"push branch {branch} to {repo}"):
            result = self._git(repo.organization_url).create_push(push, repo.name, project=repo.project)
        commits = result.commits or []
        if commits and commits[-1].commit_id:
            return commits[-1].commit_id
        updates = result.ref_updates or []
        return updates[0].new_object_id if updates else ""

    def create_pull_request(self, repo: RepoRef, source_branch: str, target_branch: str, title: str,
                            description: str) -> tuple[int, str]:
        """Open a pull request; returns (id, web URL)."""
        from azure.devops.v7_1.git.models import GitPullRequest

        request = GitPullRequest(source_ref_name=_heads(source_branch), target_ref_name=_heads(target_branch),
                                 title=title, description=description)
        with self._call(f"create pull request {source_branch} -> {target_branch} in {repo}"):
            created = self._git(repo.organization_url).create_pull_request(request, repo.name, project=repo.project)
        pr = self._pull_request(repo, created)
        return pr.id, pr.url

    @staticmethod
    def _pull_request(repo: RepoRef, pr) -> PullRequest:
        return PullRequest(pr.pull_request_id, f"{repo.web_url}/pullrequest/{pr.pull_request_id}",
                           pr.source_ref_name, pr.target_ref_name, pr.title or "")
