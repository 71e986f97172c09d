"""The engine: from a NIC to the host, through the interface's record.

ifup plans what the NIC needs, then under the host lock compares that with
what the interface's record says was applied before (Ganeti reuses tap names,
and re-runs ifup on the same tap), removes what is no longer wanted, applies
the plan (every step idempotent) and saves the new record. ifdown removes
what the record lists. A failure on the way removes everything of both, so
no interface is ever left half-configured; a removal that fails is not the
end of the others, and leaves the record for the next try.

Every item reaches the host through its backend (host/backends.py); the
engine knows about kinds only what plan.Item says (``shared``).
"""

from __future__ import annotations

from snf_network import checks, features, log, record
from snf_network.config import Config
from snf_network.errors import InputError, SnfNetworkError
from snf_network.host import Host, probe
from snf_network.host.backends import BACKENDS, of_kinds
from snf_network.nic import Nic
from snf_network.plan import Item, Plan


def plan(host: Host, nic: Nic, cfg: Config) -> Plan:
    """What ``nic`` would get on this host (reads the host, changes nothing)."""
    selected = features.chosen(nic, cfg)
    facts = probe.facts(host, nic, cfg, features.needs(selected))
    checks.check_against_node(nic, facts)
    result = features.plan(nic, cfg, facts, selected)
    if not facts.interface_exists:
        result.notes.append(f"interface {nic.interface} does not exist on this host")
    return result


def ifup(host: Host, nic: Nic, cfg: Config) -> Plan:
    selected = features.chosen(nic, cfg)
    facts = probe.facts(host, nic, cfg, features.needs(selected))
    checks.check_against_node(nic, facts)
    if not facts.interface_exists:
        raise InputError(f"INTERFACE: {nic.interface} does not exist on this host")
    wanted = features.plan(nic, cfg, facts, selected)
    interface = nic.interface
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        claims = record.Claims(host, cfg)
        old = record.load(host, cfg, interface)
        old_items = old.items if old is not None else []
        items = _prepare(host, wanted.items, old_items)
        stale = claims.owned(interface, [item for item in old_items if item not in items])
        # Saved before any change: whatever happens next, the record covers it.
        pending = [*old_items, *(item for item in items if item not in old_items)]
        record.save(host, cfg, record.Record(nic, wanted.features, pending, complete=False))
        try:
            for line in host.remove_legacy_rules(interface):
                log.info(f"removed a rule of GRNET's snf-network: {line}")
            _apply(host, cfg, items, stale)
            claims.update(interface, items, stale)
            record.save(host, cfg, record.Record(nic, wanted.features, items))
        except (SnfNetworkError, OSError) as exc:
            message = str(exc) if isinstance(exc, SnfNetworkError) else \
                f"{exc.filename or 'the host'}: {exc.strerror or exc}"
            if not _undo(host, cfg, claims, nic, wanted.features, pending):
                # Still one line for Ganeti; the details of the undo are in the log.
                message += "; undoing it failed too (the record is kept: run ifdown again)"
            error = type(exc)(message) if isinstance(exc, InputError) else SnfNetworkError(message)
            error.exit_status = exc.exit_status if isinstance(exc, SnfNetworkError) else 1
            raise error from None
    wanted.items = items
    for note in wanted.notes:
        log.info(note)
    log.info(f"up: {', '.join(wanted.features) or 'nothing'} ({len(items)} items"
             f"{f', {len(stale)} stale removed' if stale else ''})")
    if wanted.announcements:
        host.announce([(a.protocol, a.address, a.dev) for a in wanted.announcements])
    return wanted


def ifdown(host: Host, cfg: Config, interface: str) -> bool:
    """Remove what the record of ``interface`` lists; False when there was none."""
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        old = record.load(host, cfg, interface)
        if old is None:
            return False
        log.context(instance=old.nic.instance)
        _remove_record(host, cfg, old)
    log.info(f"down: removed {len(old.items)} items of {', '.join(old.features) or 'nothing'}")
    return True


def ifdown_instance(host: Host, cfg: Config, instance: str, vanished_only: bool = False) -> list[record.Record]:
    """Remove what every recorded NIC of ``instance`` holds on this node (only those whose tap is gone).

    For hooks: they carry no tap names, and stock Ganeti never runs an ifdown,
    so the records are the only way to what an instance left behind. A tap
    name since reused by another instance is recorded under that instance and
    is not touched. Returns the records of the interfaces cleaned.
    """
    cleaned = []
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        for old in record.load_all(host, cfg):
            if old.nic.instance != instance or (vanished_only and host.link_exists(old.interface)):
                continue
            try:
                _remove_record(host, cfg, old)
            except SnfNetworkError as exc:
                log.error(f"{old.interface}: {exc}")
                continue
            cleaned.append(old)
            log.info(f"{old.interface}: removed {len(old.items)} items of {', '.join(old.features) or 'nothing'}")
    return cleaned


def remove_unrecorded_proxies(host: Host, cfg: Config, nics: list[Nic]) -> list[str]:
    """The original hook's one cleanup, for NICs we hold no record of: their proxy NDP entries.

    NICs set up by the bash snf-network before an upgrade have no record;
    an address another record still proxies is that record's to remove.
    """
    from snf_network.features.routed import is_ip_less
    from snf_network.host import ip
    from snf_network.plan import ProxyNeighbour

    wanted = [nic for nic in nics if is_ip_less(nic, cfg) and nic.eui64 is not None and nic.link]
    if not wanted:
        return []
    removed = []
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        kept = {item.address for old in record.load_all(host, cfg) for item in old.items
                if isinstance(item, ProxyNeighbour)}
        entries = [ProxyNeighbour(str(nic.eui64), uplink) for nic in wanted if str(nic.eui64) not in kept
                   for uplink in host.default_route_devices(6, nic.link)]
        if entries:
            ip.BACKEND.apply(host, cfg, [], list(entries))
            removed = [entry.describe() for entry in entries]
    return removed


def verify(host: Host, cfg: Config) -> dict[str, list[str]]:
    """For each recorded interface, how the host differs from its record (empty: it does not).

    Under the key ``"ruleset"``: how our nftables rules differ from what
    they should be (flushed by ``nft flush ruleset`` or an nftables restart).
    """
    from snf_network.host import nft

    records = record.load_all(host, cfg)
    if not records:
        return {}
    # Each backend reads the node's state once, for every record.
    checkers = {backend: backend.checker(host) for backend in BACKENDS}
    report = {"ruleset": nft.ruleset_differences(host, cfg)}
    for entry in records:
        if not host.link_exists(entry.interface):
            report[entry.interface] = ["the interface no longer exists (snf-network cleanup removes the rest)"]
            continue
        problems = [] if entry.complete else ["a change was interrupted: run ifup again"]
        for backend, check in checkers.items():
            items = of_kinds(backend, entry.items)
            if items:
                problems += check(items)
        report[entry.interface] = problems
    return report


def cleanup(host: Host, cfg: Config) -> list[str]:
    """Remove what belongs to interfaces that no longer exist: their records' items, and stray nft elements."""
    from snf_network.host import inspect, nft
    from snf_network.plan import NftElement

    removed = []
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        records = record.load_all(host, cfg)
        for entry in records:
            if not host.link_exists(entry.interface):
                _remove_record(host, cfg, entry)
                removed.append(f"{entry.interface}: {len(entry.items)} recorded items of {entry.nic.instance}")
        recorded = {entry.interface for entry in records}
        stray: dict[str, list[NftElement]] = {}
        for (family, name), owners in inspect.element_owners(host).items():
            for interface, elements in owners.items():
                if interface not in recorded and not host.link_exists(interface):
                    stray.setdefault(interface, []).extend(NftElement(family, name, e) for e in elements)
        if stray:
            nft.apply(host, cfg, [], [element for elements in stray.values() for element in elements])
            removed += [f"{interface}: nft elements without a record" for interface in sorted(stray)]
    for line in removed:
        log.info(f"cleanup: {line}")
    return removed


def reapply(host: Host, cfg: Config) -> tuple[list[str], list[str], list[str]]:
    """Make the host hold every record again (after ``nft flush ruleset``, an nftables restart, a reboot).

    Our ruleset is reloaded whatever its marker says (a chain emptied behind
    our back keeps the marker), then every complete record's items are
    applied again. Records of interfaces that are gone are removed instead.
    An incomplete record (a change was interrupted) holds the old items with
    the new: it is not re-applied, but reported, as are records that fail.
    Returns (interfaces re-applied, records dropped, interfaces that failed).
    """
    from snf_network import profiles
    from snf_network.host import nft

    applied, dropped, failed = [], [], []
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        kept: list[record.Record] = []
        for entry in record.load_all(host, cfg):
            if host.link_exists(entry.interface):
                kept.append(entry)
                continue
            try:
                _remove_record(host, cfg, entry)
                dropped.append(entry.interface)
            except SnfNetworkError as exc:
                log.error(f"{entry.interface}: {exc}")
                failed.append(entry.interface)
        nft.load_ruleset(host, cfg, tuple(profiles.load(cfg.FIREWALL_PROFILES).items()))
        claims = record.Claims(host, cfg)
        for entry in kept:
            if not entry.complete:
                log.error(f"{entry.interface}: a change was interrupted: run its ifup (or ifdown) again")
                failed.append(entry.interface)
                continue
            try:
                _apply(host, cfg, claims.owned(entry.interface, entry.items), [])
            except (SnfNetworkError, OSError) as exc:
                log.error(f"{entry.interface}: could not re-apply its record: {exc}")
                failed.append(entry.interface)
                continue
            applied.append(entry.interface)
    log.info(f"reapply: {len(applied)} interfaces re-applied, {len(dropped)} records of vanished interfaces "
             f"dropped, {len(failed)} failed")
    return applied, dropped, failed


def _prepare(host: Host, items: list[Item], old_items: list[Item]) -> list[Item]:
    for backend in BACKENDS:
        mine = of_kinds(backend, items)
        if mine:
            prepared = iter(backend.prepare(host, mine, old_items))
            items = [next(prepared) if item.kind in backend.kinds else item for item in items]
    return items


def _apply(host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
    """Remove ``remove``, apply ``add``: backend by backend, each in one batch."""
    for backend in BACKENDS:
        wanted, stale = of_kinds(backend, add), of_kinds(backend, remove)
        if wanted or stale:
            backend.apply(host, cfg, wanted, stale)


def _remove(host: Host, cfg: Config, items: list[Item]) -> list[str]:
    """Remove ``items``, backend by backend in reverse order, going on past failures; the failures."""
    failures = []
    for backend in reversed(BACKENDS):
        mine = of_kinds(backend, items)
        if not mine:
            continue
        try:
            backend.apply(host, cfg, [], mine)
        except (SnfNetworkError, OSError) as exc:
            failures.append(str(exc))
    return failures


def _remove_record(host: Host, cfg: Config, entry: record.Record) -> None:
    claims = record.Claims(host, cfg)
    items = claims.owned(entry.interface, entry.items)
    failures = _remove(host, cfg, items)
    if failures:
        # The record stays (marked incomplete): a second ifdown or cleanup finishes the job.
        record.save(host, cfg, record.Record(entry.nic, entry.features, entry.items, complete=False))
        raise SnfNetworkError(f"could not remove everything recorded ({'; '.join(failures)}); "
                              "the record is kept for another try")
    claims.update(entry.interface, [], items)
    record.delete(host, cfg, entry.interface)


def _undo(host: Host, cfg: Config, claims: record.Claims, nic: Nic, names: list[str], pending: list[Item]) -> bool:
    """After a failed ifup: remove everything of the old record and the new plan; False when some of it stayed."""
    items = claims.owned(nic.interface, pending)
    failures = _remove(host, cfg, items)
    try:
        if failures:
            log.warning(f"undoing the failed change left something behind ({'; '.join(failures)}); "
                        "the record is kept: run ifdown again")
            record.save(host, cfg, record.Record(nic, names, pending, complete=False))
            return False
        claims.update(nic.interface, [], items)
        record.delete(host, cfg, nic.interface)
    except OSError as exc:  # the disk that failed the change may fail this too: the pending record stands
        log.warning(f"could not update the record after undoing: {exc.strerror}")
    return True
