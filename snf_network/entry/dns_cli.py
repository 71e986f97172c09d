"""``snf-network dns``: look at and repair an instance's DNS records.

Registered in the admin CLI with ``cli.add_command(dns)``. Imports stay inside
the commands so that the rest of the CLI does not pay for dnspython.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.nic import Nic

# Errors are SnfNetworkError, which snf-network's main turns into one line and its exit status.


@click.group()
def dns() -> None:
    """Dynamic DNS records (A, AAAA, PTR) of instances."""


@dns.command()
@click.argument("instance")
@click.pass_context
def show(ctx: click.Context, instance: str) -> None:
    """Print what the DNS server holds for INSTANCE, with the PTRs of its addresses."""
    from snf_network.dns import names, sync

    name = names.host_name(instance, "INSTANCE")
    for line in sync.show(ctx.obj.cfg, name, env=os.environ):
        click.echo(line)


@dns.command()
@click.argument("instance")
@click.option("--dry-run", "-n", is_flag=True, help="Print the updates, send nothing.")
@click.option("--absent", is_flag=True,
              help="INSTANCE no longer exists: remove all its A, AAAA and PTR records.")
@click.pass_context
def sync(ctx: click.Context, instance: str, dry_run: bool, absent: bool) -> None:
    """Make the DNS server match INSTANCE's NICs.

    The NICs come from the environment when it is a Ganeti hook environment
    for INSTANCE (GANETI_INSTANCE_NAME), else from this node's NIC records
    (so run it on the instance's primary node).
    """
    from snf_network import log
    from snf_network.dns import names
    from snf_network.dns import sync as dns_sync
    from snf_network.errors import InputError, SnfNetworkError

    cfg, host = ctx.obj.cfg, ctx.obj.host
    log.setup("snf-network", cfg.LOGFILE, cfg.SYSLOG, cfg.DEBUG, stderr_level=log.WARNING)
    name = names.host_name(instance, "INSTANCE")
    log.context(instance=name)
    reason = dns_sync.disabled_reason(cfg)
    if reason:
        raise InputError(f"dynamic DNS is off: {reason}")
    if absent:
        ok = dns_sync.apply(cfg, target=None, nics=(), gone=(name,), env=os.environ,
                            dry_run=dry_run, echo=click.echo)
    else:
        ok = dns_sync.apply(cfg, target=name, nics=_instance_nics(host, cfg, name), env=os.environ,
                            dry_run=dry_run, echo=click.echo)
    if not ok:
        raise SnfNetworkError("some updates failed (see the log)")


def _instance_nics(host: Host, cfg: Config, name: str) -> tuple[Nic, ...]:
    """The NICs of ``name``: from a hook environment about it, else from this node's NIC records."""
    from snf_network.dns import names, operation
    from snf_network.errors import InputError

    hook_name = os.environ.get("GANETI_INSTANCE_NAME", "")
    if hook_name and names.host_name(hook_name, "GANETI_INSTANCE_NAME") == name:
        return operation.nics_from_hook_env(os.environ)
    from snf_network import record

    nics = tuple(rec.nic for rec in record.load_all(host, cfg) if rec.nic.instance.lower() == name)
    if not nics:
        # An empty NIC list would delete every record: refuse, and say how to do that on purpose.
        raise InputError(f"no NIC records for {name} on this node (run this on its primary node, "
                         f"or use --absent to remove its records)")
    return tuple(sorted(nics, key=lambda nic: (nic.index is None, nic.index or 0, nic.interface)))
