"""snf-network communication serve|status: the node's dnsmasq for instance communication (docs/communication.md)."""

from __future__ import annotations

import click

from snf_network import record
from snf_network.host import communication as node
from snf_network.plan import HostsEntry

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.entry.cli import Context


@click.group("communication")
def communication() -> None:
    """Ganeti's instance communication NICs (gnt.com.*) and their dnsmasq."""


@communication.command("serve")
@click.option("--debug", is_flag=True, help="Log at debug level.")
@click.pass_obj
def serve_command(obj: Context, debug: bool) -> None:
    """Run the node's dnsmasq for communication NICs, in the foreground (systemd's unit runs this)."""
    from snf_network.services import communication as service

    status = service.main(obj.cfg, debug)
    if status:
        raise click.exceptions.Exit(status)


@communication.command("status")
@click.pass_obj
def status_command(obj: Context) -> None:
    """The hosts file against the records, and whether dnsmasq runs (exit 1 when they differ or it does not)."""
    cfg, host = obj.cfg, obj.host
    path = node.hosts_path(cfg)
    text = host.read(path)
    lines = [line for line in (text or "").splitlines() if line and not line.startswith("#")]
    pid = node.running_pid(host, cfg)
    click.echo(f"dnsmasq: {f'running (pid {pid})' if pid else 'not running (snf-network communication serve)'}")
    click.echo(f"hosts file: {path}" + (f" ({len(lines)} hosts)" if text is not None else " (missing)"))
    problems = 0 if pid else 1
    if text is not None:
        unreadable = node.unreadable_by_nobody(path)
        if unreadable:
            problems += 1
            click.echo(f"hosts file: dnsmasq (as nobody) cannot read it: {unreadable}")
    recorded = []
    for entry in record.load_all(host, cfg):
        for item in entry.items:
            if isinstance(item, HostsEntry):
                recorded.append(item.line())
                listed = item.line() in lines
                problems += not listed
                click.echo(f"{entry.interface}: {entry.nic.instance} {item.line()} "
                           f"{'in the hosts file' if listed else 'MISSING from the hosts file'}")
    for line in lines:
        if line not in recorded:
            problems += 1
            click.echo(f"{line}: in the hosts file, but no record holds it")
    if not recorded:
        click.echo("no communication NICs recorded")
    if problems:
        raise click.exceptions.Exit(1)
