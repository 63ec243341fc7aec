import base64
import json
import os
import stat

import pytest

from lifecycle.errors import OperationError
from lifecycle.registry.auth import Authenticator, Challenge, Credentials, discover, env_prefix

SECRET = "s3cr3t-Value-42"


def test_credentials_repr_hides_password():
    creds = Credentials("alice", SECRET)
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    assert SECRET not in repr(Authenticator("r.io", creds))
    assert base64.b64decode(creds.basic_header()[6:]).decode() == f"alice:{SECRET}"


def test_env_generic_and_per_registry(tmp_path):
    env = {"DOCKER_CONFIG": str(tmp_path), "LIFECYCLE_REGISTRY_USERNAME": "gen", "LIFECYCLE_REGISTRY_PASSWORD": "p1"}
    assert discover("r.io", env).username == "gen"
    env[f"{env_prefix('my.azurecr.io')}_USERNAME"] = "acr"
    env[f"{env_prefix('my.azurecr.io')}_PASSWORD"] = "p2"
    assert env_prefix("my.azurecr.io") == "LIFECYCLE_REGISTRY_MY_AZURECR_IO"
    found = discover("my.azurecr.io", env)
    assert (found.username, found.password) == ("acr", "p2")
    assert discover("other.io", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_docker_config_auths(tmp_path):
    auth = base64.b64encode(b"bob:pw:with:colons").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://r.io": {"auth": auth}}}))
    found = discover("r.io", {"DOCKER_CONFIG": str(tmp_path)})
    assert (found.username, found.password) == ("bob", "pw:with:colons")
    assert found.source.endswith("config.json")


def _helper(tmp_path, name: str, answer: dict | None) -> None:
    script = tmp_path / "bin" / f"docker-credential-{name}"
    script.parent.mkdir(exist_ok=True)
    body = (f"cat > {tmp_path}/asked-{name}\necho '{json.dumps(answer)}'\n" if answer
            else "echo 'credentials not found in native keychain'; exit 1\n")
    script.write_text("#!/bin/sh\n[ \"$1\" = get ] || exit 3\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_cred_helpers_and_store(tmp_path, monkeypatch):
    _helper(tmp_path, "acr", {"Username": "00000000-0000-0000-0000-000000000000", "Secret": "tok"})
    _helper(tmp_path, "store", {"Username": "u", "Secret": "from-store"})
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"my.azurecr.io": "acr"},
                                                      "credsStore": "store"}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    found = discover("my.azurecr.io", env)
    assert (found.username, found.password, found.source) == ("00000000-0000-0000-0000-000000000000", "tok",
                                                              "docker-credential-acr")
    assert (tmp_path / "asked-acr").read_text() == "my.azurecr.io"
    assert discover("else.io", env).password == "from-store"


def test_helper_not_found_is_none_and_missing_helper_is_error(tmp_path, monkeypatch):
    _helper(tmp_path, "empty", None)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "empty"}))
    assert discover("r.io", {"DOCKER_CONFIG": str(tmp_path)}) is None
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"r.io": "nonexistent-xyz"}}))
    with pytest.raises(OperationError, match="docker-credential-nonexistent-xyz"):
        discover("r.io", {"DOCKER_CONFIG": str(tmp_path)})


def test_challenge_parse():
    c = Challenge.parse('Bearer realm="https://auth.io/token",service="reg.io",scope="repository:a/b:pull,push"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.io/token", "service": "reg.io", "scope": "repository:a/b:pull,push"}
    assert Challenge.parse('Basic realm="x"').scheme == "basic"
