"""DNS names for an instance and its addresses, computed locally.

The original asked a resolver (``host <eui64>``) only to build the ip6.arpa
name, which stalled hooks on resolver timeouts and produced a name of dots on
failure (reference/snf-network.md section 7.2, bug 10). Here every name is
string arithmetic on validated values.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

# Host and zone names follow one rule, checks.is_host_name (LDH labels, no
# underscore); host_name stays importable from here for entry/dns_cli.py.
from snf_network.checks import host_name as host_name
from snf_network.checks import refused

Address = IPv4Address | IPv6Address


def forward_name(instance: str, fzone: str) -> str:
    """The instance's absolute name in FZONE, with a trailing dot.

    An instance named by its FQDN inside FZONE keeps that name; any other
    name gets FZONE appended (as the original did).
    """
    name = host_name(instance, "instance name")
    zone = host_name(fzone, "FZONE")
    fqdn = name if name.endswith("." + zone) else f"{name}.{zone}"
    if len(fqdn) > 253:
        raise refused("instance name", f"longer than 253 characters in {zone}", fqdn)
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
