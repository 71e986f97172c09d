"""Host settings from /etc/default/snf-network.

The original sourced this file with bash; we parse it instead, so a stray
command in it can never run as root. The syntax is the subset of shell that
such files use: ``KEY=value`` lines, optional ``export``, single and double
quotes, backslash escapes, ``$KEY``/``${KEY}`` naming a key set earlier in the
file, and ``#`` comments.  Anything else is a one-line error.
"""

from __future__ import annotations

import os
from ipaddress import ip_address

from snf_network.checks import WORD, is_host_name, is_key, is_mac, is_multicast_mac, is_tag, is_zero_mac, shown
from snf_network.errors import ConfigError
from snf_network.shell import words

DEFAULT_PATH = "/etc/default/snf-network"
ENV_VARIABLE = "SNF_NETWORK_CONFIG"

# Keys the original snf-network read that have no use any more (its helpers are
# gone); an old file that still sets them loads without a warning.
OBSOLETE_KEYS = frozenset({"MAC2EUI64", "RUNLOCKED_OPTS", "KERBEROS_KSTART_ARGS", "DEBUGFILE"})

AUTHENTICATION_METHODS = ("plain", "bind9", "kerberos")

class Config:
    """Every setting, typed; the class attributes are the shipped defaults.

    A plain class rather than a dataclass: see snf_network/value.py for why.
    """

    # Paths we write to.
    STATE_DIR: str = "/var/lib/snf-network"
    LOGFILE: str = "/var/log/ganeti/snf-network.log"
    # Not /run/lock: that directory is world-writable (1777), and a lock file
    # anyone can create first is a lock anyone can hold.
    LOCK_FILE: str = "/run/snf-network/lock"
    NFDHCPD_STATE_DIR: str = "/var/lib/nfdhcpd"
    # Instance communication (features/communication.py): the node dnsmasq's
    # config and hosts file, rebuilt from the records (so /run is enough).
    COMMUNICATION_DIR: str = "/run/snf-network/communication"
    # Paths we read or run.
    IFUP_EXTRA_SCRIPT: str = "/etc/ganeti/ifup-extra"
    GANETI_NIC_DIR: str = "/var/run/ganeti/xen-hypervisor/nic"
    # Behaviour.
    MAC_MASK: str = "ff:ff:f0:00:00:00"
    TAP_CONSTANT_MAC: str = "cc:47:52:4e:45:54"
    LOCK_TIMEOUT: float = 60.0
    # Seconds any program we start (nft, ip, xl, ...) may take before it is killed
    # and the NIC fails: Ganeti waits for us, and a hung ip must not hang it.
    COMMAND_TIMEOUT: float = 20.0
    # What a NIC may send in an address family Ganeti gave it no address in:
    # "dhcp-only" (IPv4: only DHCP; IPv6: only link-local and DAD) or "any".
    NIC_WITHOUT_IP: str = "dhcp-only"
    # The operator's firewall profiles (added to, or replacing, the built-in ones).
    FIREWALL_PROFILES: str = "/etc/snf-network/firewall-profiles"
    # What a communication NIC may reach at 169.254.169.254 besides DHCP (the metadata daemon's port).
    COMMUNICATION_TCP_PORTS: tuple[int, ...] = (80,)
    COMMUNICATION_UDP_PORTS: tuple[int, ...] = ()
    SYSLOG: bool = True
    DEBUG: bool = False
    # Network tags.
    MAC_FILTERED_TAG: str = "private-filtered"
    NFDHCPD_TAG: str = "nfdhcpd"
    IP_LESS_ROUTED_TAG: str = "ip-less-routed"
    MASQ_TAG: str = "masq"
    PUBLIC_TAG: str = "public"
    DNS_TAG: str = "dns"
    # Network tag <QOS_TAG>:<rate>[:<burst>]: a bandwidth limit for every NIC of the network (qos.py).
    QOS_TAG: str = "qos"
    # NFQUEUE numbers nfdhcpd listens on (its config: dhcp_queue, rs_queue, ns_queue, dhcpv6_queue).
    NFDHCPD_DHCP_QUEUE: int = 42
    NFDHCPD_RS_QUEUE: int = 43
    NFDHCPD_NS_QUEUE: int = 44
    NFDHCPD_DHCPV6_QUEUE: int = 45
    # The node's DHCP responder for nfdhcpd-tagged NICs: "snf-dhcpd" (ours,
    # snf_network/dhcpd/) or "nfdhcpd" (GRNET's, fed by the queues above).
    DHCP_SERVER: str = "snf-dhcpd"
    # What snf-dhcpd tells the VMs (nfdhcpd.conf's equivalents: docs/dhcpd.md).
    DHCP_NAMESERVERS: tuple[str, ...] = ()
    DHCP_NAMESERVERS6: tuple[str, ...] = ()
    DHCP_DOMAIN: str = ""  # empty: the binding's HOSTNAME after its first dot
    DHCP_DOMAINS6: tuple[str, ...] = ()  # empty: DHCP_DOMAIN, else HOSTNAME's domain
    DHCP_LEASE_TIME: int = 604800
    DHCP_RENEWAL_TIME: int = 600
    DHCP_SERVER_IP: str = ""  # empty: the binding's GATEWAY, else the first address of its SUBNET
    DHCPD_IPV4: bool = True
    DHCPD_IPV6: bool = True
    RA_PERIOD: int = 300
    DHCPD_STATUS_FILE: str = "/run/snf-dhcpd/status"
    # Dynamic DNS.
    AUTHENTICATION_METHOD: str = "bind9"
    SERVER: str = ""
    FZONE: str = ""
    TTL: int = 300
    KEYFILE: str = ""
    KERBEROS_PRINCIPAL: str = ""
    KERBEROS_KEYTAB: str = "/etc/krb5.keytab"
    KERBEROS_TICKET: str = "/var/lib/snf-network/snf-network-kerberos.tkt"
    DNS_TIMEOUT: float = 3.0
    DNS_DEADLINE: float = 8.0
    REVERSE_ZONES: tuple[str, ...] = ()
    # Node identity for hooks: empty = decide from Ganeti's ssconf files, else the FQDN.
    NODE_NAME: str = ""
    SSCONF_DIR: str = "/var/lib/ganeti"
    # Open vSwitch (issue 11): the ovsdb socket every ovs-vsctl call uses ('': OVS's own,
    # unix:/var/run/openvswitch/db.sock), and the folder of the switches' management
    # sockets for ovs-ofctl ('': OVS's own, /var/run/openvswitch).
    OVS_DB: str = ""
    OVS_RUNDIR: str = ""
    # VLAN-aware Linux bridges: the bridge ports (uplinks) that get the VLANs of the
    # bridged NICs on their bridge, tagged; none unless the operator names them.
    VLAN_UPLINKS: tuple[str, ...] = ()
    # Switches, uplinks and bonds of the node (snf-network switch apply; docs/switches.md).
    SWITCHES_FILE: str = "/etc/snf-network/switches"
    # The NBMA overlay (docs/nbma.md): its configuration directory, and the
    # socket on which snf-nld hears the NIC programs' nudges (empty: none sent).
    NBMA_CONFIG_DIR: str = "/etc/snf-network/nbma"
    NLD_SOCKET: str = "/run/snf-network/nld.sock"
    # Keys found in the file that we do not know (warned about, never fatal).
    unknown_keys: tuple[str, ...] = ()

    def __init__(self, unknown_keys: tuple[str, ...] = (), **values: object) -> None:
        for key, value in values.items():
            if key not in _FIELDS:
                raise TypeError(f"Config has no key {key}")
            setattr(self, key, value)
        self.unknown_keys = unknown_keys

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and all(getattr(self, key) == getattr(other, key) for key in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable-by-construction: not a dict key


_FIELDS: dict[str, object] = {name: getattr(Config, name) for name in Config.__annotations__ if name.isupper()}


def load(env: dict[str, str] | None = None) -> Config:
    """Load the file named by $SNF_NETWORK_CONFIG, else the default path.

    A missing default file gives the defaults (a fresh install works); a
    missing file named explicitly is an error.
    """
    explicit = (os.environ if env is None else env).get(ENV_VARIABLE, "")
    path = explicit or DEFAULT_PATH
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return from_text(text, path)


def from_text(text: str, origin: str = "<config>") -> Config:
    values: dict[str, str] = {}
    unknown: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parsed = _parse_line(line, values, f"{origin}:{number}")
        if parsed is None:
            continue
        key, value = parsed
        if key in _FIELDS:
            values[key] = value
        elif key not in OBSOLETE_KEYS:
            unknown.append(key)
            values[key] = value  # still usable by a later $KEY
    return _build(values, tuple(unknown), origin)


def _parse_line(line: str, earlier: dict[str, str], where: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith("export "):
        stripped = stripped[len("export ") :].lstrip()
    key, sep, rest = stripped.partition("=")
    if not sep or not is_key(key):
        raise ConfigError(f"{where}: expected KEY=value, got {line.strip()!r}")
    return key, _parse_value(rest, earlier, f"{where}: {key}")


def _parse_value(text: str, earlier: dict[str, str], where: str) -> str:
    """One shell word: quotes, escapes and $KEY; a second word is an error."""
    found = words(text, where, lambda line, at: _expand(line, at, earlier, where), ConfigError)
    if len(found) > 1:
        raise ConfigError(f"{where}: unquoted space in value (quote it)")
    return found[0] if found else ""


def _expand(text: str, start: int, earlier: dict[str, str], where: str) -> tuple[str, int]:
    """``$KEY`` or ``${KEY}`` at ``start``: its value and where the text goes on."""
    braced = text.startswith("${", start)
    begin = start + 2 if braced else start + 1
    end = begin
    while end < len(text) and text[end] in WORD:
        end += 1
    name = text[begin:end]
    if braced:
        if not text.startswith("}", end):
            name = ""
        end += 1
    if not is_key(name):
        raise ConfigError(f"{where}: only $KEY and ${{KEY}} expansions are supported")
    if name in earlier:
        value = earlier[name]
    elif name in _FIELDS:
        value = str(_FIELDS[name])
    else:
        raise ConfigError(f"{where}: ${name} is not set earlier in the file")
    return value, end


def _build(values: dict[str, str], unknown: tuple[str, ...], origin: str) -> Config:
    typed: dict[str, object] = {}
    for key, raw in values.items():
        if key not in _FIELDS:
            continue
        try:
            typed[key] = _convert(key, raw)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {key}: {exc}: {shown(raw)}") from None
    return Config(unknown_keys=unknown, **typed)


_ABSOLUTE_PATHS = {"STATE_DIR", "LOCK_FILE", "NFDHCPD_STATE_DIR", "GANETI_NIC_DIR", "KERBEROS_KEYTAB",
                   "KERBEROS_TICKET", "SSCONF_DIR", "COMMUNICATION_DIR", "NBMA_CONFIG_DIR"}
_OPTIONAL_PATHS = {"LOGFILE", "IFUP_EXTRA_SCRIPT", "KEYFILE", "FIREWALL_PROFILES", "DHCPD_STATUS_FILE",
                   "SWITCHES_FILE", "NLD_SOCKET"}
_QUEUES = {"NFDHCPD_DHCP_QUEUE", "NFDHCPD_RS_QUEUE", "NFDHCPD_NS_QUEUE", "NFDHCPD_DHCPV6_QUEUE"}


def _number(raw: str, kind: type[int] | type[float]) -> int | float:
    """``kind(raw)``; its own error repeats the whole value, which _build shows once, cut."""
    try:
        return kind(raw)
    except ValueError:
        raise ValueError("not a number") from None


def _dhcpd_value(key: str, raw: str) -> object:
    """snf-dhcpd's keys (DHCP_*, DHCPD_*, RA_PERIOD)."""
    if key == "DHCP_SERVER":
        if raw not in ("snf-dhcpd", "nfdhcpd"):
            raise ValueError("expected snf-dhcpd or nfdhcpd")
        return raw
    if key in ("DHCP_NAMESERVERS", "DHCP_NAMESERVERS6", "DHCP_SERVER_IP"):
        version = 6 if key.endswith("6") else 4
        found = []
        for word in raw.replace(",", " ").split():
            try:
                address = ip_address(word)
            except ValueError:
                raise ValueError(f"{shown(word)} is not an address") from None
            if address.version != version:
                raise ValueError(f"{shown(word)} is not an IPv{version} address")
            found.append(str(address))
        if key == "DHCP_SERVER_IP":
            if len(found) > 1:
                raise ValueError("one address only")
            return found[0] if found else ""
        return tuple(found)
    if key in ("DHCP_DOMAIN", "DHCP_DOMAINS6"):
        domains = raw.replace(",", " ").split()
        for domain in domains:
            if not is_host_name(domain):
                raise ValueError(f"{shown(domain)} is not a domain name")
        if key == "DHCP_DOMAIN":
            if len(domains) > 1:
                raise ValueError("one domain only (DHCP_DOMAINS6 takes a list)")
            return domains[0].rstrip(".") if domains else ""
        return tuple(domain.rstrip(".") for domain in domains)
    if key in ("DHCP_LEASE_TIME", "DHCP_RENEWAL_TIME", "RA_PERIOD"):
        number = _number(raw, int)
        if not 0 < number < 2**31:
            raise ValueError("not a positive number of seconds")
        if key == "RA_PERIOD" and number < 4:
            raise ValueError("router advertisements come at most every 4 seconds")
        return number
    if key in ("DHCPD_IPV4", "DHCPD_IPV6"):
        if raw.lower() in ("yes", "true", "1", "on"):
            return True
        if raw.lower() in ("no", "false", "0", "off"):
            return False
        raise ValueError("expected yes or no")
    raise AssertionError(f"no conversion for {key}")  # pragma: no cover


def _convert(key: str, raw: str) -> object:
    if key in _ABSOLUTE_PATHS:
        if not raw.startswith("/") or "\n" in raw:
            raise ValueError("must be an absolute path")
        return raw
    if key in _OPTIONAL_PATHS:
        if raw and (not raw.startswith("/") or "\n" in raw):
            raise ValueError("must be empty or an absolute path")
        return raw
    if key in ("MAC_MASK", "TAP_CONSTANT_MAC"):
        mac = raw.lower()
        if not is_mac(mac):
            raise ValueError("not a MAC address like aa:bb:cc:dd:ee:ff")
        if key == "MAC_MASK" and is_zero_mac(mac):
            # Every MAC matches an all-zero mask: private-filtered would isolate nothing.
            raise ValueError("an all-zero mask puts every MAC in one network")
        if key == "TAP_CONSTANT_MAC" and is_multicast_mac(mac):
            raise ValueError("a multicast MAC cannot be a tap's address")
        if key == "TAP_CONSTANT_MAC" and is_zero_mac(mac):
            raise ValueError("an all-zero MAC cannot be a tap's address")
        return mac
    if key.endswith("_TAG"):
        if not is_tag(raw):
            raise ValueError("not a Ganeti tag")
        return raw
    if key in _QUEUES:
        number = _number(raw, int)
        if not 0 <= number <= 65535:
            raise ValueError("queue numbers go from 0 to 65535")
        return number
    if key == "TTL":
        number = _number(raw, int)
        if not 0 < number < 2**31:
            raise ValueError("not a positive number of seconds")
        return number
    if key in ("LOCK_TIMEOUT", "COMMAND_TIMEOUT", "DNS_TIMEOUT", "DNS_DEADLINE"):
        seconds = _number(raw, float)
        if not 0 < seconds <= 3600:
            raise ValueError("not a number of seconds between 0 and 3600")
        return seconds
    if key.startswith(("DHCP", "RA_")):
        return _dhcpd_value(key, raw)
    if key in ("SYSLOG", "DEBUG"):
        if raw.lower() in ("yes", "true", "1", "on"):
            return True
        if raw.lower() in ("no", "false", "0", "off", ""):
            return False
        raise ValueError("expected yes or no")
    if key == "AUTHENTICATION_METHOD":
        # Empty is the original's documented way to switch dynamic DNS off.
        if raw not in (*AUTHENTICATION_METHODS, ""):
            raise ValueError(f"unknown authentication method (use {', '.join(AUTHENTICATION_METHODS)})")
        return raw
    if key == "FZONE":
        if raw and not is_host_name(raw):
            raise ValueError("not a DNS zone name")
        return raw.rstrip(".")
    if key == "NIC_WITHOUT_IP":
        if raw not in ("dhcp-only", "any"):
            raise ValueError("expected dhcp-only or any")
        return raw
    if key == "NODE_NAME":
        if raw and not is_host_name(raw):
            raise ValueError("not a host name")
        return raw.rstrip(".").lower()
    if key == "SERVER":
        if raw and not set(raw) <= WORD | set(".:-"):
            raise ValueError("not a host name or address")
        return raw
    if key == "KERBEROS_PRINCIPAL":
        if raw and any(char.isspace() or char in "\"'\\" for char in raw):
            raise ValueError("not a Kerberos principal")
        return raw
    if key in ("COMMUNICATION_TCP_PORTS", "COMMUNICATION_UDP_PORTS"):
        ports = []
        for word in raw.replace(",", " ").split():
            if not word.isdecimal() or not word.isascii() or not 0 < int(word) < 65536:
                raise ValueError(f"{shown(word)} is not a port number (1 to 65535)")
            ports.append(int(word))
        return tuple(dict.fromkeys(ports))
    if key == "REVERSE_ZONES":
        zones = tuple(raw.replace(",", " ").split())
        for zone in zones:
            if not is_host_name(zone):
                raise ValueError(f"{shown(zone)} is not a DNS zone name")
        return tuple(zone.rstrip(".").lower() for zone in zones)
    if key == "OVS_DB":
        # An ovsdb remote as ovs-vsctl --db takes it; a plain path is a unix socket.
        if raw.startswith("/"):
            raw = "unix:" + raw
        if (raw and not (raw.startswith("unix:/") or raw.startswith(("tcp:", "ssl:")))) or "\n" in raw:
            raise ValueError("expected empty, a socket path, unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT")
        return raw
    if key == "OVS_RUNDIR":
        if raw and (not raw.startswith("/") or "\n" in raw):
            raise ValueError("must be empty or an absolute path")
        return raw.rstrip("/") or raw
    if key == "VLAN_UPLINKS":
        from snf_network.checks import interface_name
        from snf_network.errors import InputError

        uplinks = tuple(raw.replace(",", " ").split())
        for uplink in uplinks:
            try:
                interface_name(uplink, "VLAN_UPLINKS")
            except InputError:
                raise ValueError(f"{shown(uplink)} is not an interface name") from None
        return uplinks
    raise AssertionError(f"no conversion for {key}")  # pragma: no cover - every field has one
