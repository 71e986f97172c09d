"""``snf-network switch apply|show``: the node's switches, uplinks and bonds from SWITCHES_FILE.

Registered in the admin CLI with ``cli.add_command(switch)``; docs/switches.md
has the file's format. Errors are SnfNetworkError, which snf-network's main
turns into one line and its exit status.
"""

from __future__ import annotations

import click

from snf_network import checks


@click.group()
def switch() -> None:
    """Switches, uplinks and bonds of this node, from SWITCHES_FILE."""


@switch.command()
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.argument("names", nargs=-1)
@click.pass_context
def apply(ctx: click.Context, dry_run: bool, names: tuple[str, ...]) -> None:
    """Make the declared switches so (only NAMES, when given); remove what we made that is no longer declared."""
    from snf_network.switch import engine

    checked = tuple(checks.interface_name(name, "switch") for name in names)
    for line in engine.apply(ctx.obj.host, ctx.obj.cfg, checked, dry_run=dry_run):
        click.echo(line)


@switch.command()
@click.pass_context
def show(ctx: click.Context) -> None:
    """Each declared switch and what this node has of it."""
    from snf_network.switch import engine

    for line in engine.show(ctx.obj.host, ctx.obj.cfg):
        click.echo(line)
