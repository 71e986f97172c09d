"""DNS names for an instance and its addresses, computed locally.

The original asked a resolver (``host <eui64>``) only to build the ip6.arpa
name, which stalled hooks on resolver timeouts and produced a name of dots on
failure (reference/snf-network.md section 7.2, bug 10). Here every name is
string arithmetic on validated values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from snf_network.errors import InputError

Address = IPv4Address | IPv6Address

# Host names are LDH labels (RFC 952/1123). No underscore: BIND's default
# check-names for primary zones refuses an A/AAAA owner with one (REFUSED),
# so such a name would only fail later, at the server.
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def host_name(value: str, what: str) -> str:
    """A validated host name, lower case, without a trailing dot."""
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InputError(f"{what}: not a valid host name: {value!r}")
    return name.lower()


def zone_name(value: str, what: str) -> str:
    """A zone name (labels may start with a digit or be one character), lower case, no trailing dot."""
    return host_name(value, what)


def forward_name(instance: str, fzone: str) -> str:
    """The instance's absolute name in FZONE, with a trailing dot.

    An instance named by its FQDN inside FZONE keeps that name; any other
    name gets FZONE appended (as the original did).
    """
    name = host_name(instance, "instance name")
    zone = zone_name(fzone, "FZONE")
    fqdn = name if name.endswith("." + zone) else f"{name}.{zone}"
    if len(fqdn) > 253:
        raise InputError(f"instance name: {fqdn!r} is longer than 253 characters")
    return fqdn + "."


def reverse_name(address: Address) -> str:
    """The PTR owner: d.c.b.a.in-addr.arpa. or the 32-nibble ip6.arpa. name."""
    return address.reverse_pointer + "."


def reverse_zone(address: Address, configured: Iterable[str] = ()) -> str:
    """The reverse zone holding ``address``'s PTR, without a trailing dot.

    The longest of the configured zones (REVERSE_ZONES) that contains the
    name wins; else the classful default: the /24 for IPv4 (what the original
    built), the /64 for IPv6 (the only prefix length we publish addresses in).
    """
    owner = address.reverse_pointer.lower()
    best = ""
    for zone in configured:
        if (owner == zone or owner.endswith("." + zone)) and len(zone) > len(best):
            best = zone
    if best:
        return best
    if isinstance(address, IPv4Address):
        return owner.split(".", 1)[1]
    return owner.split(".", 16)[16]
