"""snf-network: the operators' command line.

    snf-network plan [--env-file FILE] [KEY=VALUE ...]   what a NIC would get (changes nothing)
    snf-network status [-v] [INTERFACE ...]              what is recorded per interface
    snf-network up [--env-file FILE] [KEY=VALUE ...]     bring a NIC up, as kvm-vif-bridge
    snf-network down INTERFACE                           undo what the record lists
    snf-network verify                                   interfaces whose kernel state differs from their record
    snf-network cleanup                                  remove what belongs to interfaces that are gone
    snf-network reapply                                  make the host hold every record again
    snf-network features                                 what answers to which mode and tag
    snf-network dns show|sync INSTANCE                   the DNS records of an instance (docs/dns.md)
    snf-network switch apply [--dry-run] [NAME ...]|show the node's switches and bonds (docs/switches.md)
    snf-network communication serve|status               the node dnsmasq of communication NICs
    snf-network overlay setup|teardown|status|show       the NBMA overlays (docs/nbma.md)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import click

from snf_network import checks, config, engine, features, log, record
from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.dhcpd import status as dhcpd_status
from snf_network.errors import InputError, SnfNetworkError
from snf_network.host import Host
from snf_network.host.backends import BACKENDS, of_kinds
from snf_network.plan import Plan


class Context:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.host = Host(timeout=cfg.COMMAND_TIMEOUT)


def _nic_environment(env_file: str | None, assignments: Sequence[str]) -> dict[str, str]:
    """The NIC's variables: the environment, then an env file, then KEY=VALUE arguments."""
    env = dict(os.environ)
    if env_file:
        with open(env_file, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip().strip('"')
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise InputError(f"expected KEY=VALUE, got {assignment!r}")
        env[key] = value
    return env


def render(nic: nic_module.Nic, cfg: Config, result: Plan) -> str:
    """The plan as an operator reads it: items, then the exact commands."""
    out = [f"{nic.interface} of {nic.instance}: {', '.join(result.features) or 'nothing'}"]
    out += [f"  {item.describe()}" for item in result.items]
    if result.announcements:
        out.append("announce:")
        out += [f"  {'gratuitous ARP' if a.protocol == 'arp' else 'unsolicited NA'} for {a.address} on {a.dev}"
                for a in result.announcements]
    if result.notes:
        out.append("notes:")
        out += [f"  {note}" for note in result.notes]
    for backend in BACKENDS:
        commands = backend.commands(cfg, of_kinds(backend, result.items))
        if commands:
            out.append(f"{backend.title}:")
            out += [f"  {command}" for command in commands]
    return "\n".join(out) + "\n"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Instance networking for Ganeti nodes."""
    ctx.obj = Context(config.load())
    log.setup("snf-network", ctx.obj.cfg.LOGFILE if os.geteuid() == 0 else "", False, ctx.obj.cfg.DEBUG)


@cli.command("plan")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False), help="KEY=VALUE lines of a NIC.")
@click.argument("assignments", nargs=-1)
@click.pass_obj
def plan_command(obj: Context, env_file: str | None, assignments: tuple[str, ...]) -> None:
    """Print what a NIC would get on this node; changes nothing."""
    nic = nic_module.from_env(_nic_environment(env_file, assignments))
    click.echo(render(nic, obj.cfg, engine.plan(obj.host, nic, obj.cfg)), nl=False)


@cli.command("status")
@click.option("-v", "--verbose", is_flag=True, help="List every recorded item.")
@click.argument("interfaces", nargs=-1)
@click.pass_obj
def status_command(obj: Context, verbose: bool, interfaces: tuple[str, ...]) -> None:
    """Show what is recorded for each managed interface."""
    records = record.load_all(obj.host, obj.cfg)
    if interfaces:
        records = [r for r in records if r.interface in interfaces]
    if not records:
        click.echo("no managed interfaces")
    served = dhcpd_status.read(obj.cfg.DHCPD_STATUS_FILE) if obj.cfg.DHCP_SERVER == "snf-dhcpd" else None
    for entry in records:
        nic = entry.nic
        state = "" if entry.complete else " (incomplete: a change was interrupted)"
        click.echo(f"{entry.interface}: {nic.instance} {nic.mac} {nic.mode} {nic.link or '-'} "
                   f"[{', '.join(entry.features) or 'nothing'}] {len(entry.items)} items{state}")
        if "nfdhcpd" in entry.features and obj.cfg.DHCP_SERVER == "snf-dhcpd":
            click.echo(f"  dhcp: {dhcpd_status.describe(served, entry.interface)}")
        if verbose:
            for item in entry.items:
                click.echo(f"  {item.describe()}")


@cli.command("verify")
@click.pass_obj
def verify_command(obj: Context) -> None:
    """Report managed interfaces whose kernel state differs from their record (exit 1 if any)."""
    report = engine.verify(obj.host, obj.cfg)
    drifted = {interface: problems for interface, problems in report.items() if problems}
    for interface, problems in drifted.items():
        for problem in problems:
            click.echo(f"{interface}: {problem}")
    checked = len([interface for interface in report if interface != "ruleset"])
    click.echo(f"{checked} interfaces checked, {len(drifted)} differ from their records")
    from snf_network.switch import engine as switches

    switch_drift = switches.drift(obj.host, obj.cfg)
    for line in switch_drift:
        click.echo(line)
    if drifted or switch_drift:
        raise click.exceptions.Exit(1)


@cli.command("cleanup")
@click.pass_obj
def cleanup_command(obj: Context) -> None:
    """Remove what belongs to interfaces that no longer exist."""
    removed = engine.cleanup(obj.host, obj.cfg)
    for line in removed:
        click.echo(f"removed {line}")
    if not removed:
        click.echo("nothing to clean up")


@cli.command("up")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False), help="KEY=VALUE lines of a NIC.")
@click.argument("assignments", nargs=-1)
@click.pass_obj
def up_command(obj: Context, env_file: str | None, assignments: tuple[str, ...]) -> None:
    """Bring a NIC up from its Ganeti variables (what kvm-vif-bridge does, without IFUP_EXTRA_SCRIPT)."""
    nic = nic_module.from_env(_nic_environment(env_file, assignments))
    log.context(interface=nic.interface, instance=nic.instance)
    result = engine.ifup(obj.host, nic, obj.cfg)
    click.echo(render(nic, obj.cfg, result), nl=False)


@cli.command("down")
@click.argument("interface")
@click.pass_obj
def down_command(obj: Context, interface: str) -> None:
    """Remove everything recorded for INTERFACE."""
    name = checks.interface_name(interface)
    log.context(interface=name)
    if not engine.ifdown(obj.host, obj.cfg, name):
        click.echo(f"{name}: nothing recorded")


@cli.command("reapply")
@click.pass_obj
def reapply_command(obj: Context) -> None:
    """Re-apply every record (after nft flush ruleset, an nftables restart, a reboot); drop records of taps gone."""
    applied, dropped, failed = engine.reapply(obj.host, obj.cfg)
    for interface in dropped:
        click.echo(f"{interface}: gone, its record removed")
    for interface in failed:
        click.echo(f"{interface}: NOT re-applied (see the log)")
    click.echo(f"{len(applied)} interfaces re-applied, {len(dropped)} records dropped, {len(failed)} failed")
    from snf_network.host import nft

    missing = nft.ruleset_differences(obj.host, obj.cfg)
    if missing:
        raise SnfNetworkError(f"the ruleset still differs after reapply: {missing[0]}")
    if failed:
        raise SnfNetworkError(f"{len(failed)} interfaces could not be re-applied: {', '.join(failed)}")


@cli.command("features")
@click.pass_obj
def features_command(obj: Context) -> None:
    """What answers to which mode and tag, and what a NIC gets (with this node's tag names)."""
    click.echo(features.table(obj.cfg), nl=False)


def _register_subgroups() -> None:
    from snf_network.entry.communication_cli import communication
    from snf_network.entry.dns_cli import dns
    from snf_network.entry.overlay_cli import overlay
    from snf_network.entry.switch_cli import switch

    cli.add_command(dns)
    cli.add_command(switch)
    cli.add_command(communication)
    cli.add_command(overlay)


_register_subgroups()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    try:
        # Without standalone mode click returns a command's Exit code instead of exiting.
        status = cli.main(args=list(sys.argv[1:] if argv is None else argv[1:]), prog_name="snf-network",
                          standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    except SnfNetworkError as exc:
        click.echo(f"snf-network: error: {log.clean(str(exc))}", err=True)
        return exc.exit_status
    except OSError as exc:
        click.echo(f"snf-network: error: {log.clean(str(exc))}", err=True)
        return 1
    return status if isinstance(status, int) else 0
