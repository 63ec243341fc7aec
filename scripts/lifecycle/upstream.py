"""Import the ImageBuilder manifest format (dotnet/docker-tools) into our catalogue.

The upstream prereqs repository describes its images in manifest.json: top-level `includes` (more JSON files
merged in, relative to the main manifest), `variables` referenced as `$(name)` anywhere, and
`repos[].images[].platforms[]` (dockerfile, os, osVersion, architecture, variant, buildArgs, tags) with
image-level `sharedTags`. Our catalogue has one entry per Dockerfile folder whose tag base is that folder,
so everything else (Windows, multi-platform shared tags, build-leg groups, templates...) is reported as
not mapped rather than dropped silently.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifecycle import yamlio
from lifecycle.catalog import TAG_RE
from lifecycle.dockerfile import parse as parse_dockerfile
from lifecycle.errors import InputError, Location

CATALOG_HEADER = ("yaml-language-server: $schema=../scripts/lifecycle/schemas/images.schema.json\n"
                  "Imported from an ImageBuilder manifest by `lifecycle import-manifest`. "
                  "Tag base = Dockerfile folder under src/, / as -.")
POLICY_HEADER = ("yaml-language-server: $schema=../scripts/lifecycle/schemas/policy.schema.json\n"
                 "Approved bases: fnmatch patterns over the full reference of every FROM / COPY --from.")
DEFAULT_LABEL_PREFIX = "com.microsoft.dotnet-buildtools"
_VAR_RE = re.compile(r"\$\(([^()$]+)\)")
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")
# keys of the upstream platform model this import understands (osVersion is encoded in the folder already)
_PLATFORM_KEYS = {"dockerfile", "os", "osVersion", "architecture", "variant", "buildArgs", "tags",
                  "customBuildLegGroups", "dockerfileTemplate", "contextPath"}
_ARCHITECTURES = {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}


@dataclass(frozen=True)
class Finding:
    """Something the import could not map, or mapped differently from upstream."""

    kind: str  # "unmapped" | "mismatch" | "note"
    where: str
    what: str


@dataclass
class UpstreamManifest:
    path: Path
    registry: str | None
    variables: dict[str, str]
    # (repo name, image dict, origin label) in file order, includes after the main file
    repos: list[tuple[str, list[tuple[dict[str, Any], str]]]]


@dataclass
class ImportResult:
    registry: str
    repository: str
    images: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    external_bases: list[str] = field(default_factory=list)

    @property
    def unmapped(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "unmapped"]

    @property
    def mismatches(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "mismatch"]

    def add(self, kind: str, where: str, what: str) -> None:
        self.findings.append(Finding(kind, where, what))


# -- reading ---------------------------------------------------------------------------------------------

def _read_json(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", Location(shown)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({exc})", Location(shown)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as first:
        # ImageBuilder reads with Json.NET, which accepts trailing commas; upstream files contain some
        try:
            data = json.loads(_TRAILING_COMMA_RE.sub(r"\1", text))
        except json.JSONDecodeError:
            raise InputError(f"not JSON: {first.msg}", Location(shown, first.lineno, first.colno)) from None
    if not isinstance(data, dict):
        raise InputError("a manifest must be a JSON object", Location(shown))
    return data


def load_manifest(path: Path) -> UpstreamManifest:
    """Read a manifest and every file it includes (recursively, each once)."""
    path = Path(path)
    root = path.parent
    variables: dict[str, str] = {}
    repos: dict[str, list[tuple[dict[str, Any], str]]] = {}
    registry: str | None = None
    seen: set[Path] = set()

    def visit(file: Path, shown: str) -> None:
        nonlocal registry
        resolved = file.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        data = _read_json(file, shown)
        if registry is None and isinstance(data.get("registry"), str):
            registry = data["registry"]
        for name, value in (data.get("variables") or {}).items():
            variables.setdefault(str(name), str(value))  # the including file wins over what it includes
        for r_index, repo in enumerate(data.get("repos") or []):
            if not isinstance(repo, dict) or not isinstance(repo.get("name"), str):
                raise InputError(f"repos[{r_index}] has no name", Location(shown))
            bucket = repos.setdefault(repo["name"], [])
            for i_index, image in enumerate(repo.get("images") or []):
                if not isinstance(image, dict):
                    raise InputError(f"repos[{r_index}].images[{i_index}] is not an object", Location(shown))
                bucket.append((image, f"{shown}: repos[{r_index}].images[{i_index}]"))
        for include in data.get("includes") or []:
            # ImageBuilder resolves includes against the main manifest's folder
            visit(root / include, str(include))

    visit(path, str(path))
    if not repos:
        raise InputError("no repos[].images[] in the manifest or its includes", Location(str(path)))
    return UpstreamManifest(path, registry, variables, list(repos.items()))


def expand(text: str, variables: dict[str, str], _depth: int = 0) -> str:
    """Replace $(name) recursively; unknown and System: variables stay as they are."""
    if _depth > 20:
        raise InputError(f"variables refer to each other in a loop while expanding {text!r}")

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in variables:
            return expand(variables[name], variables, _depth + 1)
        return m.group(0)

    return _VAR_RE.sub(repl, text)


def unexpanded(text: str) -> list[str]:
    return _VAR_RE.findall(text)


# -- mapping -----------------------------------------------------------------------------------------------

def folder_tagbase(folder: str) -> str:
    return folder.removeprefix("src/").replace("/", "-")


def _tag_bases(tags: dict[str, Any], variables: dict[str, str], where: str,
               result: ImportResult) -> list[str]:
    """Tag bases implied by a platform's (or image's) tags, best first: the prefix of the immutable
    `...-$(System:...)` tag, then floating tags. Local-only and unexpandable tags are reported."""
    immutable, floating = [], []
    for tag, info in tags.items():
        if isinstance(info, dict) and info.get("isLocal"):
            continue  # built for local use only, never published
        value = expand(tag, variables)
        custom = [v for v in unexpanded(value) if not v.startswith("System:")]
        if custom:
            result.add("unmapped", where, f"tag {tag!r}: variable(s) {', '.join(custom)} not defined")
            continue
        if "$(" in value:
            base = value[: value.index("$(")].rstrip("-._")
            if base:
                immutable.append(base)
            continue
        floating.append(value)
    return list(dict.fromkeys(immutable + floating))


def _dockerfile_folder(raw: str, root: Path, where: str, result: ImportResult) -> str | None:
    path = raw.strip().rstrip("/").removeprefix("./")
    if (root / path).is_dir():
        folder = path
    elif path.rsplit("/", 1)[-1] == "Dockerfile":
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
    elif (root / path).is_file():
        result.add("unmapped", where, f"dockerfile {raw!r} is not named Dockerfile "
                   "(our catalogue builds <folder>/Dockerfile)")
        return None
    else:
        result.add("unmapped", where, f"dockerfile {raw!r} does not exist")
        return None
    if not (root / folder / "Dockerfile").is_file():
        result.add("unmapped", where, f"dockerfile {raw!r} does not exist")
        return None
    if not folder.startswith("src/"):
        result.add("unmapped", where, f"dockerfile folder {folder!r} is not under src/")
        return None
    return folder


def _map_platform(platform: dict[str, Any], image_where: str, index: int, manifest: UpstreamManifest,
                  result: ImportResult) -> dict[str, Any] | None:
    where = f"{image_where}.platforms[{index}]"
    variables = manifest.variables
    for key in platform:
        if key not in _PLATFORM_KEYS:
            result.add("unmapped", where, f"platform key {key!r} has no equivalent; ignored")
    os_name = expand(str(platform.get("os", "")), variables).lower()
    if os_name != "linux":
        result.add("unmapped", where, f"os {os_name or '(none)'!r}: only Linux images are built here")
        return None
    if platform.get("dockerfileTemplate"):
        result.add("note", where, f"dockerfileTemplate {platform['dockerfileTemplate']!r} is not used: the "
                   "generated Dockerfile is imported as it is")
    arch = expand(str(platform.get("architecture", "amd64")), variables).lower()
    if arch not in _ARCHITECTURES:
        result.add("unmapped", where, f"architecture {arch!r} is not supported")
        return None
    variant = expand(str(platform["variant"]), variables).lower() if platform.get("variant") else None
    if variant and not re.fullmatch(r"v[0-9]+", variant):
        result.add("unmapped", where, f"variant {variant!r} is not of the form v<N>")
        return None
    folder = _dockerfile_folder(expand(str(platform.get("dockerfile", "")), variables),
                                manifest.path.parent, where, result)
    if folder is None:
        return None
    context = platform.get("contextPath")
    if context and expand(str(context), variables).strip().rstrip("/") != folder:
        result.add("unmapped", where, f"contextPath {context!r} differs from the Dockerfile folder; "
                   "our build context is always the Dockerfile folder")
        return None
    if platform.get("customBuildLegGroups"):
        names = [g.get("name", "?") for g in platform["customBuildLegGroups"] if isinstance(g, dict)]
        result.add("unmapped", where, f"customBuildLegGroups {names}: build legs follow the dependency "
                   "graph here (lifecycle matrix); dropped")
    build_args = {}
    for name, value in (platform.get("buildArgs") or {}).items():
        expanded = expand(str(value), variables)
        left = unexpanded(expanded)
        if left:
            result.add("unmapped", where, f"build arg {name}={value!r}: variable(s) {', '.join(left)} "
                       "not defined; arg dropped")
            continue
        build_args[str(name)] = expanded
    tagbase = folder_tagbase(folder)
    upstream_bases = _tag_bases(platform.get("tags") or {}, variables, where, result)
    aliases = []
    if upstream_bases and upstream_bases[0] != tagbase:
        result.add("mismatch", where, f"upstream tag base {upstream_bases[0]!r} differs from folder {folder!r}: "
                   f"tag base {tagbase!r}, upstream name kept as a shared tag")
        aliases.append(upstream_bases[0])
    entry: dict[str, Any] = {"tagBase": tagbase, "dockerfile": folder,
                             "platform": {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}}
    if build_args:
        entry["buildArgs"] = build_args
    entry["_aliases"] = aliases
    entry["_where"] = where
    return entry


def _assign_shared_tags(image: dict[str, Any], entries: list[dict[str, Any]], where: str,
                        manifest: UpstreamManifest, result: ImportResult) -> None:
    shared = _tag_bases(image.get("sharedTags") or {}, manifest.variables, where, result)
    if not shared:
        return
    if len(entries) != 1:
        result.add("unmapped", where, f"shared tags {shared} span {len(entries)} platforms (a multi-platform "
                   "manifest list); our catalogue has one platform per tag base")
        return
    entries[0]["_aliases"].extend(shared)


def map_manifest(manifest: UpstreamManifest, registry: str | None = None,
                 repository: str | None = None) -> ImportResult:
    """Map what can be mapped; every entry that cannot is a finding in the result."""
    registry = registry or (expand(manifest.registry, manifest.variables) if manifest.registry else None)
    if not registry:
        raise InputError("the manifest names no registry: pass --registry", Location(str(manifest.path)))
    names = [name for name, _ in manifest.repos]
    chosen = repository if repository in names else names[0]
    result = ImportResult(registry, expand(repository or chosen, manifest.variables))
    for name, images in manifest.repos:
        if name != chosen:
            result.add("unmapped", name, f"repo {name!r} ({len(images)} image(s)): our catalogue holds one "
                       f"repository; import it separately with --repository {name}")
            continue
        for image, where in images:
            entries = []
            for index, platform in enumerate(image.get("platforms") or []):
                entry = _map_platform(platform, where, index, manifest, result)
                if entry is not None:
                    entries.append(entry)
            _assign_shared_tags(image, entries, where, manifest, result)
            result.images.extend(entries)
    _drop_duplicates(result)
    _finish_aliases(result)
    return result


def _drop_duplicates(result: ImportResult) -> None:
    first: dict[str, dict[str, Any]] = {}
    kept = []
    for entry in result.images:
        other = first.get(entry["tagBase"])
        if other is not None:
            result.add("unmapped", entry["_where"], f"same Dockerfile folder {entry['dockerfile']!r} as "
                       f"{other['_where']}: our catalogue has one image per folder")
            continue
        first[entry["tagBase"]] = entry
        kept.append(entry)
    result.images = kept


def _finish_aliases(result: ImportResult) -> None:
    tagbases = {e["tagBase"] for e in result.images}
    claimed: dict[str, str] = {}
    for entry in result.images:
        shared = []
        for alias in dict.fromkeys(entry.pop("_aliases")):
            if alias in tagbases or alias in (entry["tagBase"] + "-latest", entry["tagBase"] + "-staging"):
                continue
            if not TAG_RE.match(alias):
                result.add("unmapped", entry["_where"], f"shared tag {alias!r} is not a valid tag")
            elif alias in claimed:
                result.add("unmapped", entry["_where"], f"shared tag {alias!r} already belongs to {claimed[alias]}")
            else:
                claimed[alias] = entry["tagBase"]
                shared.append(alias)
        if shared:
            entry["sharedTags"] = shared


def check_dockerfiles(result: ImportResult, root: Path, upstream_repo: str, upstream_registry: str | None) -> None:
    """Collect external bases (for the policy) and report FROMs naming the upstream repository by a tag
    that is not a bare tag base: validate would reject them, and the report says what to write instead."""
    alias_of = {t: e["tagBase"] for e in result.images for t in e.get("sharedTags", [])}
    ours = {e["tagBase"] for e in result.images}
    prefixes = {f"{result.registry}/{result.repository}:"}
    if upstream_registry:
        prefixes.add(f"{upstream_registry}/{upstream_repo}:")
    external: dict[str, None] = {}
    for entry in result.images:
        path = f"{entry['dockerfile']}/Dockerfile"
        try:
            text = (root / path).read_text(encoding="utf-8", errors="replace")
            df = parse_dockerfile(text, path, entry.get("buildArgs"))
        except InputError as exc:
            result.add("note", path, f"Dockerfile does not parse ({exc}); validate will report it")
            continue
        for ref in df.image_refs():
            prefix = next((p for p in prefixes if ref.ref.startswith(p)), None)
            if prefix is None:
                external[ref.ref] = None
                continue
            tag = ref.ref[len(prefix):]
            if prefix == f"{result.registry}/{result.repository}:" and tag in ours:
                continue
            target = tag if tag in ours else alias_of.get(tag)
            advice = (f"write {result.registry}/{result.repository}:{target}" if target
                      else "no imported image has that tag")
            result.add("note", f"{path}:{ref.line}", f"{ref.instruction} {ref.ref} names the upstream "
                       f"repository: {advice}")
    result.external_bases = list(external)


# -- writing -----------------------------------------------------------------------------------------------

def _existing_entries(dest: Path) -> dict[str, dict[str, Any]]:
    """Entries of a catalogue already at dest, so re-importing keeps tests, owners and end-of-life."""
    path = dest / "manifests" / "images.yml"
    if not path.is_file():
        return {}
    try:
        plain = yamlio.to_plain(yamlio.load_file(path))
    except InputError:
        return {}
    images = plain.get("images") if isinstance(plain, dict) else None
    return {e["tagBase"]: e for e in images or [] if isinstance(e, dict) and "tagBase" in e}


def render_catalog(result: ImportResult, existing: dict[str, dict[str, Any]] | None = None) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    existing = existing or {}
    doc = CommentedMap()
    doc["registry"] = result.registry
    doc["repository"] = result.repository
    images = CommentedSeq()
    for index, entry in enumerate(result.images):
        item = CommentedMap()
        item["tagBase"] = _string(entry["tagBase"])
        item["dockerfile"] = entry["dockerfile"]
        platform = CommentedMap(entry["platform"])
        platform.fa.set_flow_style()
        item["platform"] = platform
        if entry.get("buildArgs"):
            # always quoted: 3.30 or 1e3 would otherwise come back as numbers and fail the schema
            args = CommentedMap({k: DoubleQuotedScalarString(v) for k, v in entry["buildArgs"].items()})
            args.fa.set_flow_style()
            item["buildArgs"] = args
        kept = existing.get(entry["tagBase"], {})
        for key in ("tests", "owners", "endOfLife"):
            if key in kept:
                value = kept[key]
                if isinstance(value, list):
                    value = CommentedSeq(value)
                    value.fa.set_flow_style()
                elif key == "endOfLife":
                    value = _as_date(value)
                item[key] = value
        if entry.get("sharedTags"):
            shared = CommentedSeq(_string(t) for t in entry["sharedTags"])
            shared.fa.set_flow_style()
            item["sharedTags"] = shared
        images.append(item)
        if index:
            images.yaml_set_comment_before_after_key(index, before="\n", indent=2)
    doc["images"] = images
    doc.yaml_set_start_comment(CATALOG_HEADER)
    return yamlio.dump_text(doc)


def _as_date(value: str) -> Any:
    """A real date is written bare (2027-07-31), like the hand-written catalogue; anything else stays text."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


def _string(value: str) -> str:
    """Quote a string YAML would read back as something else (1.0, true, null...)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return value if isinstance(YAML(typ="safe").load(value), str) else DoubleQuotedScalarString(value)


def render_policy(patterns: list[str], existing_text: str | None) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if existing_text is not None:
        doc = yamlio.load_text(existing_text, "manifests/policy.yml")
        bases = doc.setdefault("approvedBases", CommentedSeq())
        for pattern in patterns:
            if pattern not in bases:
                bases.append(pattern)
        return yamlio.dump_text(doc)
    doc = CommentedMap()
    doc["approvedBases"] = CommentedSeq(patterns)
    doc["labelPrefix"] = DEFAULT_LABEL_PREFIX
    doc.yaml_set_start_comment(POLICY_HEADER)
    return yamlio.dump_text(doc)


@dataclass(frozen=True)
class ImportPlan:
    """What `import_manifest` writes: file path (relative to dest) -> text, and folders to copy."""

    files: dict[str, str]
    copies: list[str]


def import_manifest(manifest_path: Path, dest: Path | None = None, *, registry: str | None = None,
                    repository: str | None = None, policy_bases: list[str] | None = None,
                    dry_run: bool = False) -> tuple[ImportResult, ImportPlan]:
    """Read, map, and (unless dry_run) write dest/manifests/images.yml, the policy when needed, and copy the
    Dockerfile folders when dest is another repository. Raises InputError (nothing written) on bad input."""
    manifest = load_manifest(Path(manifest_path))
    root = manifest.path.parent
    dest = Path(dest) if dest is not None else root
    result = map_manifest(manifest, registry, repository)
    if not result.images:
        raise InputError("no image could be mapped", Location(str(manifest.path)),
                         [f"{f.where}: {f.what}" for f in result.findings])
    upstream_repo = repository if repository in dict(manifest.repos) else manifest.repos[0][0]
    check_dockerfiles(result, root, upstream_repo, expand(manifest.registry, manifest.variables)
                      if manifest.registry else None)
    for image in result.images:
        image.pop("_where", None)
    files = {"manifests/images.yml": render_catalog(result, _existing_entries(dest))}
    policy_path = dest / "manifests" / "policy.yml"
    if policy_bases or not policy_path.is_file():
        patterns = list(policy_bases or result.external_bases)
        if not patterns and not policy_path.is_file():
            raise InputError("no external base found to approve: pass --policy-base", Location(str(manifest.path)))
        if not policy_bases:
            result.add("note", "manifests/policy.yml", "written approving the exact external bases found; "
                       "review and widen to patterns (--policy-base)")
        existing = policy_path.read_text(encoding="utf-8") if policy_path.is_file() else None
        files["manifests/policy.yml"] = render_policy(patterns, existing)
    copies = [] if dest.resolve() == root.resolve() else sorted({e["dockerfile"] for e in result.images})
    plan = ImportPlan(files, copies)
    if not dry_run:
        for folder in copies:
            shutil.copytree(root / folder, dest / folder, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git"))
        for rel, text in files.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text, encoding="utf-8")
    return result, plan
