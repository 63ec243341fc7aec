"""Import the ImageBuilder manifest format (dotnet/docker-tools) into our catalogue.

The upstream prereqs repository describes its images in manifest.json: top-level `includes` (more JSON files
merged in, relative to the main manifest), `variables` referenced as `$(name)` anywhere, and
`repos[].images[].platforms[]` (dockerfile, os, osVersion, architecture, variant, buildArgs, tags) with
image-level `sharedTags`. The import is lossless: every platform is one catalogue image (any number per
Dockerfile folder, Windows included), its first published tag is the tag base and its other tags are
one-platform shared tags, and an image's shared tags become catalogue-level shared tags over its platforms
(pushed as an OCI index). Nothing is renamed: every tag is kept as spelled upstream, with $(variables)
resolved. What cannot be mapped (undefined variables, contexts other than the Dockerfile folder, clashing
tags...) is listed in the report, and so are Dockerfiles under src/ that the manifest does not name.
The approved-base list is kept as given: every other base becomes a time-boxed waiver (upstream_policy.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from lifecycle.catalogue import upstream_render as render
from lifecycle.catalogue.catalog import TAG_RE, split_dockerfile
from lifecycle.catalogue.dockerfile import parse as parse_dockerfile
from lifecycle.catalogue.upstream_model import ImportPlan, ImportResult, UpstreamManifest
from lifecycle.catalogue.upstream_sync import Change, sync_catalog
from lifecycle.catalogue.validation import is_dockerfile_name
from lifecycle.errors import InputError, Location

ORPHAN_REASON = "not named by the upstream manifest"
REPOSITORY_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_VAR_RE = re.compile(r"\$\(([^()$]+)\)")
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")
# keys of the upstream platform model this import understands
_PLATFORM_KEYS = {"dockerfile", "os", "osVersion", "architecture", "variant", "buildArgs", "tags",
                  "customBuildLegGroups", "dockerfileTemplate", "contextPath"}
_ARCHITECTURES = {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}


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

def split_tags(tags: dict[str, Any], variables: dict[str, str], where: str,
               result: ImportResult) -> tuple[list[str], list[str]]:
    """(immutable-tag prefixes, floating tags) of a platform's or image's tags, expanded. The prefix of an
    `...-$(System:...)` tag is the tag base our `<tagbase>-<timestamp>-<sha>` tags replace it with.
    Local-only tags are never published (a note); undefined variables are reported."""
    immutable, floating = [], []
    for tag, info in tags.items():
        if isinstance(info, dict) and info.get("isLocal"):
            result.add("note", where, f"tag {tag!r} is local-only upstream (isLocal): never published")
            continue
        value = expand(tag, variables)
        custom = [v for v in unexpanded(value) if not v.startswith("System:")]
        if custom:
            result.add("unmapped", where, f"tag {tag!r}: variable(s) {', '.join(custom)} not defined")
            continue
        if "$(" in value:
            base = value[: value.index("$(")].rstrip("-._")
            if base:
                immutable.append(base)
            else:
                result.add("unmapped", where, f"tag {tag!r} has no fixed prefix")
            continue
        floating.append(value)
    return list(dict.fromkeys(immutable)), list(dict.fromkeys(floating))


def _dockerfile(raw: str, root: Path, where: str, result: ImportResult) -> tuple[str, str] | None:
    """(catalogue `dockerfile:` value, Dockerfile path) or None (reported). Trailing slashes, ./ and a
    folder or a file path all name what ImageBuilder builds."""
    path = raw.strip().removeprefix("./").rstrip("/")
    if (root / path).is_dir():
        folder, name = path, "Dockerfile"
    elif (root / path).is_file():
        folder, _, name = path.rpartition("/")
    else:
        result.add("unmapped", where, f"dockerfile {raw!r} does not exist")
        return None
    if not (root / folder / name).is_file():
        result.add("unmapped", where, f"dockerfile {raw!r}: no {folder}/{name}")
        return None
    if not folder.startswith("src/"):
        result.add("unmapped", where, f"dockerfile folder {folder!r} is not under src/")
        return None
    if split_dockerfile(f"{folder}/{name}") != (folder, name):
        result.add("unmapped", where, f"dockerfile {raw!r}: a Dockerfile here is named Dockerfile, "
                   f"Dockerfile.<name> or <name>.dockerfile")
        return None
    return (folder if name == "Dockerfile" else f"{folder}/{name}"), f"{folder}/{name}"


def _map_platform(platform: dict[str, Any], image_where: str, index: int, manifest: UpstreamManifest,
                  result: ImportResult) -> dict[str, Any] | None:
    where = f"{image_where}.platforms[{index}]"
    variables = manifest.variables
    for key in platform:
        if key not in _PLATFORM_KEYS:
            result.add("unmapped", where, f"platform key {key!r} has no equivalent; ignored")
    os_name = expand(str(platform.get("os", "")), variables).lower()
    if os_name not in ("linux", "windows"):
        result.add("unmapped", where, f"os {os_name or '(none)'!r} is neither linux nor windows")
        return None
    arch = expand(str(platform.get("architecture", "amd64")), variables).lower()
    if arch not in _ARCHITECTURES:
        result.add("unmapped", where, f"architecture {arch!r} is not supported")
        return None
    variant = expand(str(platform["variant"]), variables).lower() if platform.get("variant") else None
    if variant and not re.fullmatch(r"v[0-9]+", variant):
        result.add("unmapped", where, f"variant {variant!r} is not of the form v<N>")
        return None
    found = _dockerfile(expand(str(platform.get("dockerfile", "")), variables), manifest.path.parent, where, result)
    if found is None:
        return None
    dockerfile, path = found
    result.named.add(path)
    folder = path.rpartition("/")[0]
    context = platform.get("contextPath")
    if context and expand(str(context), variables).strip().removeprefix("./").rstrip("/") != folder:
        result.add("unmapped", where, f"contextPath {context!r} differs from the Dockerfile folder; "
                   "our build context is always the Dockerfile folder")
        return None
    if platform.get("dockerfileTemplate"):
        result.add("note", where, f"dockerfileTemplate {platform['dockerfileTemplate']!r} is not used: the "
                   "generated Dockerfile is imported as it is")
    if platform.get("customBuildLegGroups"):
        names = [g.get("name", "?") for g in platform["customBuildLegGroups"] if isinstance(g, dict)]
        result.add("note", where, f"customBuildLegGroups {names}: build legs follow the dependency graph "
                   "here (lifecycle matrix)")
    build_args = {}
    for name, value in (platform.get("buildArgs") or {}).items():
        expanded = expand(str(value), variables)
        left = unexpanded(expanded)
        if left:
            result.add("unmapped", where, f"build arg {name}={value!r}: variable(s) {', '.join(left)} "
                       "not defined; arg dropped")
            continue
        build_args[str(name)] = expanded
    immutable, floating = split_tags(platform.get("tags") or {}, variables, where, result)
    names = list(dict.fromkeys(immutable[:1] + floating + immutable[1:]))
    if not names:
        result.add("unmapped", where, f"{path}: no published tag, so no tag base")
        return None
    plat: dict[str, Any] = {"os": os_name, "architecture": arch, **({"variant": variant} if variant else {})}
    if os_name == "windows" and platform.get("osVersion"):
        plat["osVersion"] = expand(str(platform["osVersion"]), variables)
    entry: dict[str, Any] = {"tagBase": names[0], "dockerfile": dockerfile, "platform": plat}
    if build_args:
        entry["buildArgs"] = build_args
    entry["_tags"] = names[1:]  # further names of this platform: one-platform shared tags
    entry["_where"] = where
    return entry


def map_manifest(manifest: UpstreamManifest, registry: str | None = None,
                 repository: str | None = None) -> ImportResult:
    """Map what can be mapped; every entry that cannot is a finding in the result."""
    upstream_registry = expand(manifest.registry, manifest.variables) if manifest.registry else None
    registry = registry or upstream_registry
    if not registry:
        raise InputError("the manifest names no registry: pass --registry", Location(str(manifest.path)))
    names = [name for name, _ in manifest.repos]
    chosen = repository if repository in names else names[0]
    result = ImportResult(registry, expand(repository or chosen, manifest.variables))
    # every upstream repo is imported; `chosen` is the catalogue's default repository (--repository may rename it)
    claims: dict[str, str] = {}  # every tag, qualified by its repository -> where it was claimed first
    for name, images in manifest.repos:
        ours = result.repository if name == chosen else expand(name, manifest.variables)
        if not REPOSITORY_RE.fullmatch(ours):
            result.add("unmapped", name, f"repo {name!r} ({len(images)} image(s)): {ours!r} is not a registry "
                       "repository name")
            continue
        upstream_name = f"{upstream_registry}/{expand(name, manifest.variables)}" if upstream_registry else None
        if upstream_name and upstream_name != f"{result.registry}/{ours}" and upstream_name not in result.aliases:
            result.aliases.append(upstream_name)  # the name the upstream Dockerfiles and consumers use
        for image, where in images:
            entries = []
            for index, platform in enumerate(image.get("platforms") or []):
                entry = _map_platform(platform, where, index, manifest, result)
                if entry is None:
                    continue
                if ours != result.repository:
                    entry["repository"] = ours
                if _claim(claims, result.qualified(ours, entry["tagBase"]), entry["_where"], result):
                    entry["_tags"] = [t for t in entry["_tags"]
                                      if _claim(claims, result.qualified(ours, t), entry["_where"], result)]
                    entries.append(entry)
            _map_shared(image, entries, where, manifest, claims, result, ours)
            result.images.extend(entries)
    for entry in result.images:
        entry.pop("_tags", None)
    return result


def _claim(claims: dict[str, str], tag: str, where: str, result: ImportResult) -> bool:
    """A tag may name one thing only in its repository (and its -staging/-latest are ours): report the
    second claim. `tag` is qualified (<repository>:<tag> outside the default repository)."""
    problem = None
    if not TAG_RE.match(tag.rpartition(":")[2] + "-20260101000000-0123456"):
        problem = f"tag {tag!r} is not a valid tag (with room for -<timestamp>-<sha>)"
    else:
        ours = [tag, tag + "-staging", tag + "-latest"] + \
            [tag[: -len(s)] for s in ("-staging", "-latest") if tag.endswith(s)]
        clash = next((t for t in ours if t in claims), None)
        if clash is not None:
            problem = f"tag {tag!r} clashes with {clash!r} of {claims[clash]}"
    if problem:
        result.add("unmapped", where, problem)
        return False
    claims[tag] = where
    return True


def _map_shared(image: dict[str, Any], entries: list[dict[str, Any]], where: str, manifest: UpstreamManifest,
                claims: dict[str, str], result: ImportResult, repository: str) -> None:
    immutable, floating = split_tags(image.get("sharedTags") or {}, manifest.variables, where, result)
    for tag in immutable:
        result.add("unmapped", where, f"shared tag {tag}-$(...) changes every build: a shared tag here is a "
                   "floating name")
    for entry in entries:
        entry.setdefault("sharedTags", [])
        entry["sharedTags"].extend(entry["_tags"])
        entry["_tags"] = []
    if not floating or not entries:
        if floating:
            result.add("unmapped", where, f"shared tags {floating}: none of the image's platforms was imported")
        return
    for tag in floating:
        key = result.qualified(repository, tag)
        if not _claim(claims, key, where, result):
            continue
        if len(entries) == 1:
            entries[0]["sharedTags"].append(tag)
        else:
            result.shared[key] = [result.name_of(e) for e in entries]
    for entry in entries:
        if not entry["sharedTags"]:
            del entry["sharedTags"]


def check_dockerfiles(result: ImportResult, root: Path) -> None:
    """Collect the external bases and who uses them (for the waivers), and report FROMs that name our
    repository (under any alias) by a tag no imported image has: validate would reject them."""
    tags = {result.name_of(e) for e in result.images} | set(result.shared) | \
        {result.qualified(e.get("repository", ""), t) for e in result.images for t in e.get("sharedTags", [])}
    repositories = [result.repository, *dict.fromkeys(e["repository"] for e in result.images if "repository" in e)]
    names = {f"{result.registry}/{r}": r for r in repositories}
    for alias in result.aliases:  # as Catalog.repository_names: an alias reaches the repository of its path
        path = alias.partition("/")[2]
        names.setdefault(alias, path if path in repositories else result.repository)
    users: dict[str, list[str]] = {}
    for entry in result.images:
        folder, name = split_dockerfile(entry["dockerfile"])
        path = f"{folder}/{name}"
        try:
            text = (root / path).read_text(encoding="utf-8", errors="replace")
            df = parse_dockerfile(text, path, entry.get("buildArgs"))
        except InputError as exc:
            result.add("unmapped", path, f"Dockerfile does not parse ({exc}); validate will report it")
            continue
        for ref in df.image_refs():
            name, sep, tag = ref.ref.split("@", 1)[0].rpartition(":")
            if not sep or "/" in tag or name not in names:
                users.setdefault(ref.ref, [])
                if result.name_of(entry) not in users[ref.ref]:
                    users[ref.ref].append(result.name_of(entry))
                continue
            if result.qualified(names[name], tag) not in tags:
                result.add("unmapped", f"{path}:{ref.line}", f"{ref.instruction} {ref.ref} names our repository, "
                           f"but no imported image has the tag {tag!r}")
    result.base_users = users
    result.external_bases = list(users)


def orphan_dockerfiles(root: Path, named: set[str]) -> list[str]:
    """Dockerfiles under src/ that no platform of the manifest builds."""
    found = []
    for folder, dirs, files in os.walk(root / "src"):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            if is_dockerfile_name(name):
                rel = (Path(folder) / name).relative_to(root).as_posix()
                if rel not in named:
                    found.append(rel)
    return sorted(found)


# -- the whole import --------------------------------------------------------------------------------------

def import_manifest(manifest_path: Path, dest: Path | None = None, *, registry: str | None = None,
                    repository: str | None = None, policy_bases: list[str] | None = None,
                    aliases: list[str] | None = None, waiver_days: int = 90, waiver_reason: str | None = None,
                    today: "dt.date | None" = None, dry_run: bool = False,
                    update: bool = False) -> tuple[ImportResult, ImportPlan]:
    """Read, map, and (unless dry_run) write dest/manifests/images.yml and policy.yml, and copy the
    Dockerfile folders when dest is another repository. Raises InputError (nothing written) on bad input."""
    manifest = load_manifest(Path(manifest_path))
    root = manifest.path.parent
    dest = Path(dest) if dest is not None else root
    local_text = None
    if update:  # a sync over the catalogue there: its registry and default repository unless given
        catalog_path = dest / "manifests" / "images.yml"
        if not catalog_path.is_file():
            raise InputError("--update needs an existing catalogue; import without --update first",
                             Location(str(catalog_path)))
        local_text = catalog_path.read_text(encoding="utf-8")
        local = render.existing_catalog(dest)
        registry = registry or local.get("registry")
        repository = repository or local.get("repository")
    result = map_manifest(manifest, registry, repository)
    for alias in [*(aliases or ()), *render.existing_aliases(dest)]:
        if alias.rstrip("/") not in result.aliases:
            result.aliases.append(alias.rstrip("/"))
    if not result.images:
        raise InputError("no image could be mapped", Location(str(manifest.path)),
                         [f"{f.where}: {f.what}" for f in result.findings])
    check_dockerfiles(result, root)
    orphans = orphan_dockerfiles(root, result.named)
    in_place = dest.resolve() == root.resolve()
    # an exclusion the team wrote keeps its reason; a new orphan is excluded, visibly, rather than failing validate
    result.excluded = render.existing_exclusions(dest)
    for path in orphans:
        if in_place:
            result.excluded.setdefault(path, ORPHAN_REASON)
        result.add("orphan", path, "Dockerfile under src/ that the manifest does not name; "
                   + (f"excluded: {result.excluded[path]}" if in_place else "not copied"))
    for image in result.images:
        image.pop("_where", None)
    today = today or dt.date.today()
    files = {"manifests/images.yml": render.render_catalog(result, render.existing_entries(dest))}
    changes: list[Change] = []
    if local_text is not None:
        files["manifests/images.yml"], changes = sync_catalog(local_text, files["manifests/images.yml"],
                                                              "manifests/images.yml")
    policy_path = dest / "manifests" / "policy.yml"
    existing = policy_path.read_text(encoding="utf-8") if policy_path.is_file() else None
    reason = waiver_reason or (f"adopted from {manifest.path.name} by import-manifest on {today}: "
                               f"approve the base or move the images off it")
    files["manifests/policy.yml"] = render.render_policy(result, list(policy_bases or ()), existing,
                                                         today + dt.timedelta(days=waiver_days), reason)
    copies = [] if dest.resolve() == root.resolve() else sorted({split_dockerfile(e["dockerfile"])[0]
                                                                 for e in result.images})
    # a removal upstream takes its copied folder with it, unless another image still builds from it
    kept = {split_dockerfile(e["dockerfile"])[0] for e in result.images}
    gone = [] if in_place else sorted({split_dockerfile(c.dockerfile)[0] for c in changes
                                       if c.change == "removed" and c.dockerfile} - kept)
    plan = ImportPlan(files, copies, changes)
    if not dry_run:
        skip = {root / o for o in orphans}
        for folder in copies:
            shutil.copytree(root / folder, dest / folder, dirs_exist_ok=True,
                            ignore=lambda d, names: [n for n in names if n == ".git" or Path(d) / n in skip])
        for folder in gone:
            shutil.rmtree(dest / folder, ignore_errors=True)
            parent = (dest / folder).parent
            while parent != dest / "src" and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # the folders that held only it
                parent = parent.parent
        for rel, text in files.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text, encoding="utf-8")
    return result, plan
