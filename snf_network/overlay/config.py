"""NBMA_CONFIG_DIR: nbma.conf (daemon-wide) and overlays/<name>.conf (one overlay each).

The files keep the original ganeti-nbma shell-fragment syntax (``KEY=value``,
quotes, ``KEY=(a b c)`` arrays) but are parsed, never executed: ``$`` and
command syntax are one-line errors. The original's key names are accepted as
aliases (GRE_INTERFACE, GRE_BASE_NETDEV, GRE_TTL, NFLOG_QUEUE, LINK, ...).
Every overlay file is self-contained; nothing carries over between them.
"""

from __future__ import annotations

import ipaddress
import os

from snf_network.checks import interface_name, is_key
from snf_network.errors import ConfigError, InputError
from snf_network.shell import words

DEFAULT_DIR = "/etc/snf-network/nbma"

# original name -> ours
ALIASES = {
    "GRE_INTERFACE": "OVERLAY_INTERFACE",
    "GRE_BASE_NETDEV": "BASE_NETDEV",
    "GRE_TTL": "OVERLAY_TTL",
    "NFLOG_QUEUE": "NFLOG_GROUP",
    "LINK": "ROUTING_TABLE",
    "FORWARDING_GRE_ONLY": "FORWARDING_OVERLAY_ONLY",
}
ARRAYS = frozenset({"DIRECTROUTES", "NBMAROUTES", "ENDPOINTS", "PEERS"})
OVERLAY_KEYS = frozenset({
    "OVERLAY_BACKEND", "OVERLAY_INTERFACE", "GRE_KEY", "VXLAN_VNI", "VXLAN_PORT", "OVERLAY_TTL", "BASE_NETDEV",
    "LOCAL_IP", "OVERLAY_MTU", "INSTANCE_NETWORK", "ROUTING_TABLE", "ENDPOINT_INTERNAL_IP",
    "ENDPOINT_EXTERNAL_IP", "ENDPOINT_NETDEV", "ENDPOINTS", "DIRECTROUTES", "NBMAROUTES", "ROLE", "NFLOG_GROUP",
    "NEIGH_STATE", "EAGER",
})
# Accepted for compatibility with the original's files; no meaning here.
IGNORED_KEYS = frozenset({"CLUSTER_NAME", "MC_LIST_FILE", "MC_LIST_UPDATE", "MASTER_NBMA_INTERFACE"})
GLOBAL_KEYS = frozenset({
    "NLD_PORT", "NLD_BIND", "HMAC_KEY_FILE", "PEERS_FILE", "PEERS", "SNAPSHOT_INTERVAL", "RECONCILE_INTERVAL",
    "MAX_CLOCK_SKEW", "CONTROL_SOCKET", "FORWARDING_OVERLAY_ONLY", "FIREWALL", "LOCAL_IP",
})
BACKENDS = ("gre", "vxlan")


class Endpoint:
    """A gateway to the outside world: its address inside the overlay and on the underlay."""

    __slots__ = ("internal", "external", "netdev")

    def __init__(self, internal: str, external: str, netdev: str = "") -> None:
        self.internal, self.external, self.netdev = internal, external, netdev

    def __repr__(self) -> str:
        return f"Endpoint({self.internal}@{self.external})"


class Overlay:
    """One overlay: a device, an instance network, its table, its endpoints."""

    def __init__(self, name: str, values: dict[str, object]) -> None:
        self.name = name
        self.backend = str(values["OVERLAY_BACKEND"])
        self.device = str(values["OVERLAY_INTERFACE"])
        self.key = int(str(values["KEY"]))
        self.port = int(str(values.get("VXLAN_PORT", 4789)))
        self.ttl = int(str(values["OVERLAY_TTL"]))
        self.base = str(values.get("BASE_NETDEV", ""))
        self.local_ip = str(values.get("LOCAL_IP", ""))
        self.mtu = int(str(values["OVERLAY_MTU"])) if values.get("OVERLAY_MTU") else 0
        self.network = ipaddress.IPv4Network(str(values["INSTANCE_NETWORK"]))
        self.table = str(values["ROUTING_TABLE"])
        self.endpoints: list[Endpoint] = list(values.get("ENDPOINTS", []))  # type: ignore[call-overload]
        self.directroutes: list[str] = list(values.get("DIRECTROUTES", []))  # type: ignore[call-overload]
        self.nbmaroutes: list[str] = list(values.get("NBMAROUTES", []))  # type: ignore[call-overload]
        self.role = str(values.get("ROLE", "auto"))
        self.nflog_group = int(str(values.get("NFLOG_GROUP", 5)))
        self.neigh_state = str(values.get("NEIGH_STATE", "permanent"))
        self.eager = values.get("EAGER", "") == "yes"

    def is_endpoint(self, local_ips: set[str]) -> bool:
        if self.role != "auto":
            return self.role == "endpoint"
        return any(ep.external in local_ips for ep in self.endpoints)

    def endpoint_here(self, local_ips: set[str]) -> Endpoint | None:
        for ep in self.endpoints:
            if ep.external in local_ips:
                return ep
        return None


class NbmaConfig:
    """nbma.conf and every overlay."""

    def __init__(self, directory: str, values: dict[str, object], overlays: list[Overlay]) -> None:
        self.directory = directory
        self.port = int(str(values.get("NLD_PORT", 1816)))
        self.bind = str(values.get("NLD_BIND", ""))
        self.hmac_key_file = str(values.get("HMAC_KEY_FILE", os.path.join(directory, "hmac.key")))
        self.peers_file = str(values.get("PEERS_FILE", "/var/lib/ganeti/ssconf_node_primary_ips"))
        self.peers: list[str] = list(values.get("PEERS", []))  # type: ignore[call-overload]
        self.snapshot_interval = float(str(values.get("SNAPSHOT_INTERVAL", 30)))
        self.reconcile_interval = float(str(values.get("RECONCILE_INTERVAL", 60)))
        self.max_clock_skew = float(str(values.get("MAX_CLOCK_SKEW", 60)))
        self.control_socket = str(values.get("CONTROL_SOCKET", "/run/snf-network/nld.sock"))
        self.forwarding_overlay_only = values.get("FORWARDING_OVERLAY_ONLY", "yes") == "yes"
        self.firewall = str(values.get("FIREWALL", "nft"))
        self.local_ip = str(values.get("LOCAL_IP", ""))
        self.overlays = overlays

    def all_peers(self) -> list[str]:
        """Every peer we know of: the static list, the peers file, every overlay's endpoints."""
        found = list(self.peers)
        try:
            with open(self.peers_file, encoding="utf-8") as handle:
                found += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        except OSError:
            pass
        for ov in self.overlays:
            found += [ep.external for ep in ov.endpoints]
        out: list[str] = []
        for address in found:
            _ipv4(address, "peer")
            if address not in out:
                out.append(address)
        return out


def parse_fragment(text: str, origin: str) -> dict[str, str | list[str]]:
    """``KEY=value`` and ``KEY=(a b c)`` lines; anything a shell would run or expand is an error."""
    values: dict[str, str | list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{origin}:{number}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):].lstrip()
        key, sep, rest = stripped.partition("=")
        if not sep or not is_key(key):
            raise ConfigError(f"{where}: expected KEY=value, got {line.strip()[:80]!r}")
        key = ALIASES.get(key, key)
        rest = rest.strip()
        if rest.startswith("("):
            close = rest.rfind(")")
            if close < 0 or (rest[close + 1:].strip() not in ("",) and not rest[close + 1:].strip().startswith("#")):
                raise ConfigError(f"{where}: {key}: an array must be closed with ) on the same line")
            values[key] = words(rest[1:close], f"{where}: {key}", None, ConfigError)
        else:
            found = words(rest, f"{where}: {key}", None, ConfigError)
            if len(found) > 1:
                raise ConfigError(f"{where}: {key}: unquoted space in value (quote it)")
            values[key] = found[0] if found else ""
    return values


def is_interface_name(text: str) -> bool:
    try:
        interface_name(text)
    except InputError:
        return False
    return True


def _ipv4(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ConfigError(f"{what}: not an IPv4 address: {text[:60]!r}") from None


def _int(values: dict[str, object], key: str, low: int, high: int, where: str) -> None:
    if key in values and values[key] != "":
        raw = str(values[key])
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:  # "²".isdigit(), int("²") fails
            raise ConfigError(f"{where}: {key}: expected a number from {low} to {high}, got {raw[:40]!r}")


def _prefix(text: str, where: str) -> str:
    if text == "default":
        return text
    try:
        return str(ipaddress.IPv4Network(text, strict=True))
    except ValueError:
        raise ConfigError(f"{where}: not an IPv4 prefix: {text[:60]!r}") from None


def gre_available() -> bool:
    """Whether this kernel has ip_gre (loaded or loadable): the default backend then is gre."""
    if os.path.exists("/sys/module/ip_gre"):
        return True
    release = os.uname().release
    for suffix in ("ip_gre.ko", "ip_gre.ko.xz", "ip_gre.ko.zst", "ip_gre.ko.gz"):
        if os.path.exists(f"/lib/modules/{release}/kernel/net/ipv4/{suffix}"):
            return True
    return False


def build_overlay(name: str, raw: dict[str, str | list[str]], where: str,
                  default_local: str = "", gre: bool | None = None) -> Overlay:
    values: dict[str, object] = dict(raw)
    for key in list(values):
        if key not in OVERLAY_KEYS and key not in IGNORED_KEYS and key not in GLOBAL_KEYS:
            raise ConfigError(f"{where}: unknown key {key}")
        if key in ARRAYS and not isinstance(values[key], list):
            values[key] = str(values[key]).split()
        if key not in ARRAYS and isinstance(values[key], list):
            raise ConfigError(f"{where}: {key} is not an array")
    backend = str(values.get("OVERLAY_BACKEND", "") or ("gre" if (gre_available() if gre is None else gre)
                                                        else "vxlan"))
    if backend not in BACKENDS:
        raise ConfigError(f"{where}: OVERLAY_BACKEND: expected gre or vxlan, got {backend[:20]!r}")
    values["OVERLAY_BACKEND"] = backend
    _int(values, "GRE_KEY", 0, 2**32 - 1, where)
    _int(values, "VXLAN_VNI", 1, 2**24 - 1, where)
    _int(values, "VXLAN_PORT", 1, 65535, where)
    _int(values, "OVERLAY_TTL", 1, 255, where)
    _int(values, "OVERLAY_MTU", 576, 65535, where)
    _int(values, "NFLOG_GROUP", 0, 65535, where)
    key = str(values.get("GRE_KEY" if backend == "gre" else "VXLAN_VNI", "") or (1 if backend == "gre" else 42))
    values["KEY"] = key
    device = str(values.get("OVERLAY_INTERFACE", "") or ("gtun0" if backend == "gre" else f"vx{key}"))
    if not is_interface_name(device):
        raise ConfigError(f"{where}: OVERLAY_INTERFACE: not an interface name: {device[:20]!r}")
    values["OVERLAY_INTERFACE"] = device
    values["OVERLAY_TTL"] = str(values.get("OVERLAY_TTL", "") or (255 if backend == "gre" else 64))
    base = str(values.get("BASE_NETDEV", ""))
    if base and not is_interface_name(base):
        raise ConfigError(f"{where}: BASE_NETDEV: not an interface name: {base[:20]!r}")
    local = str(values.get("LOCAL_IP", "") or default_local)
    values["LOCAL_IP"] = _ipv4(local, f"{where}: LOCAL_IP") if local else ""
    network = str(values.get("INSTANCE_NETWORK", ""))
    if not network:
        raise ConfigError(f"{where}: INSTANCE_NETWORK is required")
    try:
        values["INSTANCE_NETWORK"] = str(ipaddress.IPv4Network(network, strict=True))
    except ValueError:
        raise ConfigError(f"{where}: INSTANCE_NETWORK: not an IPv4 network: {network[:60]!r}") from None
    table = str(values.get("ROUTING_TABLE", "") or "100")
    # No leading zero: ip reads 0100 as table 64 (strtoul base 0), the daemon's int() as 100.
    if table != "main" and not (table.isascii() and table.isdigit() and table[0] != "0" and int(table) < 2**32
                                and int(table) not in (253, 254, 255)):
        raise ConfigError(f"{where}: ROUTING_TABLE: expected main or a table number (decimal, no leading zero), "
                          f"got {table[:20]!r}")
    values["ROUTING_TABLE"] = table
    endpoints: list[Endpoint] = []
    ep_int, ep_ext = str(values.get("ENDPOINT_INTERNAL_IP", "")), str(values.get("ENDPOINT_EXTERNAL_IP", ""))
    netdev = str(values.get("ENDPOINT_NETDEV", ""))
    if netdev and not is_interface_name(netdev):
        raise ConfigError(f"{where}: ENDPOINT_NETDEV: not an interface name: {netdev[:20]!r}")
    if ep_int or ep_ext:
        endpoints.append(Endpoint(_ipv4(ep_int, f"{where}: ENDPOINT_INTERNAL_IP"),
                                  _ipv4(ep_ext, f"{where}: ENDPOINT_EXTERNAL_IP"), netdev))
    for item in values.get("ENDPOINTS", []):  # type: ignore[attr-defined]
        internal, sep, external = str(item).partition("@")
        if not sep:
            raise ConfigError(f"{where}: ENDPOINTS: expected INTERNAL@EXTERNAL, got {str(item)[:60]!r}")
        endpoints.append(Endpoint(_ipv4(internal, f"{where}: ENDPOINTS"), _ipv4(external, f"{where}: ENDPOINTS"),
                                  netdev))
    for ep in endpoints:
        if ipaddress.IPv4Address(ep.internal) not in ipaddress.IPv4Network(values["INSTANCE_NETWORK"]):
            raise ConfigError(f"{where}: endpoint {ep.internal} is not in INSTANCE_NETWORK")
    if len({ep.external for ep in endpoints}) != len(endpoints):
        raise ConfigError(f"{where}: an endpoint is listed twice")
    values["ENDPOINTS"] = endpoints
    values["DIRECTROUTES"] = [_prefix(p, f"{where}: DIRECTROUTES") for p in values.get("DIRECTROUTES", [])]  # type: ignore[attr-defined]
    values["NBMAROUTES"] = [_prefix(p, f"{where}: NBMAROUTES") for p in values.get("NBMAROUTES", [])]  # type: ignore[attr-defined]
    if values["NBMAROUTES"] and not endpoints:
        raise ConfigError(f"{where}: NBMAROUTES needs an endpoint")
    role = str(values.get("ROLE", "") or "auto")
    if role not in ("auto", "node", "endpoint"):
        raise ConfigError(f"{where}: ROLE: expected node or endpoint, got {role[:20]!r}")
    values["ROLE"] = role
    state = str(values.get("NEIGH_STATE", "") or "permanent")
    if state not in ("permanent", "reachable"):
        raise ConfigError(f"{where}: NEIGH_STATE: expected permanent or reachable, got {state[:20]!r}")
    values["NEIGH_STATE"] = state
    eager = str(values.get("EAGER", "") or "no")
    if eager not in ("yes", "no"):
        raise ConfigError(f"{where}: EAGER: expected yes or no")
    return Overlay(name, values)


def load(directory: str | None = None, gre: bool | None = None) -> NbmaConfig:
    """Read ``directory`` (NBMA_CONFIG_DIR); a missing nbma.conf gives the defaults."""
    directory = directory or os.environ.get("NBMA_CONFIG_DIR", "") or DEFAULT_DIR
    main_path = os.path.join(directory, "nbma.conf")
    main: dict[str, str | list[str]] = {}
    try:
        with open(main_path, encoding="utf-8") as handle:
            main = parse_fragment(handle.read(), main_path)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {main_path}: {exc}") from None
    values: dict[str, object] = {}
    for key, value in main.items():
        if key not in GLOBAL_KEYS and key not in IGNORED_KEYS:
            raise ConfigError(f"{main_path}: unknown key {key}")
        values[key] = value.split() if key in ARRAYS and isinstance(value, str) else value
    for key, low, high in (("NLD_PORT", 1, 65535), ("SNAPSHOT_INTERVAL", 1, 86400),
                           ("RECONCILE_INTERVAL", 1, 86400), ("MAX_CLOCK_SKEW", 1, 3600)):
        _int(values, key, low, high, main_path)
    for key in ("FORWARDING_OVERLAY_ONLY",):
        if str(values.get(key, "yes")) not in ("yes", "no"):
            raise ConfigError(f"{main_path}: {key}: expected yes or no")
    if str(values.get("FIREWALL", "nft")) not in ("nft", "none"):
        raise ConfigError(f"{main_path}: FIREWALL: expected nft or none")
    for key in ("HMAC_KEY_FILE", "PEERS_FILE", "CONTROL_SOCKET"):
        if key in values and not str(values[key]).startswith("/"):
            raise ConfigError(f"{main_path}: {key}: must be an absolute path")
    if values.get("NLD_BIND"):
        values["NLD_BIND"] = _ipv4(str(values["NLD_BIND"]), f"{main_path}: NLD_BIND")
    local = str(values.get("LOCAL_IP", ""))
    if local:
        _ipv4(local, f"{main_path}: LOCAL_IP")
    values["PEERS"] = [_ipv4(p, f"{main_path}: PEERS") for p in values.get("PEERS", [])]  # type: ignore[attr-defined]
    overlays: list[Overlay] = []
    folder = os.path.join(directory, "overlays")
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".conf"))
    except FileNotFoundError:
        names = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                raw = parse_fragment(handle.read(), path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        overlays.append(build_overlay(name[:-len(".conf")], raw, path, local, gre))
    seen: dict[str, str] = {}
    for ov in overlays:
        for what in (f"device {ov.device}", f"table {ov.table}", f"{ov.backend} key {ov.key}"):
            if what in seen:
                raise ConfigError(f"overlays {seen[what]} and {ov.name} both use {what}")
            seen[what] = ov.name
    return NbmaConfig(directory, values, overlays)
