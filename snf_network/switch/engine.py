"""``switch apply`` and ``switch show``: the file's switches against the record of what we made.

The record (STATE_DIR/switches.record, JSON) lists every step an apply
made, with what the node had before. Apply makes every wanted step (each
idempotent, so a second apply changes nothing and a device someone removed
comes back), and undoes recorded steps the file no longer asks for, in
reverse. Steps are matched by what they are, not their settings
(Step.ident), so a changed MTU or VLAN list is changed in place. A bridge
we made that still has ports stays, and stays recorded: the next apply
tries again. A failed apply undoes the steps this run added (never what
was there before, nor what earlier runs made) and keeps the record of the
rest, so nothing is left half-made and unrecorded. Under the host lock,
like the NIC programs, since both move ports in and out of bridges.
"""

from __future__ import annotations

import json
import os

from snf_network import log
from snf_network.errors import InputError, SnfNetworkError
from snf_network.switch import linux, ovs, spec
from snf_network.switch.steps import Step, of_switch

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.switch.spec import Switch

RECORD = "switches.record"  # not *.json: that name space is the NICs' records (record.py)


def record_path(cfg: Config) -> str:
    return os.path.join(cfg.STATE_DIR, RECORD)


def load_record(host: Host, cfg: Config) -> list[Step]:
    text = host.read(record_path(cfg))
    if text is None:
        return []
    try:
        return [Step.from_dict(entry) for entry in json.loads(text)["steps"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnfNetworkError(f"{record_path(cfg)}: damaged ({exc}); move it away to start afresh") from None


def save_record(host: Host, cfg: Config, steps: list[Step]) -> None:
    os.makedirs(cfg.STATE_DIR, exist_ok=True)
    host.write(record_path(cfg), json.dumps({"steps": [step.to_dict() for step in steps]}, indent=1) + "\n")


def _make(host: Host, cfg: Config, step: Step) -> str:
    return ovs.make(host, cfg, step) if step.kind.startswith("ovs-") else linux.make(host, step)


def _undo(host: Host, cfg: Config, step: Step) -> tuple[str, bool]:
    return ovs.undo(host, cfg, step) if step.kind.startswith("ovs-") else linux.undo(host, step)


def _add_vlans(host: Host, cfg: Config, kept: dict[tuple[str, str, str, str], Step], adding: list[Step]) -> None:
    """Add the VLANs queued so far in one batch, recorded first (an interrupted batch leaves none unrecorded)."""
    if adding:
        save_record(host, cfg, list(kept.values()))
        linux.add_vlans(host, adding)
        adding.clear()


def present(host: Host, cfg: Config, step: Step, vlans: linux.VlanCache | None = None) -> bool:
    if step.kind == "vlan" and vlans is not None:
        return vlans.has(step.dev, step.args[0])
    return ovs.present(host, cfg, step) if step.kind.startswith("ovs-") else linux.present(host, step)


def _check_node(host: Host, switch: Switch) -> None:
    """What only the node can tell, before anything changes: the uplinks are there and free."""
    for dev in (switch.uplink, *switch.members):
        if dev and not host.link_exists(dev):
            raise InputError(f"{switch.name}: {dev} does not exist on this node")
    if switch.type == "linux-bridge":
        ours = {switch.name, switch.bond}
        for dev in (switch.uplink, switch.bond, *switch.members):
            master = host.link_master(dev) if dev and host.link_exists(dev) else ""
            if master and master not in ours:
                raise InputError(f"{switch.name}: {dev} is already a port of {master}")


def selected(cfg: Config, names: tuple[str, ...]) -> tuple[dict[str, Switch], list[str]]:
    """The file's switches, and the names apply acts on (all of them, or ``names``)."""
    switches = spec.load(cfg.SWITCHES_FILE)
    for name in names:
        if name not in switches:
            raise InputError(f"switch {name} is not declared in {cfg.SWITCHES_FILE or 'SWITCHES_FILE (unset)'}")
    return switches, list(names)


def apply(host: Host, cfg: Config, names: tuple[str, ...] = (), dry_run: bool = False) -> list[str]:
    """Make the file's switches so (only ``names``, when given); the lines of what changed or would."""
    switches, only = selected(cfg, names)
    scope = set(only) if only else None
    wanted = [step for name, switch in switches.items() if scope is None or name in scope
              for step in of_switch(switch)]
    for name, switch in switches.items():
        if scope is None or name in scope:
            _check_node(host, switch)
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        recorded = load_record(host, cfg)
        # Matched by identity, not settings: a changed setting is changed in place (step.ident).
        wanted_ids = {step.ident() for step in wanted}
        by_id = {step.ident(): step for step in recorded}
        stale = [step for step in recorded if (scope is None or step.switch in scope)
                 and step.ident() not in wanted_ids]
        lines: list[str] = []
        if dry_run:
            lines = [f"would remove {step.describe()}" for step in reversed(stale)]
            cache = linux.VlanCache(host)
            for step in wanted:
                before = by_id.get(step.ident())
                if not present(host, cfg, step, cache):
                    lines.append(f"would {'change' if before and before.previous else 'make'} {step.describe()}")
                elif before is None:
                    lines.append(f"would record {step.describe()} (there already: never removed)")
            return lines or ["nothing to change"]
        # In record order, by identity: replacing a step keeps its place.
        stale_ids = {old.ident() for old in stale}
        kept = {step.ident(): step for step in recorded if step.ident() not in stale_ids}
        retried: list[Step] = []
        vlans: list[Step] = []  # the VLANs of one device, removed in one batch
        for step in reversed(stale):
            if step.previous == "existed":
                # Never ours: only the record forgets it (undo leaves it; a bridge or bond is no different).
                lines.append(f"forgot {step.describe()} (there before: left as it is)")
                continue
            if step.kind == "vlan":
                vlans.append(step)
                lines.append(f"removed {step.describe()}")
                continue
            linux.del_vlans(host, vlans)
            vlans = []
            warning, keep = _undo(host, cfg, step)
            if warning:
                log.warning(warning)
                lines.append(warning)
            if keep:
                retried.append(step)  # still ours: a later apply removes it once it can
            else:
                lines.append(f"removed {step.describe()}")
        linux.del_vlans(host, vlans)
        if stale:
            kept.update((step.ident(), step) for step in reversed(retried))
            save_record(host, cfg, list(kept.values()))
        made: list[Step] = []
        present_vlans = linux.VlanCache(host)
        adding: list[Step] = []
        try:
            for step in wanted:
                before = by_id.get(step.ident())
                if step.kind == "vlan":
                    # Thousands of them (vlans = 1-4094): one read of the device, one batch.
                    had = present_vlans.has(step.dev, step.args[0])
                    done = step.with_previous(before.previous if before else "existed" if had else "made")
                    if not had:
                        adding.append(done)
                else:
                    _add_vlans(host, cfg, kept, adding)
                    had = present(host, cfg, step)
                    done = step.with_previous(_make(host, cfg, step.with_previous(before.previous if before else "")))
                if before is None:
                    made.append(done)
                kept[step.ident()] = done
                if before is not None and before.args != step.args:
                    lines.append(f"changed {step.describe()}")  # present or not: its settings were others
                elif not had:
                    lines.append(f"made {step.describe()}")
                if step.kind != "vlan" and (before is None or not had or done.previous != before.previous
                                            or done.args != before.args):
                    save_record(host, cfg, list(kept.values()))  # whatever stops us next, the record covers it
            _add_vlans(host, cfg, kept, adding)
        except (SnfNetworkError, OSError) as exc:
            # Undo only what this run added; what earlier runs made stays, as recorded.
            failures = []
            linux.del_vlans(host, [step for step in made if step.kind == "vlan" and step.previous != "existed"])
            for step in reversed(made):
                try:
                    if step.kind != "vlan":
                        _undo(host, cfg, step)
                    del kept[step.ident()]
                except (SnfNetworkError, OSError) as undo_exc:
                    failures.append(str(undo_exc))
            save_record(host, cfg, list(kept.values()))
            message = str(exc) if isinstance(exc, SnfNetworkError) else f"{exc.filename}: {exc.strerror}"
            if failures:
                message += f"; undoing it failed too ({failures[0]}): the record keeps it"
            raise SnfNetworkError(message) from None
        save_record(host, cfg, list(kept.values()))
    for line in lines:
        log.info(f"switch apply: {line}")
    return lines or ["nothing to change"]


def show(host: Host, cfg: Config) -> list[str]:
    """Each declared switch, what the node has of it, and recorded steps no longer declared."""
    switches = spec.load(cfg.SWITCHES_FILE)
    recorded = load_record(host, cfg)
    lines = []
    cache = linux.VlanCache(host)
    recorded_steps = set(recorded)
    for switch in switches.values():
        lines.append(switch.describe())
        for step in of_switch(switch):
            mark = "ok" if present(host, cfg, step, cache) else "missing"
            made = " (recorded)" if step in recorded_steps else ""
            lines.append(f"  {mark:7} {step.describe().split(': ', 1)[1]}{made}")
    declared = {step.ident() for switch in switches.values() for step in of_switch(switch)}
    stale = [step for step in recorded if step.ident() not in declared]
    if stale:
        lines.append("recorded but no longer declared (switch apply removes them):")
        lines += [f"  {step.describe()}" for step in stale]
    return lines or [f"no switches declared in {cfg.SWITCHES_FILE or 'SWITCHES_FILE (unset)'}"]


def drift(host: Host, cfg: Config) -> list[str]:
    """For ``snf-network verify``: the recorded parts of switches the node no longer has."""
    cache = linux.VlanCache(host)
    return [f"switch {step.switch}: missing {step.describe().split(': ', 1)[1]}"
            for step in load_record(host, cfg) if not present(host, cfg, step, cache)]
