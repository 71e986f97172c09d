"""The engine: from a NIC to the host, through the interface's record.

ifup plans what the NIC needs, then under the host lock compares that with
what the interface's record says was applied before (Ganeti reuses tap names,
and re-runs ifup on the same tap), removes what is no longer wanted, applies
the plan (every step idempotent) and saves the new record. ifdown removes
what the record lists. A failure on the way removes everything of both, so
no interface is ever left half-configured.
"""

from __future__ import annotations

import os

from snf_network import features, log, record
from snf_network.config import Config
from snf_network.errors import InputError, SnfNetworkError
from snf_network.host import files, ip, lock, nft, probe, sysctl
from snf_network.nic import Nic
from snf_network.plan import BindingFile, Item, NftElement, Plan, ProxyNeighbour, Sysctl, describe


def plan(nic: Nic, cfg: Config) -> Plan:
    """What ``nic`` would get on this host (reads the host, changes nothing)."""
    facts = probe.facts(nic, cfg)
    result = features.plan(nic, cfg, facts)
    if not facts.interface_exists:
        result.notes.append(f"interface {nic.interface} does not exist on this host")
    return result


def ifup(nic: Nic, cfg: Config) -> Plan:
    facts = probe.facts(nic, cfg)
    if not facts.interface_exists:
        raise InputError(f"INTERFACE: {nic.interface} does not exist on this host")
    wanted = features.plan(nic, cfg, facts)
    with lock.held(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        old = record.load(cfg, nic.interface)
        old_items = old.items if old is not None else []
        stale = _owned(cfg, nic.interface, [item for item in old_items if item not in wanted.items])
        # Saved before any change: whatever happens next, the record covers it.
        pending = [*old_items, *(item for item in wanted.items if item not in old_items)]
        record.save(cfg, record.Record(nic, wanted.features, pending, complete=False))
        written: list[Item] = []  # sysctls as set, with the values to put back
        try:
            applied = _apply(cfg, wanted.items, stale, old_items, written)
            _claim(cfg, nic.interface, wanted.items, stale)
        except (SnfNetworkError, OSError) as exc:
            _remove(cfg, _owned(cfg, nic.interface, [*written, *pending]))
            _claim(cfg, nic.interface, [], pending)
            record.delete(cfg, nic.interface)
            if isinstance(exc, SnfNetworkError):
                raise
            raise SnfNetworkError(f"{exc.filename or 'the host'}: {exc.strerror or exc}") from None
        record.save(cfg, record.Record(nic, wanted.features, applied))
    for note in wanted.notes:
        log.info(note)
    log.info(f"up: {', '.join(wanted.features) or 'nothing'} ({len(applied)} items"
             f"{f', {len(stale)} stale removed' if stale else ''})")
    _announce(wanted)
    return wanted


def ifdown(cfg: Config, interface: str) -> bool:
    """Remove what the record of ``interface`` lists; False when there was none."""
    with lock.held(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        old = record.load(cfg, interface)
        if old is None:
            return False
        log.context(instance=old.nic.instance)
        _remove_record(cfg, old)
    log.info(f"down: removed {len(old.items)} items of {', '.join(old.features) or 'nothing'}")
    return True


def ifdown_instance(cfg: Config, instance: str, vanished_only: bool = False) -> list[str]:
    """Remove what every recorded NIC of ``instance`` holds on this node (only those whose tap is gone).

    For hooks: they carry no tap names, and stock Ganeti never runs an ifdown,
    so the records are the only way to what an instance left behind. A tap
    name since reused by another instance is recorded under that instance and
    is not touched. Returns the interfaces cleaned.
    """
    cleaned = []
    with lock.held(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        for old in record.load_all(cfg):
            if old.nic.instance != instance:
                continue
            if vanished_only and os.path.exists(f"/sys/class/net/{old.interface}"):
                continue
            _remove_record(cfg, old)
            cleaned.append(old.interface)
            log.info(f"{old.interface}: removed {len(old.items)} items of {', '.join(old.features) or 'nothing'}")
    return cleaned


def verify(cfg: Config) -> dict[str, list[str]]:
    """For each recorded interface, how the host differs from its record (empty: it does not)."""
    from snf_network.host import inspect

    snapshot = inspect.Snapshot()
    report = {}
    for entry in record.load_all(cfg):
        if not os.path.exists(f"/sys/class/net/{entry.interface}"):
            report[entry.interface] = ["the interface no longer exists (snf-network cleanup removes the rest)"]
            continue
        report[entry.interface] = ([] if entry.complete else ["a change was interrupted: run ifup again"])
        report[entry.interface] += inspect.differences(entry.items, snapshot)
    return report


def cleanup(cfg: Config) -> list[str]:
    """Remove what belongs to interfaces that no longer exist: their records' items, and stray nft elements."""
    from snf_network.host import inspect

    removed = []
    with lock.held(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        records = record.load_all(cfg)
        for entry in records:
            if not os.path.exists(f"/sys/class/net/{entry.interface}"):
                _remove_record(cfg, entry)
                removed.append(f"{entry.interface}: {len(entry.items)} recorded items of {entry.nic.instance}")
        recorded = {entry.interface for entry in records}
        stray: dict[str, list[NftElement]] = {}
        for (family, name), owners in inspect.element_owners().items():
            for interface, elements in owners.items():
                if interface not in recorded and not os.path.exists(f"/sys/class/net/{interface}"):
                    stray.setdefault(interface, []).extend(NftElement(family, name, e) for e in elements)
        if stray:
            nft.apply(cfg, [], [element for elements in stray.values() for element in elements])
            removed += [f"{interface}: nft elements without a record" for interface in sorted(stray)]
    for line in removed:
        log.info(f"cleanup: {line}")
    return removed


def _remove_record(cfg: Config, entry: record.Record) -> None:
    items = _owned(cfg, entry.interface, entry.items)
    _remove(cfg, items)
    _claim(cfg, entry.interface, [], items)
    record.delete(cfg, entry.interface)


def _owner_path(cfg: Config, item: ProxyNeighbour) -> str:
    return os.path.join(cfg.STATE_DIR, "proxies", f"{item.address}@{item.dev}")


def _owned(cfg: Config, interface: str, items: list[Item]) -> list[Item]:
    """``items`` less the proxy entries another interface has claimed since.

    A proxy entry is keyed by address and uplink, not by tap: when an
    instance restarts on another tap before its old tap's record is undone
    (stock Ganeti runs no ifdown), undoing the old record must not take the
    entry from the new tap. Everything else we add is keyed by its tap.
    """
    kept = []
    for item in items:
        if isinstance(item, ProxyNeighbour):
            owner = files.read(_owner_path(cfg, item))
            if owner is not None and owner.strip() != interface:
                continue
        kept.append(item)
    return kept


def _claim(cfg: Config, interface: str, claimed: list[Item], released: list[Item]) -> None:
    """Record which interface owns each proxy entry it added, and forget those it removed."""
    for item in released:
        if isinstance(item, ProxyNeighbour) and item not in claimed:
            path = _owner_path(cfg, item)
            if (files.read(path) or "").strip() == interface:
                files.remove(path)
    for item in claimed:
        if isinstance(item, ProxyNeighbour):
            files.atomic_replace(_owner_path(cfg, item), interface + "\n")


def _apply(cfg: Config, items: list[Item], stale: list[Item], old_items: list[Item],
           written: list[Item]) -> list[Item]:
    """Remove ``stale``, apply ``items``; returns the items as applied (with sysctl history)."""
    _restore_sysctls([item for item in stale if isinstance(item, Sysctl)])
    applied = []
    for item in items:
        if isinstance(item, Sysctl):
            item = _set_sysctl(item, old_items)
            written.append(item)
        applied.append(item)
    elements = [item for item in items if isinstance(item, NftElement)]
    stale_elements = [item for item in stale if isinstance(item, NftElement)]
    if elements or stale_elements:
        nft.apply(cfg, elements, stale_elements)
    lines = [line for item in stale for line in ip.remove_lines(item)]
    lines += [line for item in items for line in ip.add_lines(item)]
    if lines:
        ip.apply(lines)
    wanted_paths = {item.path for item in items if isinstance(item, BindingFile)}
    for item in stale:
        if isinstance(item, BindingFile) and item.path not in wanted_paths:
            files.remove(item.path)
    for item in items:
        if isinstance(item, BindingFile):
            files.write_in_place(item.path, item.content)
    return applied


def _remove(cfg: Config, items: list[Item]) -> None:
    lines = [line for item in items for line in ip.remove_lines(item)]
    if lines:
        ip.apply(lines)
    elements = list(dict.fromkeys(item for item in items if isinstance(item, NftElement)))
    if elements:
        nft.apply(cfg, [], elements)
    for item in items:
        if isinstance(item, BindingFile):
            files.remove(item.path)
    _restore_sysctls([item for item in items if isinstance(item, Sysctl)])


def _set_sysctl(item: Sysctl, old_items: list[Item]) -> Sysctl:
    # A re-run keeps the value from before our first run, not our own.
    for old in old_items:
        if old == item and isinstance(old, Sysctl):
            previous = old.previous
            break
    else:
        previous = sysctl.read(item.path)
    sysctl.write(item.path, item.value)
    return Sysctl(item.path, item.value, previous)


def _restore_sysctls(items: list[Sysctl]) -> None:
    for item in items:
        # Per-device settings vanish with the device; nothing to restore then.
        if item.previous and sysctl.exists(item.path):
            sysctl.write(item.path, item.previous)


def _announce(wanted: Plan) -> None:
    if wanted.announcements:
        from snf_network.host import announce

        announce.in_background([(a.protocol, a.address, a.dev) for a in wanted.announcements])


def describe_plan(result: Plan) -> list[str]:
    return [describe(item) for item in result.items]

