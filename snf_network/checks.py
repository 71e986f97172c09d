"""The validators of every value that comes from outside: Ganeti, Xen's NIC files, the config file.

One home, so that one rule is written once: a host name, a MAC or a tag means
the same to the NIC programs, the hooks and the config file.

Plain string tests, no regular expressions: ``re`` (with the ``enum`` it
loads) would be a tenth of a NIC program's start-up. ``is_*`` answer yes or
no; the others return the value (normalised) or raise InputError with one line
``VARIABLE: what is wrong: value``, the value cut to SHOWN characters and
shown with repr(), so a newline in it can never forge a second log line.

Three levels for a NIC: what cannot be parsed (the readers of ``Fields``, the
name validators) is refused while it is read; what parses but makes no sense
for a NIC that is being set up (an IP that is the gateway, routing into the
kernel's local table) is refused by ``check_values``/``check_nic``, which
the NIC's ifup path runs before the host is touched; what only the node can
tell (an IP that is the node's own address or gateway, an INTERFACE that is
its uplink or a bridge) is refused by ``check_against_node``, on the facts
the engine read, before anything changes. Reading back our own records skips
the last two: what was applied must stay removable.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping

    from snf_network.config import Config
    from snf_network.nic import Network, Nic
    from snf_network.plan import Facts

LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = frozenset("0123456789")
WORD = LETTERS | DIGITS | {"_"}
HEX = frozenset("0123456789abcdef")

# How many characters of a bad value a message shows.
SHOWN = 64
# Ganeti's own limit is 8 NICs (constants.MAX_NICS, not configurable without
# patching Ganeti); 64 leaves room for a patched build and still stops a
# garbage count from making a hook parse millions of NICs. Indexes are below it.
MAX_NICS = 64


def shown(value: object, longest: int = SHOWN) -> str:
    """``value`` for a one-line message: repr() (no raw newline), at most ``longest`` characters of it."""
    text = str(value)
    return repr(text[:longest]) + ("..." if len(text) > longest else "")


def refused(what: str, problem: str, value: object) -> InputError:
    """The one-line error ``what: problem: value`` (raise it)."""
    return InputError(f"{what}: {problem}: {shown(value)}")


def _word(text: str, rest: frozenset[str], longest: int) -> bool:
    """Starts with a letter, digit or _, then only ``rest``; ``longest`` characters at most."""
    return 0 < len(text) <= longest and text[0] in WORD and set(text) <= rest


# Linux interface names: the characters Ganeti, Xen and KVM use (tap3, vif5.0,
# gnt.com.0) and nothing a shell, nft or a file name could misread.
_IFNAME = WORD | set(".+-")
# Routing table names and instance names.
_DOTTED = WORD | set(".-")
# Free-form Ganeti names and UUIDs: printable, no spaces, no quotes.
_NOT_IN_NAMES = frozenset("\"'\\=$`")
_LDH = LETTERS | DIGITS | {"-"}
_PROFILE_NAME = frozenset("abcdefghijklmnopqrstuvwxyz") | DIGITS | set("_-")


# Plain tests.

def is_key(text: str) -> bool:
    """A shell variable name (POSIX XBD 3.235): a letter or _, then letters, digits and _.

    The keys of the config file and of Xen NIC files.
    """
    return bool(text) and text[0] in LETTERS | {"_"} and all(char in WORD for char in text)


def is_mac(text: str, octets: int = 6) -> bool:
    """Lower-case ``aa:bb:...`` with ``octets`` octets (Ganeti writes MACs so, after lower-casing)."""
    parts = text.split(":")
    return len(parts) == octets and all(len(part) == 2 and set(part) <= HEX for part in parts)


def is_multicast_mac(mac: str) -> bool:
    """The I/G bit (IEEE 802, the low bit of the first octet): a group address, never a NIC's own."""
    return bool(int(mac[:2], 16) & 1)


def is_zero_mac(mac: str) -> bool:
    """Every octet 00: no NIC's address (and, as a mask, one that matches every MAC)."""
    return set(mac) <= {"0", ":"}


def is_tag(text: str) -> bool:
    """Ganeti's own tag syntax: ``[\\w.+*/:@-]{1,128}`` (lib/objects.py TaggableObject.ValidateTag)."""
    return 0 < len(text) <= 128 and all(char.isalnum() or char in "_.+*/:@-" for char in text)


def is_host_name(text: str) -> bool:
    """A DNS host name: LDH labels (RFC 952 as RFC 1123 section 2.1 relaxed it: may start with a digit).

    Each label 1-63 letters, digits and hyphens, no hyphen at either end;
    253 characters in all; one trailing dot allowed. The one rule for every
    DNS name we use, instance names we publish, NODE_NAME, and the zones
    FZONE and REVERSE_ZONES alike: no underscore anywhere. DNS itself allows
    ``_`` only in service labels (RFC 8552: ``_tcp``, ``_dmarc``), which are
    never names we write; and the zones we are given are where we write
    A/AAAA/PTR owners (``<instance>.<FZONE>``), which BIND's default
    ``check-names primary fail`` refuses with an underscore anywhere in
    them: such a zone would only fail later, at the server, for every NIC.
    """
    name = text[:-1] if text.endswith(".") else text
    if not 0 < len(name) <= 253:
        return False
    return all(0 < len(label) <= 63 and set(label) <= _LDH and label[0] != "-" and label[-1] != "-"
               for label in name.split("."))


def is_instance_name(text: str) -> bool:
    """A Ganeti instance name, which we use in file and log names: never a path or an option.

    Ganeti's rule (netutils.Hostname.GetNormalizedName): ``[a-z0-9._-]``
    (case-insensitive), no empty label; ``_`` is allowed there (a name
    Ganeti did not resolve, with --no-name-check), so it is here: it is the
    DNS hook that refuses it (is_host_name). We also want a letter, digit or
    ``_`` first, and 253 characters at most.
    """
    return _word(text, _DOTTED, 253) and ".." not in text


def is_vlan(text: str) -> bool:
    """Ganeti's VLAN syntax: ``N``, ``.N``, ``:N[:M...]`` or ``.N:M[...]`` (doc/network.rst), N of 1-4 digits."""
    first, *others = text.split(":")
    if first.startswith("."):
        first = first[1:]
    elif others and first:
        return False  # "N:M" is not a form Ganeti writes
    numbers = ([first] if first or not others else []) + others
    return bool(numbers) and all(0 < len(n) <= 4 and set(n) <= DIGITS for n in numbers)


def is_xen_vif(text: str) -> bool:
    """A Xen netback vif's name: ``vif<domid>.<devid>`` (Xen's vif-common.sh; ``-emu`` taps are taps)."""
    domid, dot, devid = text[3:].partition(".")
    return (text.startswith("vif") and dot == "." and domid.isdigit() and devid.isdigit()
            and domid.isascii() and devid.isascii())


def is_profile_name(text: str) -> bool:
    """A firewall profile name (FIREWALL_PROFILES ``[name]``): it becomes part of an nft chain name.

    Lower-case letters, digits, ``-`` and ``_``, a letter first, 32 at most.
    """
    return 0 < len(text) <= 32 and text[0] in LETTERS and text[0].islower() and set(text) <= _PROFILE_NAME


# Validators that return the value or raise InputError.

def interface_name(value: str, what: str = "INTERFACE") -> str:
    """A Linux interface name we may configure: at most 15 bytes (IFNAMSIZ - 1), see _IFNAME.

    Not ``lo``, and not ``all`` or ``default``: those two name directories of
    /proc/sys/net/ipv{4,6}/conf, and writing ``conf/all/proxy_arp`` would
    change every interface of the node.
    """
    if not _word(value, _IFNAME, 15) or value in (".", ".."):
        raise refused(what, "not a valid interface name", value)
    if value == "lo":
        raise refused(what, "the loopback interface is no NIC's", value)
    if value in ("all", "default"):
        raise refused(what, f"/proc/sys/net/*/conf/{value} holds settings for every interface, not one", value)
    return value


def table_name(value: str, what: str = "LINK") -> str:
    """A routing table as ``ip`` takes it: a name (rt_tables) or a number from 1 to 2**32 - 1."""
    if not _word(value, _DOTTED, 64):
        raise refused(what, "not a valid routing table", value)
    if value.isdigit() and not 0 < int(value) < 2**32:
        raise refused(what, "routing table number out of range (1 to 4294967295)", value)
    return value


def mac_address(value: str, what: str = "MAC") -> str:
    """A NIC's MAC, lower-cased: six octets, not a group (multicast) address, not all zeros."""
    mac = value.lower()
    if not is_mac(mac):
        raise refused(what, "not a MAC address", value)
    if is_multicast_mac(mac):
        raise refused(what, "a multicast MAC cannot be a NIC's address", value)
    if is_zero_mac(mac):
        raise refused(what, "an all-zero MAC cannot be a NIC's address", value)
    return mac


def mac_prefix(value: str, what: str = "NETWORK_MAC_PREFIX") -> str:
    """A network's MAC prefix (Ganeti: three octets), lower-cased; "" stays "".

    Not a multicast one (every MAC under it would be a group address) and
    not 00:00:00 (Ganeti never hands it out; an unset prefix is written empty).
    """
    prefix = value.lower()
    if not prefix:
        return ""
    if not is_mac(prefix, octets=3):
        raise refused(what, "not a MAC prefix like aa:00:01", value)
    if is_multicast_mac(prefix):
        raise refused(what, "a multicast prefix: every MAC under it would be a group address", value)
    if is_zero_mac(prefix):
        raise refused(what, "an all-zero MAC prefix", value)
    return prefix


def host_name(value: str, what: str) -> str:
    """A host or zone name (is_host_name), lower case, without a trailing dot."""
    if not is_host_name(value):
        raise refused(what, "not a valid host name", value)
    return value.rstrip(".").lower()


def nic_count(value: str, what: str = "GANETI_INSTANCE_NIC_COUNT") -> int:
    """A hook's NIC count: a decimal number from 0 to MAX_NICS."""
    if not value.isdecimal() or not value.isascii() or int(value) > MAX_NICS:
        raise refused(what, f"not a NIC count (0 to {MAX_NICS})", value)
    return int(value)


# Values that parse but make no sense for a NIC being set up.

_LINK_LOCAL6 = IPv6Network("fe80::/10")
_MULTICAST6 = IPv6Network("ff00::/8")
# ip's names and numbers (iproute2 rt_tables) of the kernel's own tables.
_LOCAL_TABLES = ("local", "255", "unspec")
_MAIN_TABLES = ("main", "254", "default", "253")


def check_values(nic: Nic, prefix: str = "") -> None:
    """Refuse addresses and tables no NIC can have; ``prefix`` is the variables' (a hook's GANETI_INSTANCE_NICn_).

    Not for Ganeti's instance-communication NICs: their network is Ganeti's,
    link-local by design (169.254.0.0/16, fe80::/10); features/communication.py
    checks what they may have.
    """
    if nic.is_communication:
        return
    network = nic.network
    if nic.ip is not None:
        _check_ip(nic.ip, network, prefix)
    if network.gateway is not None:
        _check_gateway(network.gateway, prefix + "NETWORK_GATEWAY")
    if network.gateway6 is not None:
        _check_gateway(network.gateway6, prefix + "NETWORK_GATEWAY6")
    if network.subnet6 is not None:
        _check_subnet6(network.subnet6, prefix + "NETWORK_SUBNET6")
    if nic.mode == "routed" and nic.link:
        _check_table(nic.link, prefix + "LINK")


def check_nic(nic: Nic, cfg: Config, prefix: str = "") -> None:
    """Everything check_values refuses, and what only the config can tell: the engine runs it before ifup.

    An ``ip-less-routed`` NIC's table gets the VM's host routes, and its
    default route's devices get proxy NDP entries and gratuitous ARP for the
    VM: in the node's main (or default) table that would announce the VM on
    the node's own uplink. A plain routed NIC in main is Ganeti's classic
    set-up and stays allowed.
    """
    check_values(nic, prefix)
    if nic.mode == "routed" and nic.link in _MAIN_TABLES and nic.has_tag(cfg.IP_LESS_ROUTED_TAG):
        raise refused(prefix + "LINK", f"a network tagged {cfg.IP_LESS_ROUTED_TAG} needs a routing table of its own, "
                      "not the node's main or default table", nic.link)


# What a NIC's INTERFACE may be (Host.interface_kind): a tap (KVM, and Xen's
# -emu taps of HVM domains), a Xen netback vif (checked by name, as netback
# has no link kind), or a veth (containers; our kernel tests' taps).
_NIC_KINDS = ("tap", "veth")
_KIND_NAMES = {
    "loopback": "the loopback interface",
    "bridge": "a bridge",
    "bond": "a bond",
    "team": "a team (bond)",
    "tun": "a layer-3 tun device",
    "device": "a device of its own driver (hardware)",
}


def check_against_node(nic: Nic, facts: Facts, prefix: str = "") -> None:
    """Refuse a NIC that would take what is the node's own: its addresses, its gateways, its uplinks.

    Run on what the engine read (plan.Facts, host/probe.py) before the host
    is touched. Without it a plain routed NIC whose IP is the node's gateway
    gets ``ip route replace <gateway>/32 dev <tap> table main`` and cuts the
    node off, an ip-less-routed one sends gratuitous ARP for it on the
    uplink, and ``INTERFACE=eth0`` gets the tap's MAC or a bridge master.
    A next hop reached through INTERFACE itself is allowed: that is a subnet
    routed to the VM (``via <IP> dev <tap>``), and its ifup runs again on
    every hotplug and soft reboot.
    """
    interface = nic.interface
    for device, table in facts.node_uplinks:
        if device == interface:
            raise refused(prefix + "INTERFACE", f"an uplink of this node (a default route of table {table} "
                          "goes through it)", interface)
    kind = facts.interface_kind  # '': it does not exist (ifup says so; plan notes it)
    if kind and kind not in _NIC_KINDS and not (kind == "device" and is_xen_vif(interface)):
        what = _KIND_NAMES.get(kind, f"a {kind} device")
        raise refused(prefix + "INTERFACE", f"{what}, not a VM's tap, Xen vif or veth", interface)
    if nic.is_communication:
        return  # its addresses are link-local (features/communication.py checks them)
    if nic.ip is not None:
        problem = _node_use(nic.ip, interface, facts)
        if problem:
            raise refused(prefix + "IP", problem, nic.ip)
    if nic.eui64 is not None:
        problem = _node_use(nic.eui64, interface, facts)
        if problem:
            raise refused(prefix + "MAC", f"its EUI-64 address in {prefix}NETWORK_SUBNET6, {nic.eui64}, is "
                          f"{problem}", nic.mac)


_LOCAL_NAMES = {"local": "an address of this node", "broadcast": "a broadcast address of this node's networks",
                "anycast": "an anycast address of this node"}


def _node_use(address: IPv4Address | IPv6Address, interface: str, facts: Facts) -> str:
    """What of the node's ``address`` is ('' when nothing): one of its own addresses, or a next hop of its routes."""
    for own, kind, device in facts.local_routes:
        if ip_address(own) == address:
            return _LOCAL_NAMES.get(kind, f"an address of this node ({kind})") + (f" (on {device})" if device else "")
    for hop, device, table in facts.next_hops:
        if device != interface and ip_address(hop) == address:
            through = f" through {device}" if device else ""
            return f"a next hop of this node's routes (a gateway of table {table}{through})"
    return ""


def _check_ip(ip: IPv4Address, network: Network, prefix: str) -> None:
    what = prefix + "IP"
    # Addresses that are nobody's (RFC 6890): a route to them would hijack the node's own traffic.
    if ip.is_unspecified:
        raise refused(what, "the unspecified address cannot be a NIC's", ip)
    if ip.is_loopback:
        raise refused(what, "a loopback address (127.0.0.0/8) cannot be a NIC's", ip)
    if ip.is_multicast:
        raise refused(what, "a multicast address (224.0.0.0/4) cannot be a NIC's", ip)
    if ip.is_link_local:
        raise refused(what, "a link-local address (169.254.0.0/16) cannot be a NIC's", ip)
    if ip.is_reserved:
        raise refused(what, "a reserved address (240.0.0.0/4, with 255.255.255.255) cannot be a NIC's", ip)
    if ip == network.gateway:
        raise refused(what, f"the network's gateway ({prefix}NETWORK_GATEWAY) cannot be a NIC's address", ip)
    subnet = network.subnet
    # A /31 (RFC 3021) and a /32 have no network or broadcast address.
    if subnet is not None and subnet.prefixlen <= 30:
        if ip == subnet.network_address:
            raise refused(what, f"the network address of {subnet} cannot be a NIC's", ip)
        if ip == subnet.broadcast_address:
            raise refused(what, f"the broadcast address of {subnet} cannot be a NIC's", ip)


def _check_gateway(gateway: IPv4Address | IPv6Address, what: str) -> None:
    if gateway.is_unspecified:
        raise refused(what, "the unspecified address cannot be a gateway", gateway)
    if gateway.is_loopback:
        raise refused(what, "a loopback address cannot be a gateway", gateway)
    if gateway.is_multicast:
        raise refused(what, "a multicast address cannot be a gateway", gateway)


def _check_subnet6(subnet: IPv6Network, what: str) -> None:
    # Overlaps, not contains: ::/0 or fe00::/7 would cover the range as well.
    if subnet.overlaps(_LINK_LOCAL6):
        raise refused(what, "overlaps fe80::/10: link-local addresses are every link's own, not a network's", subnet)
    if subnet.overlaps(_MULTICAST6):
        raise refused(what, "overlaps ff00::/8: multicast addresses are no NIC's", subnet)
    # A subnet holding :: or ::1 starts at one of them.
    if subnet.network_address.is_unspecified or subnet.network_address.is_loopback:
        raise refused(what, "holds the unspecified or loopback address", subnet)


def _check_table(table: str, what: str) -> None:
    # ip reads a number the C way (strtoul base 0): 0100 is table 64, 0xff is local.
    if table[:2].lower() == "0x" or (table.isdigit() and table[0] == "0"):
        raise refused(what, "ip would read this table number as octal or hex: write it in decimal", table)
    if table in _LOCAL_TABLES:
        raise refused(what, "the kernel's local (255) or unspec (0) table cannot route a NIC", table)


class Fields:
    """Reads prefixed variables; absent, empty and Ganeti's ``None`` all mean unset.

    Each reader refuses what does not parse, naming ``prefix + key``.
    """

    def __init__(self, env: Mapping[str, str], prefix: str) -> None:
        self.env = env
        self.prefix = prefix

    def text(self, key: str) -> str:
        value = self.env.get(self.prefix + key, "")
        if value == "None":  # Ganeti writes str(None) for unset values in hooks and Xen files
            return ""
        if any(ord(char) < 32 for char in value):
            raise refused(self.prefix + key, "control characters in value", value)
        return value.strip()

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise InputError(f"{self.prefix}{key}: not set")
        return value

    def name(self, key: str) -> str:
        """A Ganeti name or UUID: printable, at most 255 characters, no space or quote."""
        value = self.text(key)
        if value and (len(value) > 255 or any(char.isspace() or char in _NOT_IN_NAMES for char in value)):
            raise refused(self.prefix + key, "not a valid name", value)
        return value

    def tags(self, key: str) -> tuple[str, ...]:
        tags = tuple(dict.fromkeys(self.text(key).split()))  # drop repeats, keep order
        for tag in tags:
            if not is_tag(tag):
                raise refused(self.prefix + key, "not a Ganeti tag", tag)
        return tags

    def mac_prefix(self, key: str) -> str:
        return mac_prefix(self.text(key), self.prefix + key)

    def nic_index(self, key: str) -> int | None:
        """A NIC's position in its instance (kvm-ifup's INTERFACE_INDEX): 0 to MAX_NICS - 1."""
        value = self.text(key)
        if not value:
            return None
        if not value.isdigit() or len(value) > 4 or int(value) >= MAX_NICS:
            raise refused(self.prefix + key, f"not a NIC index (0 to {MAX_NICS - 1})", value)
        return int(value)

    def address4(self, key: str) -> IPv4Address | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv4Address(value)
        except ValueError:
            raise refused(self.prefix + key, "not an IPv4 address", value) from None

    def address6(self, key: str) -> IPv6Address | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv6Address(value)
        except ValueError:
            raise refused(self.prefix + key, "not an IPv6 address", value) from None

    def network4(self, key: str) -> IPv4Network | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return IPv4Network(value)
        except ValueError:
            raise refused(self.prefix + key, "not an IPv4 subnet", value) from None

    def network6(self, key: str) -> IPv6Network | None:
        value = self.text(key)
        if not value:
            return None
        try:
            network = ip_network(value)
        except ValueError:
            raise refused(self.prefix + key, "not an IPv6 subnet", value) from None
        if not isinstance(network, IPv6Network):
            raise refused(self.prefix + key, "not an IPv6 subnet", value)
        return network
