"""``snf-network overlay``: set up, tear down and look at the NBMA overlays (docs/nbma.md).

The configuration is NBMA_CONFIG_DIR (the snf-network key, or ``--config-dir``):
nbma.conf and overlays/*.conf. ``setup`` and ``teardown`` print each change
they make (``--dry-run``: only print them) and print nothing when there is
nothing to do.
"""

from __future__ import annotations

import os

import click

from snf_network.errors import SnfNetworkError


def _load(ctx: click.Context, directory: str):  # type: ignore[no-untyped-def]
    from snf_network.overlay import config

    return config.load(directory or ctx.obj.cfg.NBMA_CONFIG_DIR)


_dir = click.option("--config-dir", default="", help="NBMA_CONFIG_DIR (default: from the config file)")


@click.group()
def overlay() -> None:
    """NBMA overlays: routed instances across nodes that share no LAN."""


@overlay.command()
@_dir
@click.option("--dry-run", is_flag=True, help="Print the exact changes; make none.")
@click.pass_context
def setup(ctx: click.Context, config_dir: str, dry_run: bool) -> None:
    """Create or complete every overlay's device, routes, rules, sysctls and firewall (idempotent)."""
    from snf_network.overlay import setup as overlay_setup

    steps = overlay_setup.plan(ctx.obj.host, _load(ctx, config_dir))
    _run(ctx, steps, dry_run)


@overlay.command()
@_dir
@click.option("--dry-run", is_flag=True, help="Print the exact changes; make none.")
@click.pass_context
def teardown(ctx: click.Context, config_dir: str, dry_run: bool) -> None:
    """Remove everything setup created (the device and with it every neighbour and FDB entry)."""
    from snf_network.overlay import setup as overlay_setup

    steps = overlay_setup.teardown_plan(ctx.obj.host, _load(ctx, config_dir))
    _run(ctx, steps, dry_run)


def _run(ctx: click.Context, steps: list, dry_run: bool) -> None:  # type: ignore[type-arg]
    for step in steps:
        click.echo(str(step))
        if not dry_run:
            step.apply(ctx.obj.host)


@overlay.command()
@_dir
@click.pass_context
def status(ctx: click.Context, config_dir: str) -> None:
    """Whether each overlay is set up, and what the daemon counts (exit 1 when set-up is incomplete)."""
    from snf_network.overlay import setup as overlay_setup

    cfg = _load(ctx, config_dir)
    pending = overlay_setup.plan(ctx.obj.host, cfg)
    for ov in cfg.overlays:
        present = os.path.exists(f"/sys/class/net/{ov.device}")
        click.echo(f"{ov.name}: {ov.backend} {ov.device} key {ov.key} {ov.network} table {ov.table} "
                   f"endpoints {len(ov.endpoints)}: {'present' if present else 'absent'}")
    click.echo(f"{len(pending)} changes pending" if pending else "set up completely")
    try:
        from snf_network.nld.daemon import ask

        answer = ask(ctx.obj.cfg.NLD_SOCKET, "status")
        click.echo(f"snf-nld: node {answer['node']}, peers {', '.join(answer['peers']) or 'none'}")  # type: ignore[arg-type]
        for group in ("protocol", "daemon"):
            counts = answer[group]
            assert isinstance(counts, dict)
            click.echo(f"  {group}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    except (OSError, ValueError):
        click.echo("snf-nld: not running (or not answering)")
    if pending:
        raise click.exceptions.Exit(1)


@overlay.command()
@_dir
@click.pass_context
def show(ctx: click.Context, config_dir: str) -> None:
    """Each overlay's neighbour entries: instance address -> node, as the kernel holds them."""
    from snf_network.overlay import backends
    from snf_network.overlay import setup as overlay_setup

    cfg = _load(ctx, config_dir)
    for ov in cfg.overlays:
        click.echo(f"{ov.name} ({ov.device}):")
        try:
            entries = overlay_setup._json(ctx.obj.host, ["ip", "-j", "-4", "neigh", "show", "dev", ov.device])
        except SnfNetworkError:
            entries = []
        for entry in entries:
            lladdr = str(entry.get("lladdr", ""))
            node = backends.node_for(ov, lladdr) if lladdr else None
            state = ",".join(entry.get("state", []))  # type: ignore[arg-type]
            click.echo(f"  {entry.get('dst')} -> {node or '?'} ({lladdr or 'unresolved'}, {state})")
