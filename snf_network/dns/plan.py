"""What to send: one update per zone, computed from names and addresses only.

Pure: no dnspython, no network. The caller says which name should end up
with which addresses (``target``), which names should lose all our records
(``gone``), and what the server held before (``held``); the plan is the
smallest set of RRset replacements and exact deletions that gets there.

Only A, AAAA and PTR are ever touched, and a PTR is deleted only by its exact
value (this instance's name), so an administrator's TXT or MX at the name, or
a PTR that another instance took over, survive (the original's modify wiped
the whole name: reference/snf-network.md section 7.2, bug 22).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

from snf_network.dns.names import Address, reverse_name, reverse_zone

REPLACE = "replace"  # the RRset becomes exactly ``values``
DELETE = "delete"  # remove the RRset (no values) or exactly these values


@dataclass(frozen=True, order=True, slots=True)
class Change:
    action: str
    name: str  # absolute, with a trailing dot
    rdtype: str
    values: tuple[str, ...] = ()

    def lines(self, ttl: int) -> list[str]:
        """The change in nsupdate syntax (also what we log)."""
        if self.action == REPLACE:
            return [f"update delete {self.name} {self.rdtype}"] + [
                f"update add {self.name} {ttl} {self.rdtype} {value}" for value in self.values
            ]
        if not self.values:
            return [f"update delete {self.name} {self.rdtype}"]
        return [f"update delete {self.name} {self.rdtype} {value}" for value in self.values]

    def describe(self) -> str:
        values = " ".join(self.values)
        return f"{self.action} {self.name} {self.rdtype}{' ' + values if values else ''}"


@dataclass(frozen=True, slots=True)
class ZoneUpdate:
    """One DNS UPDATE transaction: all or nothing, on one zone."""

    zone: str  # without a trailing dot
    changes: tuple[Change, ...]

    def nsupdate_script(self, ttl: int) -> str:
        lines = [f"zone {self.zone}."]
        for change in self.changes:
            lines.extend(change.lines(ttl))
        return "\n".join([*lines, "send"]) + "\n"

    def describe(self) -> str:
        return "; ".join(change.describe() for change in self.changes)


def address_types(addresses: Iterable[Address]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Sorted, de-duplicated IPv4 and IPv6 addresses as text."""
    unique = set(addresses)
    v4 = sorted(a for a in unique if isinstance(a, IPv4Address))
    v6 = sorted(a for a in unique if not isinstance(a, IPv4Address))
    return tuple(map(str, v4)), tuple(map(str, v6))


def build(*, fzone: str, reverse_zones: Iterable[str], target: str | None,
          addresses: Iterable[Address], gone: Iterable[str] = (),
          held: Mapping[str, Iterable[Address]] | None = None) -> list[ZoneUpdate]:
    """The updates that leave ``target`` with exactly ``addresses`` and ``gone`` with nothing of ours.

    ``target`` and the names in ``gone`` are absolute forward names inside
    ``fzone``. ``held`` maps forward names to the addresses the server (or
    the old NIC list) gave them: the PTRs of those that are no longer wanted
    are deleted, by value.
    """
    configured = tuple(reverse_zones)
    wanted = sorted(set(addresses), key=lambda a: (a.version, a))
    by_zone: dict[str, list[Change]] = {fzone: []}
    forward = by_zone[fzone]
    if target is not None:
        v4, v6 = address_types(wanted)
        forward.append(Change(REPLACE, target, "A", v4) if v4 else Change(DELETE, target, "A"))
        forward.append(Change(REPLACE, target, "AAAA", v6) if v6 else Change(DELETE, target, "AAAA"))
        for address in wanted:
            change = Change(REPLACE, reverse_name(address), "PTR", (target,))
            by_zone.setdefault(reverse_zone(address, configured), []).append(change)
    else:
        wanted = []
    for name in sorted(set(gone) - {target}):
        forward.append(Change(DELETE, name, "A"))
        forward.append(Change(DELETE, name, "AAAA"))
    for name, old in sorted((held or {}).items()):
        for address in sorted(set(old), key=lambda a: (a.version, a)):
            if address in wanted:
                continue  # its PTR RRset is replaced above, whatever it held
            change = Change(DELETE, reverse_name(address), "PTR", (name,))
            by_zone.setdefault(reverse_zone(address, configured), []).append(change)
    updates = []
    for zone in [fzone, *sorted(z for z in by_zone if z != fzone)]:
        changes = tuple(dict.fromkeys(by_zone[zone]))  # drop repeats, keep order
        if changes:
            updates.append(ZoneUpdate(zone, changes))
    return updates


def build_removal(*, fzone: str, reverse_zones: Iterable[str], name: str,
                  addresses: Iterable[Address]) -> list[ZoneUpdate]:
    """Delete exactly these addresses at ``name`` and their PTRs to it (one NIC going away)."""
    configured = tuple(reverse_zones)
    v4, v6 = address_types(addresses)
    forward = [Change(DELETE, name, rdtype, values) for rdtype, values in (("A", v4), ("AAAA", v6))
               if values]
    updates = [ZoneUpdate(fzone, tuple(forward))] if forward else []
    by_zone: dict[str, list[Change]] = {}
    for address in sorted(set(addresses), key=lambda a: (a.version, a)):
        by_zone.setdefault(reverse_zone(address, configured), []).append(
            Change(DELETE, reverse_name(address), "PTR", (name,)))
    updates.extend(ZoneUpdate(zone, tuple(by_zone[zone])) for zone in sorted(by_zone))
    return updates
