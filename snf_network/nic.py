"""One NIC, as Ganeti describes it, parsed once and validated at the edge.

Ganeti hands the same NIC keys to kvm-ifup (``MAC``, ``IP``, ...), to instance
hooks (``GANETI_INSTANCE_NIC<n>_MAC``, ...) and to Xen (a shell-quoted file).
Everything downstream gets typed values and never re-checks them; every bad
value stops here with the name of the variable that carried it: what does not
parse, and (checks.check_values) what parses but no NIC can have.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from snf_network.checks import Fields, check_values, is_vlan, mac_address, refused, table_name

# The validators live in checks.py; these two stay importable from here for the
# entry points that still use them (cli, kvm_ifdown, kvm_vif_bridge, xen_vif,
# instance_hook).
from snf_network.checks import interface_name as interface_name
from snf_network.checks import is_instance_name as is_instance_name
from snf_network.errors import InputError
from snf_network.value import Value

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping


MODES = ("routed", "bridged", "openvswitch", "ext")
COMMUNICATION_TAP_PREFIX = "gnt.com."
COMMUNICATION_NAME_PREFIX = "ganeti:communication:"


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
    def idents(self) -> tuple[str, ...]:
        """What an instance tag may name this NIC by: its index, name or UUID (those it has)."""
        return tuple(ident for ident in (str(self.index) if self.index is not None else "", self.name, self.uuid)
                     if ident)

    @property
    def is_communication(self) -> bool:
        """Ganeti's instance-communication NIC: it gets features/communication.py alone."""
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


def from_env(env: Mapping[str, str], interface: str | None = None, hypervisor: str = "",
             checked: bool = True) -> Nic:
    """Build the NIC that kvm-ifup (or network/<mode>/up, or a Xen NIC file) describes.

    ``interface`` overrides ``INTERFACE`` (GRNET's Ganeti passes the tap as $1);
    ``hypervisor`` overrides ``HYPERVISOR`` (our records keep it there; Ganeti
    exports no such variable to NIC scripts, so it defaults to kvm).
    ``checked=False`` skips checks.check_values (values that parse but make no
    sense): for our own records, whose NIC must stay removable whatever
    today's rules say.
    """
    fields = Fields(env, prefix="")
    tap = interface if interface else fields.text("INTERFACE")
    if not tap:
        raise InputError("INTERFACE: not set (no network interface given)")
    hypervisor = hypervisor or fields.text("HYPERVISOR") or "kvm"
    if hypervisor not in ("kvm", "xen"):
        raise refused("HYPERVISOR", "expected kvm or xen", hypervisor)
    return _build(
        fields,
        interface=interface_name(tap),
        instance=fields.required("INSTANCE"),
        tags=fields.tags("TAGS"),
        name_key="INTERFACE_NAME",
        uuid_key="INTERFACE_UUID",
        index=fields.nic_index("INTERFACE_INDEX"),
        hypervisor=hypervisor,
        checked=checked,
    )


def from_hook_env(env: Mapping[str, str], index: int, checked: bool = True) -> Nic:
    """Build NIC ``index`` of an instance hook environment (GANETI_INSTANCE_NIC<n>_*)."""
    instance = Fields(env, prefix="GANETI_")
    return _build(
        Fields(env, prefix=f"GANETI_INSTANCE_NIC{index}_"),
        interface="",
        instance=instance.required("INSTANCE_NAME"),
        tags=instance.tags("INSTANCE_TAGS"),
        name_key="NAME",
        uuid_key="UUID",
        index=index,  # hooks number NICs by their position, not by a variable
        hypervisor="kvm",  # hooks do not say; nothing a hook does depends on it
        checked=checked,
    )


def _build(
    fields: Fields,
    *,
    interface: str,
    instance: str,
    tags: tuple[str, ...],
    name_key: str,
    uuid_key: str,
    index: int | None,
    hypervisor: str,
    checked: bool,
) -> Nic:
    prefix = fields.prefix
    if not is_instance_name(instance):
        raise refused(prefix + "INSTANCE", "not a valid instance name", instance)
    mode = fields.required("MODE")
    if mode not in MODES:
        raise refused(prefix + "MODE", f"unknown mode (expected {', '.join(MODES)})", mode)
    mac = mac_address(fields.required("MAC"), prefix + "MAC")
    link = fields.text("LINK")
    if link:
        if mode == "routed":
            table_name(link, prefix + "LINK")
        else:
            interface_name(link, prefix + "LINK")
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
            raise refused(prefix + "NETWORK_GATEWAY", f"outside NETWORK_SUBNET {network.subnet}", network.gateway)
        if ip is not None and ip not in network.subnet:
            raise refused(prefix + "IP", f"outside NETWORK_SUBNET {network.subnet}", ip)
    if network.subnet6 is not None and network.gateway6 is not None:
        gateway6 = network.gateway6
        if gateway6 not in network.subnet6 and not gateway6.is_link_local:
            raise refused(prefix + "NETWORK_GATEWAY6", f"outside NETWORK_SUBNET6 {network.subnet6} "
                          "(and not link-local)", gateway6)
    vlan = fields.text("VLAN")
    if vlan and not is_vlan(vlan):
        raise refused(prefix + "VLAN", "not a Ganeti VLAN (.N, :N:M or .N:M)", vlan)
    nic = Nic(
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
        hypervisor=hypervisor,
    )
    if checked:
        check_values(nic, prefix)
    return nic
