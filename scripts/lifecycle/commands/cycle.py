"""lifecycle cycle"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from lifecycle.commands.options import insecure_option, reporter
from lifecycle.errors import InputError


@click.command()
@insecure_option
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the throwaway repositories go (default: a new temporary folder).")
@click.option("--registry", envvar="LIFECYCLE_REGISTRY", metavar="HOST:PORT",
              help="The local registry (default: $LIFECYCLE_REGISTRY from eng/local-env.sh).")
@click.option("--debian-rootfs", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              envvar="LIFECYCLE_DEBIAN_ROOTFS",
              help="The cached Debian root file system for the OS-patch step (default: $LIFECYCLE_DEBIAN_ROOTFS "
                   "from eng/local-env.sh up; without it the step is skipped).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Markdown report path (default: <workdir>/report.md).")
def cycle(insecure: tuple[str, ...], workdir: Path | None, registry: str | None, debian_rootfs: Path | None,
          report_path: Path | None) -> None:
    """Run the whole weekly cycle against a throwaway GitOps repository on the local engine and registry."""
    from lifecycle.cycle import run_cycle
    from lifecycle.build.engine import Engine

    if not registry:
        raise InputError("no registry: set LIFECYCLE_REGISTRY (eval \"$(eng/local-env.sh up)\") or pass --registry")
    out = reporter("table")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="lifecycle-cycle-"))
    started = time.monotonic()
    with Engine(os.environ.get("DOCKER_HOST")) as engine:
        report = run_cycle(workdir, registry, engine, out, insecure, debian_rootfs)
    report_path = report_path or workdir / "report.md"
    report_path.write_text(report.markdown(), encoding="utf-8")
    out.write(report.text())
    out.write(f"\nDone in {time.monotonic() - started:.0f} s. Report: {report_path}\n")
    if report.status_page:
        out.write(f"Status page: {report.status_page}\n")
