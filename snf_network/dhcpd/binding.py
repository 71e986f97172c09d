"""nfdhcpd's binding files: one format, one writer (features/nfdhcpd.py), two readers (nfdhcpd, snf-dhcpd).

The file is named after the interface the VM's packets come in on (the tap)
and holds ``KEY=value`` lines. GRNET's nfdhcpd reads a line with
``line.strip().split('=')[1]`` when it starts with ``KEY=``: no quotes, no
spaces around ``=``, the value ends at a second ``=``, an empty value is
unset, later lines win, and ``MTU`` goes through ``int()`` (an empty or bad
MTU discards the whole binding). ``render`` writes only what that parser
reads back unchanged; ``parse`` reads exactly like it.

Imported by the NIC programs: the standard library's ipaddress and checks.py only.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from snf_network.checks import is_mac

# The keys in the order nfdhcpd's parser tests them (and we write them).
KEYS = ("INDEV", "IP", "MAC", "HOSTNAME", "SUBNET", "GATEWAY", "SUBNET6", "GATEWAY6", "EUI64", "MTU",
        "PRIVATE", "MACSPOOF")


class BindingError(ValueError):
    pass


def is_interface_name(name: str) -> bool:
    """What the kernel accepts as an interface name (dev_valid_name): a binding's file name and INDEV
    are used in /sys paths and log lines, so '../..', newlines and the like must never get that far."""
    return (0 < len(name.encode("utf-8", "surrogateescape")) <= 15 and name not in (".", "..")
            and not any(c in "/:" or c.isspace() or not c.isprintable() for c in name))


def render(values: dict[str, str]) -> str:
    """The file's text: one line per set key; unset (empty) keys are left out, never written empty."""
    lines = []
    for key, value in values.items():
        if key not in KEYS:
            raise BindingError(f"unknown binding key {key}")
        if not value:
            continue
        if "=" in value or "\n" in value or value != value.strip():
            raise BindingError(f"{key}: nfdhcpd cannot read back {value!r}")
        lines.append(f"{key}={value}\n")
    return "".join(lines)


def parse(text: str) -> dict[str, str]:
    """The keys nfdhcpd would read from ``text`` (unset ones left out)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        for key in KEYS:
            if line.startswith(key + "="):
                value = line.strip().split("=")[1]
                if value:
                    values[key] = value
                else:
                    values.pop(key, None)
    return values


class Binding:
    """A binding file, checked: what the responder serves one interface."""

    __slots__ = ("interface", "indev", "mac", "hostname", "ip", "subnet", "gateway", "subnet6", "gateway6",
                 "mtu", "private", "macspoof")

    def __init__(self, interface: str, values: dict[str, str]) -> None:
        def address(key: str, kind: type[IPv4Address] | type[IPv6Address]) -> object:
            if key not in values:
                return None
            try:
                found = ip_address(values[key])
            except ValueError:
                raise BindingError(f"{key} is not an address: {values[key]!r}") from None
            if not isinstance(found, kind):
                raise BindingError(f"{key} is not an IPv{4 if kind is IPv4Address else 6} address")
            return found

        def network(key: str, kind: type[IPv4Network] | type[IPv6Network]) -> object:
            if key not in values:
                return None
            try:
                found = ip_network(values[key])  # strict, like IPy: host bits set is an error
            except ValueError:
                raise BindingError(f"{key} is not a network: {values[key]!r}") from None
            if not isinstance(found, kind):
                raise BindingError(f"{key} is of the wrong family")
            return found

        for key in ("MAC", "HOSTNAME"):
            if key not in values:
                raise BindingError(f"no {key}")
        mac = values["MAC"].lower()
        if not is_mac(mac):
            raise BindingError(f"MAC is not a MAC address: {values['MAC']!r}")
        self.interface = interface
        self.indev = values.get("INDEV", interface)
        for what, name in (("the file name", interface), ("INDEV", self.indev)):
            if not is_interface_name(name):
                raise BindingError(f"{what} is not an interface name: {name!r}")
        self.mac = bytes.fromhex(mac.replace(":", ""))
        self.hostname = values["HOSTNAME"]
        self.ip: IPv4Address | None = address("IP", IPv4Address)  # type: ignore[assignment]
        self.subnet: IPv4Network | None = network("SUBNET", IPv4Network)  # type: ignore[assignment]
        self.gateway: IPv4Address | None = address("GATEWAY", IPv4Address)  # type: ignore[assignment]
        self.subnet6: IPv6Network | None = network("SUBNET6", IPv6Network)  # type: ignore[assignment]
        self.gateway6: IPv6Address | None = address("GATEWAY6", IPv6Address)  # type: ignore[assignment]
        mtu = values.get("MTU")
        if mtu is not None and not (mtu.isdigit() and 68 <= int(mtu) <= 65535):
            raise BindingError(f"MTU is not a number from 68 to 65535: {mtu!r}")
        self.mtu = int(mtu) if mtu else 0
        # nfdhcpd: any non-empty value counts as set ("PRIVATE=0" too).
        self.private = "PRIVATE" in values
        self.macspoof = "MACSPOOF" in values

    @property
    def bridged(self) -> bool:
        """Replies leave through a bridge: the node is not the VM's IPv6 router there."""
        return self.indev != self.interface

    def describe(self) -> str:
        parts = [self.interface, self.mac.hex(":"), self.hostname, str(self.ip or "-"),
                 str(self.subnet6 or "-"), f"via {self.indev}" if self.bridged else "routed"]
        return " ".join(parts)


def load(interface: str, text: str) -> Binding:
    return Binding(interface, parse(text))
