"""What the host should look like for one NIC, as plain data.

Features return these values; the engine diffs them against the interface's
record and hands them to the host backends. Every state item is a frozen
value (snf_network/value.py), so sets of them can be compared, and round-trips through JSON so
that the record on disk says, readably, what we changed.
"""

from __future__ import annotations

from snf_network.value import Value

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any


class Item(Value):
    """A piece of host state a NIC needs; its ``kind`` names the backend that makes it so (host/backends.py)."""

    __slots__ = ()
    kind = ""
    # Keyed by something other than the NIC's interface (a proxy entry is
    # keyed by address and uplink): another interface may claim it since,
    # so undoing a record asks who owns it first (engine.py, record.Claims).
    shared = False

    def describe(self) -> str:
        """One line an operator can read (plan and status output)."""
        raise NotImplementedError

    def claim_key(self) -> str:
        """For shared items: the name of its owner file."""
        raise NotImplementedError


class Link(Item):
    """Bring ``dev`` up, with an address, MTU or bridge master when given."""

    kind = "link"
    __slots__ = ("dev", "address", "mtu", "master")

    def __init__(self, dev: str, address: str = "", mtu: int = 0, master: str = "") -> None:
        self.dev, self.address, self.mtu, self.master = dev, address, mtu, master

    def describe(self) -> str:
        extras = [f"address {self.address}" if self.address else "",
                  f"mtu {self.mtu}" if self.mtu else "", f"master {self.master}" if self.master else ""]
        return " ".join(["link", self.dev, "up", *filter(None, extras)])


class Sysctl(Item):
    """A /proc/sys value; ``previous`` (not compared) is restored on removal."""

    kind = "sysctl"
    __slots__ = ("path", "value", "previous")
    uncompared = ("previous",)

    def __init__(self, path: str, value: str, previous: str = "") -> None:
        # path is relative to /proc/sys, e.g. net/ipv4/conf/tap3/proxy_arp
        self.path, self.value, self.previous = path, value, previous

    def describe(self) -> str:
        return f"sysctl {self.path.replace('/', '.')} = {self.value}"


class Rule(Item):
    """A policy rule ``iif <iif> lookup <table>``, or ``iif <iif> pref <priority> unreachable``."""

    kind = "rule"
    __slots__ = ("family", "iif", "table", "action", "priority")

    def __init__(self, family: int, iif: str, table: str, action: str = "lookup", priority: int = 0) -> None:
        self.family, self.iif, self.table = family, iif, table
        self.action = action  # "lookup" (in ``table``) or "unreachable"
        self.priority = priority  # 0: the kernel picks one, before the rules there already are

    def spec(self) -> str:
        """The rule as ``ip rule`` takes it."""
        pref = f" pref {self.priority}" if self.priority else ""
        return f"iif {self.iif}{pref} " + (f"lookup {self.table}" if self.action == "lookup" else self.action)

    def describe(self) -> str:
        return f"rule -{self.family} {self.spec()}"


class Route(Item):
    kind = "route"
    __slots__ = ("family", "destination", "dev", "table")

    def __init__(self, family: int, destination: str, dev: str, table: str) -> None:
        self.family, self.destination, self.dev, self.table = family, destination, dev, table

    def describe(self) -> str:
        return f"route -{self.family} {self.destination} dev {self.dev} table {self.table}"


class ProxyNeighbour(Item):
    """Answer neighbour solicitations for ``address`` on ``dev`` (proxy NDP)."""

    kind = "proxy_neighbour"
    shared = True
    __slots__ = ("address", "dev")

    def __init__(self, address: str, dev: str) -> None:
        self.address, self.dev = address, dev

    def describe(self) -> str:
        return f"proxy neighbour {self.address} on {self.dev}"

    def claim_key(self) -> str:
        return f"{self.address}@{self.dev}"


class NftElement(Item):
    """One element of a set or map of our ``snf`` table in ``family`` (inet, arp or bridge)."""

    kind = "nft_element"
    __slots__ = ("family", "set", "element")

    def __init__(self, family: str, set: str, element: str) -> None:
        # element is nft syntax, e.g. "tap3" . 192.0.2.10
        self.family, self.set, self.element = family, set, element

    def describe(self) -> str:
        return f"nft {self.family} snf @{self.set} {{ {self.element} }}"


class BindingFile(Item):
    """A file another daemon reads (nfdhcpd): written in place, removed on undo."""

    kind = "file"
    __slots__ = ("path", "content")

    def __init__(self, path: str, content: str) -> None:
        self.path, self.content = path, content

    def describe(self) -> str:
        return f"file {self.path}"


class OvsPort(Item):
    """``port`` in the Open vSwitch ``switch``, with its VLANs and who owns it (external_ids, host/ovs.py)."""

    kind = "ovs_port"
    __slots__ = ("switch", "port", "tag", "trunks", "vlan_mode", "instance", "nic", "mac", "rate", "burst")

    def __init__(self, switch: str, port: str, tag: int = 0, trunks: str = "", vlan_mode: str = "",
                 instance: str = "", nic: str = "", mac: str = "", rate: int = 0, burst: int = 0) -> None:
        self.switch, self.port = switch, port
        # tag 0: none; trunks: "100,200" (a string, so that the record's JSON gives the same value back)
        self.tag, self.trunks, self.vlan_mode = tag, trunks, vlan_mode
        self.instance, self.nic, self.mac = instance, nic, mac
        # A bandwidth limit (snf_network/qos.py), bits/s and bytes, 0: none: a QoS row and ingress policing.
        self.rate, self.burst = rate, burst

    def describe(self) -> str:
        from snf_network.qos import show_rate, show_size

        extras = [f"tag {self.tag}" if self.tag else "", f"trunks {self.trunks}" if self.trunks else "",
                  f"vlan_mode {self.vlan_mode}" if self.vlan_mode else "",
                  f"max-rate {show_rate(self.rate)}" if self.rate else "",
                  f"burst {show_size(self.burst)}" if self.rate and self.burst else ""]
        return " ".join(["ovs port", self.port, "on", self.switch, *filter(None, extras)])


class OvsFlows(Item):
    """The OpenFlow rules that let ``port`` send only as its VM (host/ovs.py), all under one ``cookie``."""

    kind = "ovs_flows"
    __slots__ = ("switch", "port", "cookie", "mac", "ip4", "ip6", "any4", "any6")

    def __init__(self, switch: str, port: str, cookie: str, mac: str, ip4: str = "", ip6: str = "",
                 any4: bool = False, any6: bool = False) -> None:
        self.switch, self.port, self.cookie, self.mac = switch, port, cookie, mac
        self.ip4 = ip4  # the VM's IPv4 address, '' for none
        self.ip6 = ip6  # its IPv6 addresses (link-local, EUI-64), comma-separated
        self.any4, self.any6 = any4, any6  # NIC_WITHOUT_IP=any, in a family it has no address in

    def describe(self) -> str:
        sources = ", ".join(filter(None, [self.mac, self.ip4 or ("any IPv4" if self.any4 else ""),
                                          self.ip6.replace(",", ", "), "any IPv6" if self.any6 else ""]))
        return f"openflow guard of {self.port} on {self.switch} (cookie {self.cookie}): {sources}"


class BridgeVlan(Item):
    """A port of ``bridge`` and its VLANs (``bridge vlan``): ``pvid`` untagged (0: none), ``tagged`` ("100,200").

    The kernel's default VLAN 1 leaves a NIC's port unless the NIC names it (host/vlan.py).
    """

    kind = "bridge_vlan"
    __slots__ = ("dev", "bridge", "pvid", "tagged")

    def __init__(self, dev: str, bridge: str, pvid: int = 0, tagged: str = "") -> None:
        self.dev, self.bridge, self.pvid, self.tagged = dev, bridge, pvid, tagged

    def describe(self) -> str:
        parts = [f"pvid {self.pvid} untagged" if self.pvid else "", f"tagged {self.tagged}" if self.tagged else ""]
        return " ".join(["bridge vlan", self.dev, *filter(None, parts)])


class UplinkVlan(Item):
    """VLAN ``vid``, tagged, on a bridge's uplink port ``dev``, for the NIC on ``user``.

    Several NICs may need one uplink VLAN: it goes with the last of them, and
    never if it was there before any of ours asked for it (host/vlan.py).
    """

    kind = "uplink_vlan"
    __slots__ = ("dev", "vid", "user")

    def __init__(self, dev: str, vid: int, user: str) -> None:
        self.dev, self.vid, self.user = dev, vid, user

    def describe(self) -> str:
        return f"bridge vlan {self.dev} vid {self.vid} tagged (uplink)"
class ServiceAddress(Item):
    """An address of the node's own on ``dev`` (169.254.169.254/32 on a communication tap)."""

    kind = "service_address"
    __slots__ = ("dev", "address")

    def __init__(self, dev: str, address: str) -> None:
        self.dev, self.address = dev, address  # address with its prefix length: 169.254.169.254/32

    def describe(self) -> str:
        return f"address {self.address} on {self.dev}"


class TxChecksum(Item):
    """The transmit checksum offload of ``dev``, on or off; ``previous`` (not compared) is restored on removal."""

    kind = "tx_checksum"
    __slots__ = ("dev", "enabled", "previous")
    uncompared = ("previous",)

    def __init__(self, dev: str, enabled: bool, previous: bool | None = None) -> None:
        self.dev, self.enabled, self.previous = dev, enabled, previous

    def describe(self) -> str:
        return f"tx checksumming {'on' if self.enabled else 'off'} on {self.dev}"


class HostsEntry(Item):
    """A ``MAC,IP`` line of the communication dnsmasq's hosts file (host/communication.py)."""

    kind = "hosts_entry"
    __slots__ = ("dev", "mac", "ip", "file")

    def __init__(self, dev: str, mac: str, ip: str, file: str) -> None:
        self.dev, self.mac, self.ip = dev, mac, ip
        self.file = file  # the hosts file (COMMUNICATION_DIR/hosts), for verify

    def line(self) -> str:
        return f"{self.mac},{self.ip}"

    def describe(self) -> str:
        return f"dnsmasq host {self.line()} (for {self.dev})"


# Every kind a record may hold: a new kind is a class here and a backend in host/backends.py.
ITEM_TYPES: dict[str, type[Item]] = {
    cls.kind: cls for cls in (Link, Sysctl, Rule, Route, ProxyNeighbour, NftElement, BindingFile,
                              ServiceAddress, TxChecksum, HostsEntry)
}
ITEM_TYPES.update({cls.kind: cls for cls in (OvsPort, OvsFlows, BridgeVlan, UplinkVlan)})  # issue 11: OVS, VLANs


class Shaper(Item):
    """An HTB shaper as ``dev``'s root qdisc: one class at ``rate`` bits/s (``burst`` bytes, 0: tc's default).

    On a tap it shapes what the VM receives; on the NIC's ifb, what it sends.
    """

    kind = "shaper"
    __slots__ = ("dev", "rate", "burst")

    def __init__(self, dev: str, rate: int, burst: int = 0) -> None:
        self.dev, self.rate, self.burst = dev, rate, burst

    def describe(self) -> str:
        from snf_network.qos import show_rate, show_size

        return f"shaper on {self.dev}: htb rate {show_rate(self.rate)}" + \
            (f" burst {show_size(self.burst)}" if self.burst else "")


class IfbLink(Item):
    """The ifb device ``dev`` that the traffic ``tap`` receives from its VM is redirected through."""

    kind = "ifb"
    __slots__ = ("dev", "tap")

    def __init__(self, dev: str, tap: str) -> None:
        self.dev, self.tap = dev, tap

    def describe(self) -> str:
        return f"ifb {self.dev} for {self.tap}"


class IngressRedirect(Item):
    """An ingress qdisc on ``dev`` whose one u32 filter redirects every frame to the ifb ``to``."""

    kind = "ingress_redirect"
    __slots__ = ("dev", "to")

    def __init__(self, dev: str, to: str) -> None:
        self.dev, self.to = dev, to

    def describe(self) -> str:
        return f"ingress of {self.dev} redirected to {self.to}"


# Bandwidth limits (features/qos.py, host/tc.py).
ITEM_TYPES.update({cls.kind: cls for cls in (Shaper, IfbLink, IngressRedirect)})


class Announce(Value):
    """Tell the uplink's segment where an address now lives (GARP or unsolicited NA)."""

    __slots__ = ("protocol", "address", "dev")

    def __init__(self, protocol: str, address: str, dev: str) -> None:
        self.protocol, self.address, self.dev = protocol, address, dev  # protocol: "arp" or "ndp"


class Facts(Value):
    """What the engine read from the host before planning (features stay pure)."""

    __slots__ = ("interface_exists", "interface_mac", "uplinks4", "uplinks6", "bridge_mtu", "profiles",
                 "interface_kind", "local_routes", "next_hops", "node_uplinks", "uplink_mtu",
                 "vlan_filtering", "vlan_uplinks")

    def __init__(self, interface_exists: bool = True, interface_mac: str = "", uplinks4: tuple[str, ...] = (),
                 uplinks6: tuple[str, ...] = (), bridge_mtu: int = 0,
                 profiles: tuple[str, ...] = ("protected", "limited", "unprotected"), interface_kind: str = "tap",
                 local_routes: tuple[tuple[str, str, str], ...] = (), next_hops: tuple[tuple[str, str, str], ...] = (),
                 node_uplinks: tuple[tuple[str, str], ...] = (), uplink_mtu: int = 0,
                 vlan_filtering: bool = False, vlan_uplinks: tuple[str, ...] = ()) -> None:
        self.interface_exists = interface_exists
        self.interface_mac = interface_mac
        self.uplinks4 = uplinks4  # devices of the default routes in table LINK
        self.uplinks6 = uplinks6
        self.bridge_mtu = bridge_mtu  # 0: LINK is not a bridge on this host
        self.profiles = profiles  # firewall profiles defined on this host
        # What every NIC is checked against (checks.check_against_node), read for every NIC:
        self.interface_kind = interface_kind  # Host.interface_kind of INTERFACE; '' when it does not exist
        self.local_routes = local_routes  # (address, type, device): the NIC's addresses that are the node's own
        self.next_hops = next_hops  # (gateway, device, table) of table LINK's routes (routed NICs) and main's
        self.node_uplinks = node_uplinks  # (device, table) of the default routes of LINK and of main (IPv4)
        self.uplink_mtu = uplink_mtu  # the smallest MTU of table LINK's default-route devices (0: none)
        self.vlan_filtering = vlan_filtering  # bridge LINK filters VLANs (bridged NICs with a VLAN)
        self.vlan_uplinks = vlan_uplinks  # the ports of LINK that VLAN_UPLINKS names


class Plan:
    def __init__(self) -> None:
        self.features: list[str] = []
        self.items: list[Item] = []
        self.announcements: list[Announce] = []
        self.notes: list[str] = []  # why a part was skipped
        self.derived: dict[str, str] = {}  # exported to IFUP_EXTRA_SCRIPT

    def add(self, *items: Item) -> None:
        for item in items:
            if item not in self.items:
                self.items.append(item)


def item_to_dict(item: Item) -> dict[str, Any]:
    return {"kind": item.kind, **item.as_dict()}


def item_from_dict(data: dict[str, Any]) -> Item:
    values = dict(data)
    cls = ITEM_TYPES[values.pop("kind")]
    return cls(**values)
