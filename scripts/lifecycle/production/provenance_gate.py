"""The provenance gate (policy `requireProvenance: true`): production tags move only to digests whose
provenance says, under a trusted signature, that they are this definition.

A digest passes when one of its provenance referrers is a DSSE envelope that verifies against a public key
in the repository's `keys/*.pub` at the commit being promoted, names that digest as its subject, and names
the catalogue's definition hash for the image at that commit. Anything else is a reason: missing,
unsigned, not verifying (tampered, another key), another subject, another definition. Rollout holds such
an image (production keeps its files, its children are held too); reconcile leaves its tags where they
are; both report the reason as a hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.signer import SSlibKey

from lifecycle.catalogue.workspace import Workspace
from lifecycle.errors import InputError
from lifecycle.output import short_digest
from lifecycle.production.gitops import Hold
from lifecycle.production.lkg import Lkg
from lifecycle.registry import referrers
from lifecycle.registry.client import RegistryClient
from lifecycle.supplychain import provenance, signing

if TYPE_CHECKING:  # reconcile imports this module
    from lifecycle.production.reconcile import TagChange

KEYS_FOLDER = "keys"
REASON_PREFIX = "provenance: "


def trusted_keys(ws: Workspace) -> list[SSlibKey]:
    """`keys/*.pub` of the workspace's tree (a commit's, so the keys are the ones reviewed with it)."""
    keys = []
    for path in sorted(p for p in ws.source.files_under(KEYS_FOLDER) if p.endswith(".pub")):
        data = ws.source.read(path) or b""
        try:
            keys.append(SSlibKey.from_crypto(load_pem_public_key(data)))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: cannot load a PEM public key ({exc})") from None
    if not keys:
        raise InputError(f"{ws.policy.path}: requireProvenance is on, but {KEYS_FOLDER}/ has no trusted public "
                         f"keys (*.pub, PEM) to verify against")
    return keys


@dataclass
class ProvenanceGate:
    client: RegistryClient
    repository: str             # the catalogue's default; an image's records are in its own repository
    keys: list[SSlibKey]
    checked: dict[tuple[str, str, str], str | None] = field(default_factory=dict)  # (repo, digest, def) -> reason

    def problem(self, digest: str, definition: str, repository: str | None = None) -> str | None:
        """Why `digest` (in `repository`, default the catalogue's) may not serve `definition`; None when its
        provenance says it may."""
        key = (repository or self.repository, digest, definition)
        if key not in self.checked:
            self.checked[key] = self._check(*key)
        return self.checked[key]

    def _check(self, repository: str, digest: str, definition: str) -> str | None:
        found = referrers.list_referrers(self.client, repository, digest, provenance.ARTIFACT_TYPE)
        if not found:
            return f"{short_digest(digest)} has no provenance"
        reasons = []
        for referrer in found:
            result = signing.verify(referrers.read_payload(self.client, repository, referrer), self.keys)
            if not result.ok or result.document is None:
                reasons.append("is unsigned" if result.reason == "unsigned" else
                               f"does not verify against {KEYS_FOLDER}/*.pub ({result.reason})")
                continue
            subject = provenance.subject_digest(result.document)
            named = provenance.definition_hash(result.document)
            if subject != digest:
                reasons.append(f"names subject {short_digest(subject)}")
            elif named != definition:
                reasons.append(f"names definition {short_digest(named)}, the catalogue has {short_digest(definition)}")
            else:
                return None
        return f"the provenance of {short_digest(digest)} " + "; ".join(dict.fromkeys(reasons))

    def holds(self, candidate: Workspace, production: Workspace, lkgs: dict[str, Lkg], held: dict[str, Hold],
              serving: dict[str, str | None]) -> dict[str, Hold]:
        """Rollout: hold (besides `held`) every image whose LKG would move `-latest` to a digest that fails
        the gate, and each of its descendants. `serving`: tag base -> where `-latest` points now (a digest
        already served is not a move, so it is not checked)."""
        found: dict[str, Hold] = {}
        for tagbase in candidate.order():
            lkg = lkgs.get(tagbase)
            if tagbase in held or lkg is None or not lkg.found or not lkg.digest or lkg.digest == serving.get(tagbase):
                continue
            reason = self.problem(lkg.digest, lkg.definition, candidate.catalog.repository_of(
                candidate.catalog.image(tagbase)))
            if reason:
                found[tagbase] = Hold(tagbase, REASON_PREFIX + reason, production.definitions.get(tagbase), None)
        assert candidate.graph is not None
        for tagbase in candidate.order(candidate.graph.descendants(set(found))):
            if tagbase in found or tagbase in held:
                continue
            parent = next(p for p in candidate.order(candidate.graph.ancestors(tagbase)) if p in found)
            found[tagbase] = Hold(tagbase, f"its parent {parent} is held", production.definitions.get(tagbase),
                                  None, parent)
        return found

    def refusal(self, ws: Workspace, lkgs: dict[str, Lkg]) -> Callable[[str], str | None]:
        """For floating tags (floating_rollout.plan_floating): the hold reason when moving one to `target`'s
        LKG would fail the gate, else None. Held there, production keeps the tag's entry, as for any hold."""
        def refused(target: str) -> str | None:
            lkg, image = lkgs.get(target), ws.catalog.get(target)
            if lkg is None or not lkg.found or not lkg.digest or image is None:
                return None
            reason = self.problem(lkg.digest, lkg.definition, ws.catalog.repository_of(image))
            return REASON_PREFIX + reason if reason else None
        return refused

    def filter_changes(self, ws: Workspace, lkgs: dict[str, Lkg], changes: list["TagChange"]
                       ) -> tuple[list["TagChange"], dict[str, Hold]]:
        """Reconcile (and rollout's last check): the tag changes that may happen, and a hold for each image
        whose moving tags would point at a digest that fails the gate. An index moves only over members
        that pass (its members are checked, not the index rollout wrote)."""
        holds: dict[str, Hold] = {}
        for change in changes:
            if not change.moves or change.index is not None or change.image in holds:
                continue
            lkg = lkgs.get(change.image)
            definition = lkg.definition if lkg is not None else ws.definitions.get(change.image, "")
            reason = self.problem(change.new, definition, change.repository or None)
            if reason:
                holds[change.image] = Hold(change.image, REASON_PREFIX + reason, ws.definitions.get(change.image),
                                           None)
        shared_held = {s.tag for s in ws.catalog.index_tags if set(s.tagbases) & set(holds)}
        kept = [c for c in changes
                if not (c.moves and (c.image in holds or (c.index is not None and c.image in shared_held)))]
        for tag in sorted(shared_held):
            holds.setdefault(tag, Hold(tag, "a member is held (provenance)", None, None))
        return kept, holds


def gate_for(ws: Workspace, client: RegistryClient) -> ProvenanceGate | None:
    """The gate when the workspace's policy asks for it, else None."""
    if not ws.policy.require_provenance:
        return None
    return ProvenanceGate(client, ws.catalog.repository, trusted_keys(ws))
