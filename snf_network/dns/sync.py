"""Make the server's records for an instance match its NICs: query, plan, send.

The one path behind the hook, ``snf-network dns sync`` and the NIC removal
of kvm-ifdown-custom. Failures are logged with the instance (log context),
the records and the server, and reported as a False result: DNS is best
effort and never fails a Ganeti operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from snf_network import log
from snf_network.config import Config
from snf_network.dns import plan
from snf_network.dns.names import Address, forward_name, reverse_name
from snf_network.dns.server import Deadline, DnsFailure, Server
from snf_network.errors import InputError, SnfNetworkError
from snf_network.nic import Nic

Echo = Callable[[str], None]


def disabled_reason(cfg: Config) -> str:
    """Why dynamic DNS is off ('' when it is on)."""
    if not cfg.AUTHENTICATION_METHOD:
        return "AUTHENTICATION_METHOD is empty"
    if not cfg.SERVER or not cfg.FZONE:
        return "SERVER and FZONE are not both set"
    return ""


def deadline_for(cfg: Config, start: float | None = None) -> Deadline:
    return Deadline(cfg.DNS_DEADLINE, cfg.DNS_TIMEOUT, start)


def wanted_addresses(nics: Iterable[Nic], tag: str) -> list[Address]:
    """IPv4 and EUI-64 IPv6 addresses of the NICs on networks carrying ``tag``."""
    found: list[Address] = []
    for nic in nics:
        if nic.has_tag(tag):
            found.extend(address for address in (nic.ip, nic.eui64) if address is not None)
    return found


def apply(cfg: Config, *, target: str | None, nics: Sequence[Nic], gone: Sequence[str] = (),
          deadline: Deadline | None = None, env: Mapping[str, str] | None = None,
          dry_run: bool = False, echo: Echo | None = None) -> bool:
    """Leave ``target`` (an instance name) with the records of ``nics``, and ``gone`` with none.

    Names must already be validated. True when every update went through.
    """
    deadline = deadline or deadline_for(cfg)
    fqdn = forward_name(target, cfg.FZONE) if target is not None else None
    old = [forward_name(name, cfg.FZONE) for name in gone]
    addresses = wanted_addresses(nics, cfg.DNS_TAG)
    try:
        server = Server(cfg, deadline, env)
    except SnfNetworkError as exc:
        log.error(f"DNS not updated: {exc}")
        return False
    held: dict[str, list[Address]] = {}
    failure: DnsFailure | None = None
    try:
        for name in [*([fqdn] if fqdn else []), *old]:
            try:
                held[name] = server.addresses(name)
            except DnsFailure as exc:
                if exc.fatal:
                    raise
                # Without the old state we can still set the new one; only
                # stale PTRs of addresses we never heard of may be left.
                log.warning(f"DNS: {exc}; stale PTR records of {name} may remain")
    except DnsFailure as exc:
        failure = exc
    if not fqdn:
        # Removal: what the NICs say counts too, should the server have lost the A/AAAA.
        for name in old:
            held.setdefault(name, []).extend(addresses)
        addresses = []
    updates = plan.build(fzone=cfg.FZONE, reverse_zones=cfg.REVERSE_ZONES, target=fqdn,
                         addresses=addresses, gone=old, held=held)
    try:
        if failure is not None:
            log.error(f"DNS not updated: {failure}")
            for update in updates:
                log.error(f"DNS update of zone {update.zone} at server {server.label} skipped; "
                          f"not done: {update.describe()}")
            return False
        return _send_all(server, updates, dry_run, echo)
    finally:
        server.close()


def remove_nic_records(cfg: Config, nic: Nic, env: Mapping[str, str] | None = None) -> None:
    """Delete the A/AAAA/PTR of one NIC (kvm-ifdown-custom <tap> false); best effort, logged."""
    if disabled_reason(cfg) or not nic.has_tag(cfg.DNS_TAG):
        return
    addresses = wanted_addresses([nic], cfg.DNS_TAG)
    if not addresses:
        return
    try:
        fqdn = forward_name(nic.instance, cfg.FZONE)
        server = Server(cfg, deadline_for(cfg), env)
    except SnfNetworkError as exc:
        log.error(f"DNS records of the NIC not removed: {exc}")
        return
    try:
        _send_all(server, plan.build_removal(fzone=cfg.FZONE, reverse_zones=cfg.REVERSE_ZONES,
                                             name=fqdn, addresses=addresses), False, None)
    finally:
        server.close()


def show(cfg: Config, instance: str, deadline: Deadline | None = None,
         env: Mapping[str, str] | None = None) -> list[str]:
    """What the server holds at the instance's name, and the PTRs of its addresses (zone-file lines)."""
    reason = disabled_reason(cfg)
    if reason:
        raise InputError(f"dynamic DNS is off: {reason}")
    server = Server(cfg, deadline or deadline_for(cfg), env)
    try:
        fqdn = forward_name(instance, cfg.FZONE)
        lines = [rrset.to_text() for rrset in server.rrsets(fqdn, "ANY")]
        for address in server.addresses(fqdn):
            ptrs = server.rrsets(reverse_name(address), "PTR")
            lines.extend(rrset.to_text() for rrset in ptrs)
            if not ptrs:
                lines.append(f"; no PTR at {reverse_name(address)}")
        return lines
    finally:
        server.close()


def _send_all(server: Server, updates: Sequence[plan.ZoneUpdate], dry_run: bool,
              echo: Echo | None) -> bool:
    ok = True
    for position, update in enumerate(updates):
        if echo is not None:
            echo(update.nsupdate_script(server.ttl).rstrip("\n"))
        if dry_run:
            continue
        try:
            server.send(update)
        except DnsFailure as exc:
            ok = False
            log.error(f"DNS update of zone {update.zone} at server {server.label} failed: {exc}; "
                      f"not done: {update.describe()}")
            if exc.fatal:
                for skipped in updates[position + 1:]:
                    log.error(f"DNS update of zone {skipped.zone} at server {server.label} skipped; "
                              f"not done: {skipped.describe()}")
                break
            continue
        log.info(f"DNS zone {update.zone} at {server.label}: {update.describe()}")
    return ok
