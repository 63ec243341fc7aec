"""The whole weekly cycle on local defaults: what the README's main job runs.

It builds a throwaway GitOps repository (bare origin, `main` and `production`) from the sample catalogue
on the local registry and engine (with SOLO's arm64 sibling, built under emulation, and the two under one
multi-platform shared tag: an OCI index), then walks every flow the pipelines run, through the same library
calls the commands use: publish to staging, weekly rollout, a change published and rolled out, a rollback by
reverting on production and the reconcile that follows, the stale report after a base image is patched,
a cleanup plan, a consumer scan, and OS patches measured inside a Debian image built on an un-refreshed base
(when the cached Debian root file system is given: eng/local-env.sh debian-rootfs). Each step leaves a
table; the report is printed and written as markdown.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lifecycle import sample
from lifecycle.build.engine import Engine
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.output import Reporter, markdown_table, plain_table, short_digest
from lifecycle.build.localbase import can_run
from lifecycle.build.publish import publish
from lifecycle.registry.pool import RegistryPool
from lifecycle.catalogue.source import WorkTree, run_git
from lifecycle.catalogue.workspace import Workspace

CONSUMER_PIPELINE = """\
# A product team's pipeline: one image pinned to an old build, one already on -latest.
resources:
  containers:
    - container: build
      image: {pinned}
    - container: helix
      image: {latest}   # keep on latest

jobs:
  - job: Test
    container: build
    steps:
      - script: ./build.sh
"""


@dataclass
class Step:
    title: str
    rows: list[dict[str, Any]]
    note: str = ""
    seconds: float = 0.0


@dataclass
class CycleReport:
    workdir: Path
    repository: str = ""
    steps: list[Step] = field(default_factory=list)
    status_page: Path | None = None   # the status page (docs/status.md) of the cycle's end state

    def markdown(self) -> str:
        return (f"# Weekly cycle on local defaults\n\nWork folder: `{self.workdir}`; "
                f"registry repository: `{self.repository}`\n" + self._render("## ", "\n", markdown_table))

    def text(self) -> str:
        return self._render("== ", "", plain_table)

    def _render(self, heading: str, gap: str, table: Callable[[list[dict[str, Any]]], str]) -> str:
        parts = []
        for step in self.steps:
            parts.append(f"\n{heading}{step.title} ({step.seconds:.1f} s)\n{gap}")
            if step.note:
                parts.append(step.note + "\n" + gap)
            parts.append(table(step.rows))
        return "".join(parts)


@dataclass
class Cycle:
    workdir: Path
    registry: str
    engine: Engine
    out: Reporter
    pool: RegistryPool
    debian_rootfs: Path | None = None
    report: CycleReport = field(init=False)

    def __post_init__(self) -> None:
        # a repository of its own per run: a re-run never sees an earlier run's tags
        run = dt.datetime.now(dt.timezone.utc).strftime("cycle-%Y%m%d%H%M%S%f")
        self.names = sample.SampleNames(self.registry, f"{run}/prereqs", f"{run}/base", f"{run}/debian")
        self.report = CycleReport(self.workdir, self.names.repository)
        self.origin = self.workdir / "origin.git"
        self.work = self.workdir / "gitops"
        self.client = self.pool.get(self.registry)
        # the two-platform image needs arm64 emulation (eng/local-env.sh sets it up when it runs as root)
        self.arm64 = can_run("linux/arm64")
        self.tagbases = sample.ARM64_TAGBASES if self.arm64 else sample.TAGBASES

    # -- plumbing --------------------------------------------------------------------------------

    def step(self, title: str, fn: Callable[[], tuple[list[dict[str, Any]], str]]) -> None:
        self.out.info(f"-- {title}")
        started = time.monotonic()
        rows, note = fn()
        self.report.steps.append(Step(title, rows, note, time.monotonic() - started))

    def git(self, *args: str) -> str:
        return run_git(self.work, *args).decode().strip()

    def ops(self) -> GitOps:
        return GitOps(self.work, "origin", "main", "production")

    def digest(self, tag: str) -> str | None:
        return self.client.try_resolve(self.names.repository, tag)

    def channel_rows(self) -> list[dict[str, Any]]:
        return [{"image": name, "staging": short_digest(self.digest(f"{t}-staging")),
                 "latest": short_digest(self.digest(f"{t}-latest"))} for name, t in self.latest_tags()]

    def latest_tags(self) -> list[tuple[str, str]]:
        """(row name, tag base) of every image and of the multi-platform shared tag (`<tag>-latest` is its index)."""
        index = [(f"{sample.SOLO_SHARED} (index)", sample.SOLO_SHARED)] if self.arm64 else []
        return [*((t, t) for t in self.tagbases), *index]

    # -- the steps -------------------------------------------------------------------------------

    def setup(self) -> tuple[list[dict[str, Any]], str]:
        run_git(self.workdir, "init", "-q", "--bare", "-b", "main", str(self.origin))
        run_git(self.workdir, "clone", "-q", str(self.origin), str(self.work))
        self.git("config", "user.name", "lifecycle main job")
        self.git("config", "user.email", "main-job@lifecycle.local")
        sample.write_sample(self.work, self.names, arm64=self.arm64)
        # production starts where main starts: nothing is promoted until the first rollout
        self.git("push", "-q", "origin", "HEAD:refs/heads/main", "HEAD:refs/heads/production")
        base = sample.seed_base(self.engine, self.client, self.names, "base release 1", arm64=self.arm64)
        platforms = f" (index: {', '.join(sample.BASE_PLATFORMS)})" if self.arm64 else ""
        two = (f"for amd64 and arm64 under one tag. `{sample.SOLO_SHARED}` is a multi-platform shared tag over "
               f"{sample.SOLO} and {sample.SOLO_ARM64} (one Dockerfile, the arm64 image built and tested under QEMU "
               "emulation)." if self.arm64 else
               "for amd64 only: no arm64 emulation here (eng/local-env.sh up as root registers it), so the "
               "two-platform image and its index are left out.")
        return ([{"what": "origin", "value": str(self.origin)},
                 {"what": "main", "value": self.git("rev-parse", "--short", "origin/main")},
                 {"what": "production", "value": self.git("rev-parse", "--short", "origin/production")},
                 {"what": "base image", "value": f"{self.names.base} {short_digest(base)}{platforms}"}],
                "A bare origin with `main` and `production` at the sample catalogue's first commit; the approved "
                f"base seeded into the local registry from busybox-static, {two}")

    def publish_main(self, note: str) -> Callable[[], tuple[list[dict[str, Any]], str]]:
        def run() -> tuple[list[dict[str, Any]], str]:
            with (self.workdir / "build.log").open("a", encoding="utf-8") as log:
                result = publish(self.work, None, channel="staging", client=self.client, engine=self.engine,
                                 reporter=self.out, pool=self.pool, build_log=lambda line: log.write(line + "\n"))
            if not result.ok:
                raise OperationError("publish failed: " + ", ".join(result.by_status("failed")))
            rows = [{"image": r.tagbase, "status": r.status, "staging": short_digest(r.digest),
                     "tag": r.immutable_tag or ""} for r in result.results]
            rows += [{"image": i.tag, "status": i.status, "staging": short_digest(i.digest), "tag": "(index)"}
                     for i in result.indexes]
            return rows, note
        return run

    def rollout(self, note: str) -> Callable[[], tuple[list[dict[str, Any]], str]]:
        def run() -> tuple[list[dict[str, Any]], str]:
            from lifecycle.production.rollout import rollout, summary_rows

            result = rollout(self.ops(), self.client, self.out, journal_path=self.workdir / "journal.json")
            if not result.ok:
                raise OperationError("rollout failed")
            self.git("fetch", "-q", "origin")
            self.last_merge = result.plan.merge
            holds = ", ".join(result.plan.holds) or "none"
            promoted = (f"main {result.plan.commit[:10]} was already in production: tags only"
                        if result.plan.already else
                        f"promoted main {result.plan.commit[:10]} as merge {(result.plan.merge or '')[:10]}")
            return summary_rows(result), f"{note} {promoted[0].upper()}{promoted[1:]}; holds: {holds}."
        return run

    def change(self) -> tuple[list[dict[str, Any]], str]:
        path = self.work / "src/busybox/1.0/solo/amd64/Dockerfile"
        path.write_text(path.read_text().replace("solo v1", "solo v2"))
        self.git("commit", "-q", "-am", f"{sample.SOLO_SHARED}: v2")
        self.git("push", "-q", "origin", "HEAD:refs/heads/main")
        self.before_change = {t: self.digest(f"{t}-latest") for _, t in self.latest_tags()}
        images = f"{sample.SOLO} and {sample.SOLO_ARM64} (one folder)" if self.arm64 else sample.SOLO
        return ([{"commit": self.git("rev-parse", "--short", "HEAD"), "change": f"{images}: solo v1 -> v2"}],
                "A product change merged to main.")

    def rollback(self) -> tuple[list[dict[str, Any]], str]:
        from lifecycle.production.reconcile import reconcile
        from lifecycle.production.rollback import revert_commit

        rolled_out = {t: self.digest(f"{t}-latest") for _, t in self.latest_tags()}
        reverted = revert_commit(self.ops(), self.last_merge, mode="push")
        result = reconcile(self.ops(), self.client, self.out, journal_path=self.workdir / "reconcile.json")
        if not result.ok:
            raise OperationError("reconcile after the revert failed")
        rows = []
        for name, t in self.latest_tags():
            before, after = self.before_change[t], self.digest(f"{t}-latest")
            rows.append({"image": name, "before the change": short_digest(before),
                         "after its rollout": short_digest(rolled_out[t]), "after the revert": short_digest(after),
                         "restored": "yes" if rolled_out[t] != before and after == before else ""})
        return rows, (f"First responder reverted rollout merge {self.last_merge[:10]} on production "
                      f"(revert {reverted.revert[:10]}); the reconcile moved `-latest` back, no rebuild."
                      + (f" `{sample.SOLO_SHARED}-latest` (and `{sample.SOLO_SHARED}`) is the earlier index again: "
                         "the same children give the same bytes, so the same digest." if self.arm64 else ""))

    def stale(self) -> tuple[list[dict[str, Any]], str]:
        from lifecycle.cleanup.stale import find_stale

        patched = sample.seed_base(self.engine, self.client, self.names, "base release 2 (OS patch)", arm64=self.arm64)
        report = find_stale(Workspace.load(WorkTree(self.work)), "staging", self.pool)
        rows = [{"image": e.tagbase, "status": e.status, "reasons": "; ".join(e.reasons)} for e in report.entries]
        return rows, f"The base was re-pushed with an OS patch ({short_digest(patched)})."

    def cleanup(self) -> tuple[list[dict[str, Any]], str]:
        from lifecycle.cleanup.rules import Usage, decide
        from lifecycle.cleanup.registry import read_inventory

        ws = Workspace.load(WorkTree(self.work))
        when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=ws.policy.retention_days + 1)
        plan = decide(read_inventory(self.client, self.names.repository, ws.catalog), ws.catalog, ws.policy,
                      Usage(), when)
        rows = [{"tag": d.tag, "digest": short_digest(d.digest), "action": d.action, "reason": d.reason}
                for d in plan.decisions if d.kind == "immutable"]
        return rows, (f"Dry run, evaluated as of {when:%Y-%m-%d} (retention {ws.policy.retention_days} days, "
                      f"keep last {ws.policy.keep_last}); nothing is deleted. {len(plan.deletions)} digest(s) "
                      f"would go, {plan.bytes_to_free} bytes.")

    def consumers(self) -> tuple[list[dict[str, Any]], str]:
        from lifecycle.consumers.classify import KnownImages, RegistryView
        from lifecycle.consumers.config import ConsumerRepo
        from lifecycle.consumers.scan import scan
        from lifecycle.consumers.sources import LocalSource

        consumer = self.workdir / "consumer"
        consumer.mkdir()
        pinned = next(t for t in sorted(self.client.tags(self.names.repository)) if t.startswith(sample.CHILD + "-2"))
        (consumer / "azure-pipelines.yml").write_text(CONSUMER_PIPELINE.format(
            pinned=self.names.ref(pinned), latest=self.names.ref(f"{sample.SOLO}-latest")))
        ws = Workspace.load(WorkTree(self.work))
        result = scan([LocalSource(ConsumerRepo("product-repo", consumer))], KnownImages.from_catalog(ws.catalog),
                      (), RegistryView(self.client, self.names.repository))
        rows = [{k: r[k] for k in ("repository", "file", "line", "class", "image")} for r in result.rows()]
        (self.workdir / "usage.json").write_text(json.dumps(result.usage(), indent=2), encoding="utf-8")
        return rows, "A product repository's pipeline: `lifecycle consumers migrate` would move the pinned one."

    def status(self) -> Path:
        """The status page of the end state (a hold, a stale base, consumers), as the pipelines publish it."""
        from lifecycle.cleanup.rules import load_usage
        from lifecycle.status.collect import collect_status
        from lifecycle.status.render_html import write_page

        ops = self.ops()
        ops.fetch()
        usage = self.workdir / "usage.json"
        fleet = collect_status(ops, self.pool, usage=load_usage(usage) if usage.exists() else None)
        path = self.workdir / "status.html"
        write_page(fleet, path)
        return path

    def os_patches(self) -> tuple[list[dict[str, Any]], str]:
        """A Debian image on the un-refreshed base: stale by its pending security updates, fixed by the nightly
        rebuild once the catalogue turns on osUpgrade, with the same definition hash."""
        from lifecycle.build.localbase import import_debian_base
        from lifecycle.packages import PackageChecker
        from lifecycle.cleanup.stale import find_stale

        assert self.debian_rootfs is not None
        base = import_debian_base(self.engine, self.names.debian_base, self.debian_rootfs)
        sample.add_debian_image(self.work, self.names)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"{sample.DEBIAN}: new image on the Debian base")
        self.git("push", "-q", "origin", "HEAD:refs/heads/main")
        checker = PackageChecker(self.engine)  # one run: results cached by digest
        self._publish([sample.DEBIAN])
        rows = [self._patch_row("published", checker)]
        sample.set_os_upgrade(self.work, sample.DEBIAN, True)
        self.git("commit", "-q", "-am", f"{sample.DEBIAN}: osUpgrade")
        self.git("push", "-q", "origin", "HEAD:refs/heads/main")
        ws = Workspace.load(WorkTree(self.work))
        if ws.definitions[sample.DEBIAN] != rows[0]["definition"]:
            raise OperationError("turning on osUpgrade changed the definition hash")
        # the nightly: stale decides, publish rebuilds what stale found (its matrix), without --refresh
        nightly = find_stale(ws, "staging", self.pool, packages=checker)
        if sample.DEBIAN not in nightly.rebuild:
            raise OperationError(f"{sample.DEBIAN} is not in the nightly's rebuild list: {nightly.rebuild}")
        # only the Debian image's leg: the busybox images (stale since the base patch above) would be rebuilt
        # by the same nightly, but that is the "Stale images" story and would only lengthen the cycle
        self._publish([sample.DEBIAN])
        rows.append(self._patch_row("nightly rebuild (osUpgrade)", checker))
        before, after = rows
        # the note below states these outcomes: a run where they did not happen fails instead of saying so
        if before["status"] != "stale" or not before["security"]:
            raise OperationError(f"the un-refreshed {sample.DEBIAN} was expected stale with security updates "
                                 f"pending, but is {before['status']} with {before['security']} pending")
        if after["status"] != "current" or after["security"] != 0 or after["digest"] == before["digest"]:
            raise OperationError(f"the osUpgrade rebuild of {sample.DEBIAN} was expected current with no security "
                                 f"update pending and a new digest, but is {after['status']} with "
                                 f"{after['security']} pending ({after['packages'] or 'none'}), digest "
                                 f"{after['digest']} (was {before['digest']})")
        return rows, (f"Base `{self.names.debian_base}` ({short_digest(base)}) is Debian 12 from the `bookworm` suite "
                      f"alone, never refreshed. The nightly's stale matrix ({', '.join(nightly.rebuild)}) includes it; "
                      f"its leg rebuilt it with the OS upgrade step: same definition, new digest, and the same check "
                      f"inside the image finds no security update pending.")

    def _publish(self, tagbases: list[str]) -> None:
        with (self.workdir / "build.log").open("a", encoding="utf-8") as log:
            result = publish(self.work, tagbases, channel="staging", client=self.client, engine=self.engine,
                             reporter=self.out, pool=self.pool, build_log=lambda line: log.write(line + "\n"))
        if not result.ok:
            raise OperationError("publish failed: " + ", ".join(result.by_status("failed")))

    def _patch_row(self, when: str, checker: Any) -> dict[str, Any]:
        from lifecycle.cleanup.stale import find_stale

        report = find_stale(Workspace.load(WorkTree(self.work)), "staging", self.pool, packages=checker)
        entry = next(e for e in report.entries if e.tagbase == sample.DEBIAN)
        found = entry.packages or {}
        labels = self.client.config(self.names.repository, entry.digest or "").labels
        return {"when": when, "image": sample.DEBIAN, "digest": short_digest(entry.digest),
                "definition": labels.get(f"{sample.LABEL_PREFIX}.definition", ""),
                "status": entry.status, "pending": found.get("pending"), "security": found.get("security"),
                "packages": ", ".join(found.get("top") or []),
                "reasons": "; ".join(r for r in entry.reasons if "pending" in r),
                "check seconds": round(float(found.get("seconds") or 0), 1)}


def run_cycle(workdir: Path, registry: str, engine: Engine, out: Reporter,
              insecure: tuple[str, ...] = (), debian_rootfs: Path | None = None) -> CycleReport:
    workdir.mkdir(parents=True, exist_ok=True)
    with RegistryPool(insecure) as pool:
        cycle = Cycle(workdir, registry, engine, out, pool, debian_rootfs)
        cycle.step("Set up a GitOps repository", cycle.setup)
        cycle.step("Publish main to staging", cycle.publish_main("Every image built, tested and pushed."))
        cycle.step("Weekly rollout", cycle.rollout("`-latest` moved to each image's LKG by digest."))
        cycle.step("A change on main", cycle.change)
        cycle.step("Publish the change", cycle.publish_main(
            "Only the changed folder's images are rebuilt" + ("; the index over them moves." if cycle.arm64 else ".")))
        cycle.step("Weekly rollout", cycle.rollout("The new version reaches `-latest`; others are untouched."))
        cycle.step("Rollback by revert on production", cycle.rollback)
        cycle.step("Stale images", cycle.stale)
        cycle.step("Cleanup plan", cycle.cleanup)
        cycle.step("Consumers", cycle.consumers)
        if debian_rootfs is not None:
            cycle.step("OS patches on a Debian image", cycle.os_patches)
        else:
            cycle.report.steps.append(Step("OS patches on a Debian image", [], "Skipped: no Debian root file "
                                           "system (bash eng/local-env.sh debian-rootfs)."))
        cycle.report.steps.append(Step("Final state", cycle.channel_rows()))
        cycle.report.status_page = cycle.status()
    return cycle.report
