"""Registry credentials and the auth schemes of the distribution spec: anonymous, basic, Bearer tokens.

Credentials come, in order, from the caller, per-registry environment variables
(LIFECYCLE_REGISTRY_<HOST>_USERNAME/_PASSWORD, HOST upper-cased with non-alphanumerics as `_`),
the generic LIFECYCLE_REGISTRY_USERNAME/_PASSWORD, then the Docker config file
(`credHelpers`, `credsStore` through `docker-credential-<name>`, then `auths`).
Secrets live only in `Credentials.password` and cached tokens, neither of which is ever
rendered by a repr or put into an error message.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import httpx

from lifecycle.errors import OperationError

ENV_USERNAME = "LIFECYCLE_REGISTRY_USERNAME"
ENV_PASSWORD = "LIFECYCLE_REGISTRY_PASSWORD"
# Tokens are renewed this many seconds before they expire, so one is never sent stale.
_EXPIRY_MARGIN = 10.0
_DEFAULT_TOKEN_LIFETIME = 60.0


class AuthError(OperationError):
    """The registry refused our credentials (or wanted some and we had none). Exit 1."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = "explicit"  # where they came from, for messages (never the values)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***, source={self.source!r})"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def env_prefix(registry: str) -> str:
    return "LIFECYCLE_REGISTRY_" + re.sub(r"[^A-Za-z0-9]", "_", registry).upper()


def from_environment(registry: str, env: Mapping[str, str]) -> Credentials | None:
    prefix = env_prefix(registry)
    for user_key, pass_key in ((f"{prefix}_USERNAME", f"{prefix}_PASSWORD"), (ENV_USERNAME, ENV_PASSWORD)):
        if env.get(user_key) and env.get(pass_key):
            return Credentials(env[user_key], env[pass_key], source=f"${user_key}")
    return None


def docker_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def _helper_get(helper: str, registry: str) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run([program, "get"], input=registry, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise OperationError(f"credential helper {program} named in the Docker config is not installed") from None
    except subprocess.TimeoutExpired:
        raise OperationError(f"credential helper {program} did not answer within 30s") from None
    if done.returncode != 0:
        # Helpers say "credentials not found in native keychain" on stdout; that is not an error for us.
        return None
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise OperationError(f"credential helper {program} returned something that is not JSON") from None
    if not data.get("Secret"):
        return None
    return Credentials(data.get("Username", ""), data["Secret"], source=program)


def _config_keys(registry: str) -> list[str]:
    return [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/", f"https://{registry}/v2/"]


def from_docker_config(registry: str, env: Mapping[str, str]) -> Credentials | None:
    path = docker_config_path(env)
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OperationError(f"{path}: cannot read the Docker config ({type(exc).__name__})") from None
    helpers = config.get("credHelpers") or {}
    for key in _config_keys(registry):
        if key in helpers:
            return _helper_get(helpers[key], registry)
    if config.get("credsStore"):
        found = _helper_get(config["credsStore"], registry)
        if found:
            return found
    auths = config.get("auths") or {}
    for key in _config_keys(registry):
        entry = auths.get(key)
        if not entry:
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                raise OperationError(f"{path}: auths[{key!r}].auth is not base64 of user:password") from None
            return Credentials(user, password, source=str(path))
        if entry.get("username") and entry.get("password"):
            return Credentials(entry["username"], entry["password"], source=str(path))
    return None


def discover(registry: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    env = os.environ if env is None else env
    return from_environment(registry, env) or from_docker_config(registry, env)


_PARAM_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer"
    params: dict[str, str]

    @classmethod
    def parse(cls, header: str) -> "Challenge | None":
        scheme, _, rest = header.strip().partition(" ")
        if not scheme:
            return None
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM_RE.finditer(rest)}
        return cls(scheme.lower(), params)


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float


class Authenticator:
    """Turns a scope into an Authorization header, learning the scheme from the registry's challenges.

    Bearer tokens are cached per (realm, service, scope) until shortly before they expire. Thread-safe:
    batch operations share one authenticator across the transport's worker threads.
    """

    def __init__(self, registry: str, credentials: Credentials | None):
        self.registry = registry
        self.credentials = credentials
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._lock = threading.Lock()
        self.token_requests = 0

    def __repr__(self) -> str:
        user = self.credentials.username if self.credentials else None
        return f"Authenticator(registry={self.registry!r}, username={user!r})"

    def header(self, http: httpx.Client, scope: str | None) -> str | None:
        """The Authorization header for a request needing `scope`, or None before any challenge."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        if challenge.scheme == "bearer":
            return "Bearer " + self._token(http, challenge, scope)
        return None

    def on_challenge(self, http: httpx.Client, response: httpx.Response, scope: str | None) -> str:
        """After a 401: remember the challenge and return the header to retry with, or raise AuthError."""
        header = response.headers.get("www-authenticate", "")
        challenge = Challenge.parse(header)
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise AuthError(f"registry {self.registry} answered 401 with an unsupported challenge {header[:60]!r}")
        self._challenge = challenge
        if challenge.scheme == "basic":
            if not self.credentials:
                raise AuthError(self._no_credentials_message())
            return self.credentials.basic_header()
        return "Bearer " + self._token(http, challenge, challenge.params.get("scope") or scope, force=True)

    def rejected(self, status: int) -> AuthError:
        """The error for a request still refused after authenticating."""
        if not self.credentials:
            return AuthError(self._no_credentials_message())
        what = "authentication failed" if status == 401 else "access denied"
        return AuthError(f"{what} for registry {self.registry} as user {self.credentials.username!r} "
                         f"(credentials from {self.credentials.source}, HTTP {status}): check the username and "
                         f"password or token")

    def _no_credentials_message(self) -> str:
        return (f"registry {self.registry} requires credentials and none were found: set {ENV_USERNAME} and "
                f"{ENV_PASSWORD} (or {env_prefix(self.registry)}_USERNAME/_PASSWORD), or log in with docker/az acr login")

    def _token(self, http: httpx.Client, challenge: Challenge, scope: str | None, force: bool = False) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthError(f"registry {self.registry} sent a Bearer challenge without a realm")
        service = challenge.params.get("service", "")
        key = (realm, service, scope or "")
        with self._lock:
            cached = self._tokens.get(key)
            if cached and not force and cached.expires_at > time.monotonic():
                return cached.value
            token = self._fetch(http, realm, service, scope)
            self._tokens[key] = token
            return token.value

    def _fetch(self, http: httpx.Client, realm: str, service: str, scope: str | None) -> _Token:
        params = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        headers = {"Authorization": self.credentials.basic_header()} if self.credentials else {}
        self.token_requests += 1
        try:
            response = http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise AuthError(f"token service {httpx.URL(realm).host} for {self.registry} unreachable: "
                            f"{type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise self.rejected(response.status_code)
        if response.status_code != 200:
            raise AuthError(f"token service for {self.registry} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise AuthError(f"token service for {self.registry} answered something that is not JSON") from None
        value = data.get("token") or data.get("access_token")
        if not value:
            raise AuthError(f"token service for {self.registry} answered without a token")
        lifetime = float(data.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        return _Token(value, time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0))
