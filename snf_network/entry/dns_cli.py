"""``snf-network dns``: look at and repair an instance's DNS records.

Registered in the admin CLI with ``cli.add_command(dns)``. Imports stay inside
the commands so that the rest of the CLI does not pay for dnspython.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.nic import Nic


@click.group()
def dns() -> None:
    """Dynamic DNS records (A, AAAA, PTR) of instances."""


@dns.command()
@click.argument("instance")
def show(instance: str) -> None:
    """Print what the DNS server holds for INSTANCE, with the PTRs of its addresses."""
    from snf_network.dns import names, sync
    from snf_network.errors import SnfNetworkError

    cfg = _config()
    try:
        name = names.host_name(instance, "INSTANCE")
        for line in sync.show(cfg, name, env=os.environ):
            click.echo(line)
    except SnfNetworkError as exc:
        _fail(str(exc), exc.exit_status)


@dns.command()
@click.argument("instance")
@click.option("--dry-run", "-n", is_flag=True, help="Print the updates, send nothing.")
@click.option("--absent", is_flag=True,
              help="INSTANCE no longer exists: remove all its A, AAAA and PTR records.")
def sync(instance: str, dry_run: bool, absent: bool) -> None:
    """Make the DNS server match INSTANCE's NICs.

    The NICs come from the environment when it is a Ganeti hook environment
    for INSTANCE (GANETI_INSTANCE_NAME), else from this node's NIC records
    (so run it on the instance's primary node).
    """
    from snf_network import log
    from snf_network.dns import names
    from snf_network.dns import sync as dns_sync
    from snf_network.errors import InputError, SnfNetworkError

    cfg = _config()
    log.setup("snf-network", cfg.LOGFILE, cfg.SYSLOG, cfg.DEBUG, stderr_level=log.WARNING)
    ok = False
    try:
        name = names.host_name(instance, "INSTANCE")
        log.context(instance=name)
        reason = dns_sync.disabled_reason(cfg)
        if reason:
            raise InputError(f"dynamic DNS is off: {reason}")
        if absent:
            ok = dns_sync.apply(cfg, target=None, nics=(), gone=(name,), env=os.environ,
                                dry_run=dry_run, echo=click.echo)
        else:
            nics = _instance_nics(cfg, name)
            ok = dns_sync.apply(cfg, target=name, nics=nics, env=os.environ, dry_run=dry_run,
                                echo=click.echo)
    except SnfNetworkError as exc:
        _fail(str(exc), exc.exit_status)
    if not ok:
        _fail("some updates failed (see the log)", 1)


def _instance_nics(cfg: Config, name: str) -> tuple[Nic, ...]:
    """The NICs of ``name``: from a hook environment about it, else from this node's NIC records."""
    from snf_network.dns import names, operation
    from snf_network.errors import InputError

    hook_name = os.environ.get("GANETI_INSTANCE_NAME", "")
    if hook_name and names.host_name(hook_name, "GANETI_INSTANCE_NAME") == name:
        return operation.nics_from_hook_env(os.environ)
    from snf_network import record

    nics = tuple(rec.nic for rec in record.load_all(cfg) if rec.nic.instance.lower() == name)
    if not nics:
        # An empty NIC list would delete every record: refuse, and say how to do that on purpose.
        raise InputError(f"no NIC records for {name} on this node (run this on its primary node, "
                         f"or use --absent to remove its records)")
    return tuple(sorted(nics, key=lambda nic: (nic.index is None, nic.index or 0, nic.interface)))


def _config() -> Config:
    from snf_network import config
    from snf_network.errors import SnfNetworkError

    try:
        return config.load()
    except SnfNetworkError as exc:
        _fail(str(exc), exc.exit_status)


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"snf-network dns: error: {message}", err=True)
    sys.exit(status)
