"""The secrets a run may hold, found once per invocation so that every verb masks them in Azure Pipelines.

Azure Pipelines masks a value in the log only once a logging command names it (`##vso[task.setsecret]`).
Registry credentials reach the CLI through the environment (LIFECYCLE_REGISTRY[_<HOST>]_USERNAME/_PASSWORD)
or the Docker config (`auths`), whichever verb runs: the verb that talks to a registry may sit deep in a
library call, so the CLI names them all before any verb starts instead of each verb naming its own.
Credential helpers (`credsStore`, `credHelpers`) are not asked: their secrets never touch our process
until a registry call, and the registry verbs name what they resolved then.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Mapping

# LIFECYCLE_REGISTRY_PASSWORD and LIFECYCLE_REGISTRY_<HOST>_PASSWORD (see lifecycle.registry.auth)
_REGISTRY_PASSWORD = re.compile(r"^LIFECYCLE_REGISTRY(_[A-Z0-9_]+)?_PASSWORD$")
# the Azure DevOps tokens lifecycle.azdo reads
_TOKEN_VARIABLES = ("AZURE_DEVOPS_EXT_PAT", "SYSTEM_ACCESSTOKEN")


def _docker_config(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def _docker_config_secrets(env: Mapping[str, str]) -> list[str]:
    """Passwords, their base64 `auth` forms and identity tokens of the Docker config's `auths`. A config
    that cannot be read yields none: the registry client reports it when (and if) a verb needs it."""
    try:
        config = json.loads(_docker_config(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    auths = config.get("auths") if isinstance(config, dict) else None
    found: list[str] = []
    for entry in (auths or {}).values() if isinstance(auths, dict) else ():
        if not isinstance(entry, dict):
            continue
        for key in ("auth", "password", "identitytoken", "registrytoken"):
            if isinstance(entry.get(key), str) and entry[key]:
                found.append(entry[key])
        if isinstance(entry.get("auth"), str):
            try:
                password = base64.b64decode(entry["auth"]).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            if password:
                found.append(password)
    return found


def environment_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every registry and Azure DevOps secret this run can see, without duplicates, longest first (so that
    masking a secret never leaves a readable tail of a longer one that contains it)."""
    env = os.environ if env is None else env
    found = [value for name, value in env.items() if _REGISTRY_PASSWORD.match(name) and value]
    found += [env[name] for name in _TOKEN_VARIABLES if env.get(name)]
    found += _docker_config_secrets(env)
    return sorted(set(found), key=lambda s: (-len(s), s))


def pipeline_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The secrets to mask: all of them in Azure Pipelines (TF_BUILD), none elsewhere (a terminal is the
    user's own, and reading the Docker config there would only cost time)."""
    env = os.environ if env is None else env
    return environment_secrets(env) if env.get("TF_BUILD") else []
