"""The `lifecycle` command line: parsing and printing only; the work is in the library modules.

Each verb lives in `lifecycle.commands.<verb>` and is imported only when it runs, so that
`lifecycle validate` does not pay for importing the docker SDK or the Azure DevOps client.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from lifecycle.errors import LifecycleError
from lifecycle.masking import pipeline_secrets
from lifecycle.output import Reporter, in_pipeline

# verb -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "validate": "lifecycle.commands.validate:validate",
    "plan": "lifecycle.commands.plan:plan",
    "matrix": "lifecycle.commands.matrix:matrix",
    "import-manifest": "lifecycle.commands.import_manifest:import_manifest",
    "registry": "lifecycle.commands.registry:registry",
    "publish": "lifecycle.commands.publish:publish",
    "lkg": "lifecycle.commands.lkg:lkg",
    "rollout": "lifecycle.commands.rollout:rollout",
    "reconcile": "lifecycle.commands.reconcile:reconcile",
    "rollback": "lifecycle.commands.rollback:rollback",
    "stale": "lifecycle.commands.stale:stale",
    "status": "lifecycle.commands.status:status",
    "retire": "lifecycle.commands.retire:retire",
    "cleanup": "lifecycle.commands.cleanup:cleanup",
    "consumers": "lifecycle.commands.consumers:consumers",
    "cycle": "lifecycle.commands.cycle:cycle",
    "verify": "lifecycle.commands.verify:verify",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not self._available(cmd_name):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecycle")
def cli() -> None:
    """Keep build/test container images fresh: validate, plan, publish, roll out, roll back, clean up."""
    # Before any verb runs, whichever it is: Azure Pipelines masks a secret only once it is named.
    announce = Reporter()
    for secret in pipeline_secrets():
        announce.add_secret(secret)


def _fatal(message: str) -> None:
    """The one line a failed run ends with: a logging command in Azure Pipelines, `error: ...` elsewhere."""
    Reporter(secrets=pipeline_secrets()).error(message)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="lifecycle", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        if in_pipeline():
            _fatal(exc.format_message())
        else:
            exc.show()
        sys.exit(2)
    except LifecycleError as exc:
        _fatal(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(1)
    else:
        sys.exit(0)
