"""One NIC, as Ganeti describes it, parsed once and validated at the edge.

Ganeti hands the same NIC keys to kvm-ifup (``MAC``, ``IP``, ...), to instance
hooks (``GANETI_INSTANCE_NIC<n>_MAC``, ...) and to Xen (a shell-quoted file).
Everything downstream gets typed values and never re-checks them; every bad
value stops here with the name of the variable that carried it.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from snf_network.config import DIGITS, WORD, is_mac, is_tag
from snf_network.errors import InputError
from snf_network.value import Value

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping


MODES = ("routed", "bridged", "openvswitch", "ext")


def _word(text: str, rest: frozenset[str], longest: int) -> bool:
    """Starts with a letter, digit or _, then only ``rest``; ``longest`` characters at most."""
    return 0 < len(text) <= longest and text[0] in WORD and set(text) <= rest


# Linux interface names: at most 15 bytes (IFNAMSIZ - 1). We accept the
# characters Ganeti, Xen and KVM use (tap3, vif5.0, gnt.com.0) and nothing a
# shell, nft or a file name could misread.
_IFNAME = WORD | set(".+-")
# Routing tables (a number or a name from rt_tables) and instance names (host
# names: Ganeti resolves them at creation).
_DOTTED = WORD | set(".-")
# Free-form Ganeti names and UUIDs: printable, no spaces, no quotes.
_NOT_IN_NAMES = frozenset("\"'\\=$`")


def _is_vlan(text: str) -> bool:
    """Ganeti's VLAN syntax: ``N``, ``.N``, ``:N[:M...]`` or ``.N:M[...]`` (doc/network.rst)."""
    first, *others = text.split(":")
    if first.startswith("."):
        first = first[1:]
    elif others and first:
        return False  # "N:M" is not a form Ganeti writes
    numbers = ([first] if first or not others else []) + others
    return bool(numbers) and all(0 < len(n) <= 4 and set(n) <= DIGITS for n in numbers)

COMMUNICATION_TAP_PREFIX = "gnt.com."
COMMUNICATION_NAME_PREFIX = "ganeti:communication:"


def interface_name(value: str, what: str = "INTERFACE") -> str:
    """Validate a Linux interface name that came from outside."""
    if not _word(value, _IFNAME, 15) or value in (".", ".."):
        raise InputError(f"{what}: not a valid interface name: {value!r}")
    return value


def table_name(value: str, what: str = "LINK") -> str:
    """Validate a routing table given by number or name."""
    if not _word(value, _DOTTED, 64):
        raise InputError(f"{what}: not a valid routing table: {value!r}")
    if value.isdigit() and not 0 < int(value) < 2**32:
        raise InputError(f"{what}: routing table number out of range: {value!r}")
    return value


def is_instance_name(value: str) -> bool:
    """A Ganeti instance name: a host name (Ganeti resolves it at creation); never a path."""
    return _word(value, _DOTTED, 253) and ".." not in value


def mac_address(value: str, what: str = "MAC") -> str:
    mac = value.lower()
    if not is_mac(mac):
        raise InputError(f"{what}: not a MAC address: {value!r}")
    if int(mac[:2], 16) & 1:
        raise InputError(f"{what}: a multicast MAC cannot be a NIC's address: {value!r}")
    return mac


def eui64(mac: str, subnet6: IPv6Network) -> IPv6Address:
    """The SLAAC address of ``mac`` in a /64 (RFC 4291 appendix A)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    interface_id = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:6]
    return IPv6Address(subnet6.network_address.packed[:8] + interface_id)


class Network(Value):
    """The Ganeti network a NIC is attached to (all optional: a NIC may have none)."""

    __slots__ = ("name", "uuid", "tags", "subnet", "gateway", "subnet6", "gateway6", "mac_prefix")

    def __init__(self, name: str = "", uuid: str = "", tags: tuple[str, ...] = (),
                 subnet: IPv4Network | None = None, gateway: IPv4Address | None = None,
                 subnet6: IPv6Network | None = None, gateway6: IPv6Address | None = None,
                 mac_prefix: str = "") -> None:
        self.name, self.uuid, self.tags = name, uuid, tags
        self.subnet, self.gateway, self.subnet6, self.gateway6 = subnet, gateway, subnet6, gateway6
        self.mac_prefix = mac_prefix


class Nic(Value):
    """A NIC of an instance, with what Ganeti said about it."""

    __slots__ = ("instance", "mac", "mode", "interface", "ip", "link", "index", "uuid", "name", "vlan", "tags",
                 "network", "hypervisor")

    def __init__(self, instance: str, mac: str, mode: str, interface: str = "", ip: IPv4Address | None = None,
                 link: str = "", index: int | None = None, uuid: str = "", name: str = "", vlan: str = "",
                 tags: tuple[str, ...] = (), network: Network | None = None, hypervisor: str = "kvm") -> None:
        self.instance, self.mac, self.mode = instance, mac, mode
        self.interface = interface  # host side (tap3, vif5.0); empty in hooks
        self.ip = ip
        self.link = link  # routing table (routed) or bridge (bridged, openvswitch)
        self.index, self.uuid, self.name, self.vlan = index, uuid, name, vlan
        self.tags = tags  # instance tags
        self.network = network if network is not None else Network()
        # "xen": a netback vif, whose MAC Xen fixes (never changed by us).
        self.hypervisor = hypervisor

    @property
    def eui64(self) -> IPv6Address | None:
        """The NIC's IPv6 address: the EUI-64 of its MAC, only in a /64."""
        subnet6 = self.network.subnet6
        if subnet6 is None or subnet6.prefixlen != 64:
            return None
        return eui64(self.mac, subnet6)

    @property
    def link_local(self) -> IPv6Address:
        return eui64(self.mac, IPv6Network("fe80::/64"))

    @property
    def is_communication(self) -> bool:
        """Ganeti's instance-communication NIC: Ganeti's own kvm-ifup-os owns it."""
        return self.interface.startswith(COMMUNICATION_TAP_PREFIX) or self.name.startswith(
            COMMUNICATION_NAME_PREFIX
        )

    def has_tag(self, tag: str) -> bool:
        return tag in self.network.tags

    def to_env(self) -> dict[str, str]:
        """The kvm-ifup variables that describe this NIC (the inverse of from_env)."""
        net = self.network
        pairs = {
            "INSTANCE": self.instance,
            "INTERFACE": self.interface,
            "MAC": self.mac,
            "MODE": self.mode,
            "IP": str(self.ip or ""),
            "LINK": self.link,
            "INTERFACE_INDEX": "" if self.index is None else str(self.index),
            "INTERFACE_UUID": self.uuid,
            "INTERFACE_NAME": self.name,
            "VLAN": self.vlan,
            "TAGS": " ".join(self.tags),
            "NETWORK_NAME": net.name,
            "NETWORK_UUID": net.uuid,
            "NETWORK_TAGS": " ".join(net.tags),
            "NETWORK_SUBNET": str(net.subnet or ""),
            "NETWORK_GATEWAY": str(net.gateway or ""),
            "NETWORK_SUBNET6": str(net.subnet6 or ""),
            "NETWORK_GATEWAY6": str(net.gateway6 or ""),
            "NETWORK_MAC_PREFIX": net.mac_prefix,
            "HYPERVISOR": "" if self.hypervisor == "kvm" else self.hypervisor,
        }
        return {key: value for key, value in pairs.items() if value}


def from_env(env: Mapping[str, str], interface: str | None = None, hypervisor: str = "") -> Nic:
    """Build the NIC that kvm-ifup (or network/<mode>/up, or a Xen NIC file) describes.

    ``interface`` overrides ``INTERFACE`` (GRNET's Ganeti passes the tap as $1);
    ``hypervisor`` overrides ``HYPERVISOR`` (our records keep it there; Ganeti
    exports no such variable to NIC scripts, so it defaults to kvm).
    """
    fields = _Fields(env, prefix="")
    tap = interface if interface else fields.text("INTERFACE")
    if not tap:
        raise InputError("INTERFACE: not set (no network interface given)")
    hypervisor = hypervisor or fields.text("HYPERVISOR") or "kvm"
    if hypervisor not in ("kvm", "xen"):
        raise InputError(f"HYPERVISOR: expected kvm or xen, got {hypervisor!r}")
    nic = _build(
        fields,
        interface=interface_name(tap),
        instance=fields.required("INSTANCE"),
        tags=fields.tags("TAGS"),
        name_key="INTERFACE_NAME",
        uuid_key="INTERFACE_UUID",
        index_key="INTERFACE_INDEX",
    )
    nic.hypervisor = hypervisor
    return nic


def from_hook_env(env: Mapping[str, str], index: int) -> Nic:
    """Build NIC ``index`` of an instance hook environment (GANETI_INSTANCE_NIC<n>_*)."""
    instance = _Fields(env, prefix="GANETI_")
    fields = _Fields(env, prefix=f"GANETI_INSTANCE_NIC{index}_")
    nic = _build(
        fields,
        interface="",
        instance=instance.required("INSTANCE_NAME"),
        tags=instance.tags("INSTANCE_TAGS"),
        name_key="NAME",
        uuid_key="UUID",
        index_key=None,
    )
    nic.index = index  # hooks number NICs by their position, not by a variable
    return nic


def _build(
    fields: _Fields,
    *,
    interface: str,
    instance: str,
    tags: tuple[str, ...],
    name_key: str,
    uuid_key: str,
    index_key: str | None,
) -> Nic:
    if not is_instance_name(instance):
        raise InputError(f"{fields.prefix}INSTANCE: not a valid instance name: {instance!r}")
    mode = fields.required("MODE")
    if mode not in MODES:
        raise InputError(f"{fields.prefix}MODE: unknown mode {mode!r} (expected {', '.join(MODES)})")
    mac = mac_address(fields.required("MAC"), fields.prefix + "MAC")
    link = fields.text("LINK")
    if link:
        if mode == "routed":
            table_name(link, fields.prefix + "LINK")
        else:
            interface_name(link, fields.prefix + "LINK")
    network = Network(
        name=fields.name("NETWORK_NAME"),
        uuid=fields.name("NETWORK_UUID"),
        tags=fields.tags("NETWORK_TAGS"),
        subnet=fields.network4("NETWORK_SUBNET"),
        gateway=fields.address4("NETWORK_GATEWAY"),
        subnet6=fields.network6("NETWORK_SUBNET6"),
        gateway6=fields.address6("NETWORK_GATEWAY6"),
        mac_prefix=fields.mac_prefix("NETWORK_MAC_PREFIX"),
    )
    ip = fields.address4("IP")
    if network.subnet is not None:
        if network.gateway is not None and network.gateway not in network.subnet:
            raise InputError(
                f"{fields.prefix}NETWORK_GATEWAY: {network.gateway} is outside {network.subnet}"
            )
        if ip is not None and ip not in network.subnet:
            raise InputError(f"{fields.prefix}IP: {ip} is outside {network.subnet}")
    if network.subnet6 is not None and network.gateway6 is not None:
        gateway6 = network.gateway6
        if gateway6 not in network.subnet6 and not gateway6.is_link_local:
            raise InputError(
                f"{fields.prefix}NETWORK_GATEWAY6: {gateway6} is outside {network.subnet6}"
            )
    vlan = fields.text("VLAN")
    if vlan and not _is_vlan(vlan):
        raise InputError(f"{fields.prefix}VLAN: not a Ganeti VLAN (.N, :N:M or .N:M): {vlan!r}")
    index: int | None = None
    if index_key is not None:
        raw_index = fields.text(index_key)
        if raw_index:
            if not raw_index.isdigit() or len(raw_index) > 4:
                raise InputError(f"{index_key}: not a NIC index: {raw_index!r}")
            index = int(raw_index)
    return Nic(
        instance=instance,
        mac=mac,
        mode=mode,
        interface=interface,
        ip=ip,
        link=link,
        index=index,
        uuid=fields.name(uuid_key),
        name=fields.name(name_key),
        vlan=vlan,
        tags=tags,
        network=network,
    )


class _Fields:
    """Reads prefixed variables; absent, empty and Ganeti's ``None`` all mean unset."""

    def __init__(self, env: Mapping[str, str], prefix: str) -> None:
        self.env = env
        self.prefix = prefix

    def text(self, key: str) -> str:
        value = self.env.get(self.prefix + key, "")
        if value == "None":  # Ganeti writes str(None) for unset values in hooks and Xen files
            return ""
        if any(ord(char) < 32 for char in value):
            raise InputError(f"{self.prefix}{key}: control characters in value")
        return value.strip()

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise InputError(f"{self.prefix}{key}: not set")
        return value

    def name(self, key: str) -> str:
        value = self.text(key)
        if value and (len(value) > 255 or any(char.isspace() or char in _NOT_IN_NAMES for char in value)):
            raise InputError(f"{self.prefix}{key}: not a valid name: {value!r}")
        return value

    def tags(self, key: str) -> tuple[str, ...]:
        tags = tuple(dict.fromkeys(self.text(key).split()))  # drop repeats, keep order
        for tag in tags:
            if not is_tag(tag):
                raise InputError(f"{self.prefix}{key}: not a Ganeti tag: {tag!r}")
        return tags

    def mac_prefix(self, key: str) -> str:
        value = self.text(key).lower()
        if value and not is_mac(value, octets=3):
            raise InputError(f"{self.prefix}{key}: not a MAC prefix like aa:00:01: {value!r}")
        return value

    def address4(self, key: str) -> IPv4Address | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv4Address(value)
        except ValueError:
            raise InputError(f"{self.prefix}{key}: not an IPv4 address: {value!r}") from None

    def address6(self, key: str) -> IPv6Address | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv6Address(value)
        except ValueError:
            raise InputError(f"{self.prefix}{key}: not an IPv6 address: {value!r}") from None

    def network4(self, key: str) -> IPv4Network | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv4Network(value)
        except ValueError:
            raise InputError(f"{self.prefix}{key}: not an IPv4 subnet: {value!r}") from None

    def network6(self, key: str) -> IPv6Network | None:
        value = self.text(key)
        if not value:
            return None
        try:
            network = ipaddress.ip_network(value)
        except ValueError:
            raise InputError(f"{self.prefix}{key}: not an IPv6 subnet: {value!r}") from None
        if not isinstance(network, IPv6Network):
            raise InputError(f"{self.prefix}{key}: not an IPv6 subnet: {value!r}")
        return network
