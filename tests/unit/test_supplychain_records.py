"""Publish's records without a registry: package inventory parsing and reading it beside the push, CycloneDX
documents, the policy's signer."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from lifecycle.build.engine import TestResult
from lifecycle.build.publish_records import inventory_beside
from lifecycle.catalogue.policy import Policy, parse_policy
from lifecycle.errors import InputError, OperationError
from lifecycle.packages.inventory import NO_SHELL, PACKAGES, RELEASE, parse
from lifecycle.supplychain import provenance, sbom, signing
from lifecycle.supplychain.records import envelope, is_signed, pipeline_run, policy_signer

OUTPUT = f"""{RELEASE}
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
ID=debian
VERSION_ID="12"
{PACKAGES}
deb\tapt\t2.6.1\tamd64
deb\tlibc6\t2.36-9+deb12u4\tamd64
deb\tlibc6\t2.36-9+deb12u4\tamd64
"""
POLICY = "approvedBases: ['x/*']\nlabelPrefix: io.x\n"


def test_inventory_parses_rows_once_each_sorted():
    found = parse(OUTPUT)
    assert (found.os_id, found.os_version, found.os_pretty) == ("debian", "12", "Debian GNU/Linux 12 (bookworm)")
    assert [(p.name, p.version) for p in found.packages] == [("apt", "2.6.1"), ("libc6", "2.36-9+deb12u4")]
    assert found.note == ""


def test_inventory_without_database_or_shell_says_so():
    assert parse(f"{RELEASE}\n{PACKAGES}\n").note == "no package database"
    assert parse("exec failed").note == NO_SHELL


def test_image_sbom_is_cyclonedx_1_5_with_purls_and_a_stable_serial():
    found = parse(OUTPUT)
    digest = "sha256:" + "a" * 64
    first = sbom.image_sbom("r.io/img", digest, found)
    doc = json.loads(first)
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.5")
    assert doc["metadata"]["component"] == {"bom-ref": f"r.io/img@{digest}", "name": "r.io/img", "type": "container",
                                            "version": digest,
                                            "properties": [{"name": "lifecycle:os",
                                                            "value": "Debian GNU/Linux 12 (bookworm)"}]}
    assert [c["purl"] for c in doc["components"]] == [
        "pkg:deb/debian/apt@2.6.1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"]
    assert doc["serialNumber"] == json.loads(sbom.image_sbom("r.io/img", digest, found))["serialNumber"]
    assert sbom.component_names(first) == ["apt", "libc6"]


def test_index_sbom_lists_its_platform_images():
    doc = json.loads(sbom.index_sbom("r.io/img", "sha256:" + "i" * 64,
                                     {"linux/arm64/v8": "sha256:" + "b" * 64, "linux/amd64": "sha256:" + "a" * 64}))
    assert [(c["type"], c["version"], c["properties"][0]["value"]) for c in doc["components"]] == [
        ("container", "sha256:" + "a" * 64, "linux/amd64"), ("container", "sha256:" + "b" * 64, "linux/arm64/v8")]


def test_pipeline_run_from_azure_variables():
    assert pipeline_run({}) == (None, None)
    assert pipeline_run({"BUILD_BUILDID": "7"}) == ("7", None)
    assert pipeline_run({"BUILD_BUILDID": "7", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": "https://dev.azure.com/o/",
                         "SYSTEM_TEAMPROJECT": "p"}) == ("7", "https://dev.azure.com/o/p/_build/results?buildId=7")


def test_policy_signing_keys_parse_and_bad_ones_are_refused(tmp_path):
    policy = parse_policy(POLICY + "signing: {key: 'file:keys/k.pem'}\nrequireProvenance: true\n")
    assert (policy.signing_key, policy.require_provenance) == ("file:keys/k.pem", True)
    with pytest.raises(InputError, match="signing"):
        parse_policy(POLICY + "signing: {key: 'vault:k'}\n")
    with pytest.raises(InputError, match=r"manifests/policy.yml: signing.key: signing key .*k.pem"):
        policy_signer(policy, tmp_path)
    assert policy_signer(parse_policy(POLICY), tmp_path) is None


def test_azure_key_vault_key_without_the_sdk_fails_clearly(tmp_path, signing_keys):
    pytest.importorskip("cryptography")
    try:
        import azure.keyvault.keys  # noqa: F401
        pytest.skip("the Azure SDK is installed here")
    except ImportError:
        pass
    public = signing_keys["trusted"][1]
    policy = replace(Policy(("x",), "io.x"), signing_key="azurekms:https://v.vault.azure.net/keys/k/1",
                     signing_public_key=str(public))
    with pytest.raises(InputError, match=r"signing.key: .*needs securesystemslib\[azurekms\]"):
        policy_signer(policy, tmp_path)
    without_public = replace(policy, signing_public_key="")
    with pytest.raises(InputError, match="needs its public key"):
        policy_signer(without_public, tmp_path)


def test_file_key_relative_to_the_repository_signs_what_verifies(tmp_path, signing_keys):
    private, public = signing_keys["trusted"]
    policy = replace(Policy(("x",), "io.x"), signing_key=f"file:{private.name}")
    signer = policy_signer(policy, private.parent)
    statement = provenance.statement(provenance.BuildFacts("r/i", "sha256:" + "c" * 64, "file:///s", "d" * 40, "h"))
    signed = envelope(statement, signer)
    assert is_signed(signed) and signing.verify(signed, [signing.load_public_key(public)]).ok
    unsigned = envelope(statement, None)
    assert not is_signed(unsigned)
    assert signing.verify(unsigned, [signing.load_public_key(public)]).reason == "unsigned"


class ListingEngine:
    """Answers the inventory's listing container; `started` is set when the listing runs, `error` raises."""

    def __init__(self, error: Exception | None = None):
        self.started, self.release, self.error = threading.Event(), threading.Event(), error

    def run_test(self, image: str, command: str, timeout: float = 600, **_) -> TestResult:
        self.started.set()
        self.release.wait(5)
        if self.error:
            raise self.error
        return TestResult(command, 0, OUTPUT)


def test_inventory_is_read_while_the_caller_pushes_and_waited_for_on_leaving():
    engine = ListingEngine()
    with inventory_beside(engine, "r.io/img:1") as packages:
        # the push runs here: the listing has started without waiting for it
        assert engine.started.wait(5)
        engine.release.set()
        found = packages()
    assert [p.name for p in found.packages] == ["apt", "libc6"]


def test_a_failed_inventory_fails_where_the_records_need_it():
    engine = ListingEngine(OperationError("listing container: exit 3"))
    engine.release.set()
    with pytest.raises(OperationError, match="exit 3"):
        with inventory_beside(engine, "r.io/img:1") as packages:
            packages()


def test_no_inventory_is_read_when_no_records_are_written():
    engine = ListingEngine()
    with inventory_beside(engine, "r.io/img:1", wanted=False) as packages:
        assert packages().packages == []
    assert not engine.started.is_set()
