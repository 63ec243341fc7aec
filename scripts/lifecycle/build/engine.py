"""The container engine, through the `docker` SDK against DOCKER_HOST.

In Azure Pipelines DOCKER_HOST is Docker; locally, in CI and in the tests it is podman's
Docker-compatible service started by eng/local-env.sh. Only calls that behave the same on both
are used here, which is why:

- builds never pull (pull=False), and are never trusted not to: podman's compat build fetches a
  FROM tag from the registry whenever a platform is given, pull=False or not. So the caller pulls
  every base BY DIGEST (`pull`) and hands the build a Dockerfile whose FROM lines name local image
  ids (lifecycle.build.pinning; `dockerfile` may be a file outside the context, which the SDK sends along);
- the pushed digest is read from the push stream (Docker sends it as `aux`, podman only in the
  status text "...: digest: sha256:... size: N"; both are understood);
- stream errors are checked explicitly: the SDK does not raise for an `error` entry in a
  build, pull or push stream.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import build as docker_build, parse_repository_tag

from lifecycle.build.engine_retry import retried
from lifecycle.errors import OperationError
from lifecycle.registry.transport import RetryPolicy

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
START_HINT = 'start the local engine with: eval "$(eng/local-env.sh up)"'
LOG_TAIL_LINES = 20
TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` reports, so a timed-out test reads familiar
# RUN steps share the host's network on Docker and podman alike: the package check (lifecycle.packages) does too,
# so an upgrade step reaches the package servers exactly when the check that judges it does
BUILD_NETWORK = "host"

# CSI sequences (colours, cursor moves) and OSC titles that a RUN step's tools print for a terminal
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")
_DIGEST_IN_STATUS = re.compile(r"digest: (sha256:[0-9a-f]{64})")

LogFn = Callable[[str], None]


@dataclass(frozen=True)
class TestResult:
    """One test command run inside an image."""

    __test__ = False  # not a pytest test class, although its name says Test

    command: str
    exit_code: int
    output: str
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class LocalImage:
    id: str
    layers: tuple[str, ...]  # rootfs diff_ids, base first
    labels: dict[str, str]
    os: str
    architecture: str
    variant: str | None


def _split_ref(ref: str) -> tuple[str, str]:
    """'host:port/repo:tag' -> ('host:port/repo', 'tag'); a reference without a tag is refused."""
    repository, tag = parse_repository_tag(ref)
    if not tag or tag.startswith("sha256:"):
        raise OperationError(f"{ref}: a tag reference (name:tag) is needed here")
    return repository, tag


class _Lines:
    """Re-cuts stream text into whole lines (chunks are not line aligned), keeps the tail."""

    def __init__(self, log: LogFn | None):
        self._log = log
        self._partial = ""
        self.tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)

    def feed(self, text: str) -> None:
        text = self._partial + text
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._emit(line.rstrip("\r"))

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = ""

    def _emit(self, line: str) -> None:
        line = _TERMINAL_CODES.sub("", line)  # a build log is read in CI's web view and in files, not a terminal
        self.tail.append(line)
        if self._log:
            self._log(line)

    def tail_text(self) -> str:
        if not self.tail:
            return "(no build output)"
        return "\n".join(f"  | {line}" for line in self.tail)


def _stream_error(chunk: dict) -> str | None:
    if "error" in chunk or "errorDetail" in chunk:
        detail = chunk.get("errorDetail") or {}
        return str(chunk.get("error") or detail.get("message") or chunk)
    return None


class Engine:
    """Build, test, pull, tag, push and remove images on one engine."""

    # How pushes and pulls are retried: the registry client's policy (an instance may set its own).
    retry: RetryPolicy = RetryPolicy()

    def __init__(self, base_url: str | None = None, *, timeout: float = 3600, test_network: str = "none"):
        # A long RUN step can stay silent for minutes and the SDK's timeout is a read timeout on
        # the stream, so the default is generous; test runs bring their own timeout.
        # Tests run without network by default: an image's tests check its contents, and "none"
        # behaves the same on Docker and podman and needs no bridge set-up on the CI machine.
        self.test_network = test_network
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        try:
            self._client = docker.DockerClient(base_url=self.base_url, timeout=int(timeout))
            self._client.ping()
        except (DockerException, requests.RequestException) as e:
            raise OperationError(
                f"container engine not reachable at DOCKER_HOST={self.base_url}: {e}\n  hint: {START_HINT}"
            ) from e
        self._api = self._client.api

    @classmethod
    def from_env(cls) -> Engine:
        return cls()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def version(self) -> dict:
        return self._client.version()

    def info(self) -> dict:
        return self._client.info()

    # --- images -------------------------------------------------------------------------

    def build(
        self,
        context_dir: Path,
        *,
        dockerfile: str = "Dockerfile",
        tag: str,
        build_args: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        platform: str | None = None,
        no_cache: bool = False,
        network: str = BUILD_NETWORK,
        log: LogFn | None = None,
    ) -> str:
        """Build `context_dir` into `tag` without pulling anything; return the image id.

        `dockerfile`: a path inside the context, or an absolute path to a file anywhere (a generated
        Dockerfile; the SDK adds it to the context it sends).

        `network` is explicit so that whether RUN steps reach package servers does not depend on the engine's
        defaults (podman's containers.conf, Docker's bridge set-up).

        Build output goes to `log` line by line. A failure raises OperationError naming the
        image and quoting the last lines of its log.
        """
        lines = _Lines(log)
        context, dockerfile = _context(context_dir, dockerfile)
        error = _drain(
            lambda: self._api.build(
                path=None if context else str(context_dir),
                fileobj=context,
                custom_context=context is not None,
                dockerfile=dockerfile,
                tag=tag,
                buildargs=dict(build_args or {}),
                labels=dict(labels or {}),
                platform=platform,
                nocache=no_cache,
                network_mode=network,
                pull=False,
                rm=True,
                forcerm=True,
                decode=True,
            ),
            lambda chunk: lines.feed(chunk["stream"]) if "stream" in chunk else None,
        )
        if context is not None:
            context.close()
        lines.close()
        if error:
            raise OperationError(
                f"build of {tag} failed: {error.strip()}\n"
                f"last {len(lines.tail)} lines of its build log:\n{lines.tail_text()}"
            )
        image_id = self.image_id(tag)
        if image_id is None:
            raise OperationError(f"build of {tag} reported success but the image is absent")
        return image_id

    def pull(self, ref: str, *, platform: str | None = None) -> None:
        """Pull `ref` (normally name@sha256:..., so that exactly that image is used), for `platform`. A
        registry's transient answer is retried with the registry client's policy (lifecycle.build.engine_retry)."""
        repository, tag = parse_repository_tag(ref)

        def once() -> None:
            error = _drain(lambda: self._api.pull(repository, tag=tag, stream=True, decode=True, platform=platform))
            if error:
                raise OperationError(f"pull of {ref} failed: {error.strip()}")

        retried(once, self.retry)
        if self.image_id(ref) is None:
            raise OperationError(f"pull of {ref} reported success but the image is absent")

    def tag(self, image: str, ref: str) -> None:
        """Give the local image `image` (id, name or name@digest) the name `ref` (name:tag)."""
        repository, tag = _split_ref(ref)
        try:
            done = self._api.tag(image, repository, tag, force=True)
        except APIError as e:
            raise OperationError(f"tagging {image} as {ref} failed: {e.explanation or e}") from e
        if not done:
            raise OperationError(f"tagging {image} as {ref} failed")

    def push(self, ref: str, *, log: LogFn | None = None) -> str:
        """Push `ref` (name:tag) and return the digest of the manifest the registry now holds. A registry's
        transient answer is retried with the registry client's policy (lifecycle.build.engine_retry)."""
        repository, tag = _split_ref(ref)

        def once() -> str:
            digest = None

            def seen(chunk: dict) -> None:
                nonlocal digest
                digest = _digest_of(chunk) or digest
                if log and chunk.get("status") and "progressDetail" not in chunk:
                    log(str(chunk["status"]))

            error = _drain(lambda: self._api.push(repository, tag=tag, stream=True, decode=True), seen)
            if error:
                raise OperationError(f"push of {ref} failed: {error.strip()}")
            if not digest:
                raise OperationError(f"push of {ref} finished without reporting a digest")
            return digest

        return retried(once, self.retry, note=log)

    def import_rootfs(self, tarball: Path, ref: str, *, changes: Iterable[str] = ()) -> str:
        """Import a root file system tarball as a one-layer image named `ref` (name:tag); return its id.

        `changes` are Dockerfile instructions applied to the config (ENV, CMD, LABEL). podman's compatible
        API ignores the name given to an import, so the image is tagged by id afterwards.
        """
        repository, tag = _split_ref(ref)
        try:
            answer = self._api.import_image(src=str(tarball), repository=repository, tag=tag, changes=list(changes))
        except (DockerException, requests.RequestException, OSError) as e:
            raise OperationError(f"import of {tarball} as {ref} failed: {e}") from e
        found = re.findall(r"sha256:[0-9a-f]{64}", str(answer))
        image = found[-1] if found else ref
        if self.image_id(image) is None:
            raise OperationError(f"import of {tarball} as {ref} reported no image: {str(answer)[-300:]}")
        self.tag(image, ref)
        return self.image_id(ref) or image

    def remove(self, ref: str) -> None:
        """Remove the local name `ref` (the image goes when no name is left); absent is fine."""
        try:
            self._api.remove_image(ref)
        except (ImageNotFound, NotFound):
            pass
        except APIError as e:
            raise OperationError(f"removing {ref} failed: {e.explanation or e}") from e

    def image_id(self, ref: str) -> str | None:
        try:
            return self._api.inspect_image(ref)["Id"]
        except (ImageNotFound, NotFound):
            return None
        except APIError as e:
            raise OperationError(f"inspecting {ref} failed: {e.explanation or e}") from e

    def inspect(self, ref: str) -> LocalImage:
        """What publish verifies of a local image before pushing it: layers, labels, platform."""
        try:
            attrs = self._api.inspect_image(ref)
        except (ImageNotFound, NotFound) as e:
            raise OperationError(f"{ref}: no such local image") from e
        except APIError as e:
            raise OperationError(f"inspecting {ref} failed: {e.explanation or e}") from e
        return LocalImage(
            id=attrs["Id"],
            layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
            labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
            os=attrs.get("Os") or "",
            architecture=attrs.get("Architecture") or "",
            variant=attrs.get("Variant") or None,  # Docker reports it; podman's compat API does not
        )

    def labels(self, ref: str) -> dict[str, str]:
        """The labels of a local image (empty when it has none)."""
        try:
            attrs = self._api.inspect_image(ref)
        except (ImageNotFound, NotFound) as e:
            raise OperationError(f"{ref}: no such local image") from e
        return dict((attrs.get("Config") or {}).get("Labels") or {})

    # --- tests --------------------------------------------------------------------------

    def run_test(self, image: str, command: str, timeout: float = 600, *, network: str | None = None) -> TestResult:
        """Run `sh -c command` in a new container from `image`; capture exit code and output.

        The entrypoint is replaced so that an image's own ENTRYPOINT cannot swallow the command.
        The container is removed afterwards, whatever happened. `network` overrides the test network
        (the package check uses "host" to reach the distribution's package servers).
        """
        try:
            container = self._client.containers.create(
                image,
                entrypoint=["sh", "-c", command],
                network_mode=network or self.test_network,
                labels={"lifecycle.test": "true"},
            )
        except ImageNotFound as e:
            raise OperationError(f"test of {image}: no such local image") from e
        except (DockerException, requests.RequestException) as e:
            raise OperationError(f"test of {image}: creating the container failed: {e}") from e
        timed_out = False
        try:
            container.start()
            try:
                exit_code = int(container.wait(timeout=timeout)["StatusCode"])
            except requests.RequestException:
                timed_out = True
                exit_code = TIMEOUT_EXIT_CODE
                try:
                    container.kill()
                except APIError:
                    pass  # it ended between the timeout and the kill
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        except APIError as e:
            raise OperationError(f"test of {image} ({command!r}) could not run: {e.explanation or e}") from e
        finally:
            _remove_container(container)
        if timed_out:
            output += f"\n[lifecycle] test timed out after {timeout:g}s and was killed\n"
        return TestResult(command=command, exit_code=exit_code, output=output, timed_out=timed_out)

    def run_tests(self, image: str, commands: Iterable[str], timeout: float = 600) -> Iterator[TestResult]:
        """Each command in its own container, in order (the caller decides whether to stop early)."""
        for command in commands:
            yield self.run_test(image, command, timeout)


def _context(context_dir: Path, dockerfile: str):
    """(None, dockerfile) for a Dockerfile inside the context; else a context tar holding it, and its name there.

    The SDK can send a Dockerfile from outside the context itself, but passes the `dockerfile` query
    parameter as a pair (name, contents) that Docker reads as the name and podman as the contents.
    So the same tar is made here (the context as .dockerignore filters it, plus the file) and sent as
    a custom context with a plain name.
    """
    path = Path(dockerfile)
    if not path.is_absolute() or path.resolve().is_relative_to(Path(context_dir).resolve()):
        return None, dockerfile
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise OperationError(f"cannot read the Dockerfile {path}: {e}") from e
    name = ".dockerfile." + hashlib.sha256(text.encode()).hexdigest()[:20]
    ignore = Path(context_dir) / ".dockerignore"
    exclude = None
    if ignore.exists():  # the SDK's own reading of .dockerignore, so both paths send the same files
        exclude = [line.strip() for line in ignore.read_text().splitlines()
                   if line.strip() and not line.strip().startswith("#")]
    try:
        return docker_build.tar(str(context_dir), exclude=exclude, dockerfile=(name, text)), name
    except OSError as e:
        raise OperationError(f"cannot pack the build context {context_dir}: {e}") from e


def _drain(start: Callable[[], Iterable[dict]], seen: Callable[[dict], None] | None = None) -> str | None:
    """Run an engine stream to its end; the error it reported, or the one that broke it off, else None."""
    error = None
    try:
        for chunk in start():
            error = _stream_error(chunk) or error
            if seen:
                seen(chunk)
    except APIError as e:
        error = str(e.explanation or e)
    except (DockerException, requests.RequestException, OSError) as e:  # OSError: the build context
        error = f"{type(e).__name__}: {e}"
    return error


def _digest_of(chunk: dict) -> str | None:
    aux = chunk.get("aux")
    if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
        return aux["Digest"]
    match = _DIGEST_IN_STATUS.search(str(chunk.get("status", "")))
    return match.group(1) if match else None


def _remove_container(container) -> None:
    try:
        container.remove(force=True)
    except (NotFound, ImageNotFound):
        pass
    except (DockerException, requests.RequestException):
        # Leaving a stopped test container behind must not hide the test's own result.
        pass
