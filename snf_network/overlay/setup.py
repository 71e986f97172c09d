"""Plan, apply and tear down an overlay's kernel state, idempotently.

``plan`` reads the node (links, routes, rules, neighbours, FDB, sysctls, our
nftables table) and returns only the changes still needed, as exact commands:
``--dry-run`` prints them, ``setup`` runs them, and a second ``setup`` finds
nothing to do. ``teardown_plan`` is the reverse: deleting the device takes its
routes, neighbour and FDB entries and sysctls with it; what outlives it (the
``iif`` rule, ``throw`` routes, the nftables table) is removed explicitly.

What is not ours is left alone: forwarding on devices we did not create and
net.ipv4.conf.all.* are never written (docs/nbma.md says what to set once).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from snf_network.errors import SnfNetworkError
from snf_network.host import Host
from snf_network.overlay import backends
from snf_network.overlay.config import NbmaConfig, Overlay

NFT_TABLE = "snf_nbma"
SYSCTL_ROOT = "/proc/sys/"


class Step:
    """One change: a command to run, or a sysctl to write (shown as the equivalent command)."""

    __slots__ = ("argv", "sysctl", "value", "stdin")

    def __init__(self, argv: list[str] | None = None, sysctl: str = "", value: str = "", stdin: str = "") -> None:
        self.argv, self.sysctl, self.value, self.stdin = argv, sysctl, value, stdin

    def __str__(self) -> str:
        if self.argv is None:
            return f"sysctl -w {self.sysctl.replace('/', '.')}={self.value}"
        text = " ".join(self.argv)
        return f"{text} <<EOF\n{self.stdin}EOF" if self.stdin else text

    def apply(self, host: Host) -> None:
        if self.argv is None:
            host.set_sysctl(self.sysctl, self.value)
        else:
            host.run(self.argv, self.stdin or None)


def _json(host: Host, argv: list[str]) -> list[dict[str, object]]:
    result = host.run(argv, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    loaded = json.loads(result.stdout)
    return loaded if isinstance(loaded, list) else []


def local_addresses(host: Host) -> set[str]:
    found: set[str] = set()
    for link in _json(host, ["ip", "-j", "-4", "addr", "show"]):
        for info in link.get("addr_info", []):  # type: ignore[attr-defined]
            found.add(str(info.get("local")))
    return found


def underlay(host: Host, cfg: NbmaConfig, ov: Overlay) -> tuple[str, str, int]:
    """(local IP, base device, base MTU): configured, or from the route towards the first peer."""
    local, base = ov.local_ip or cfg.local_ip, ov.base
    if not (local and base):
        if base and not local:
            for link in _json(host, ["ip", "-j", "-4", "addr", "show", "dev", base]):
                for info in link.get("addr_info", []):  # type: ignore[attr-defined]
                    local = local or str(info.get("local", ""))
        else:
            mine = local_addresses(host)
            peers = [p for p in cfg.all_peers() if p not in mine]
            if peers:
                for route in _json(host, ["ip", "-j", "route", "get", peers[0]] + (["from", local] if local else [])):
                    base = base or str(route.get("dev", ""))
                    local = local or str(route.get("prefsrc", ""))
    if not local:
        raise SnfNetworkError(f"overlay {ov.name}: no LOCAL_IP (set it, or BASE_NETDEV, or list a reachable peer)")
    mtu = 1500
    if base:
        found = _json(host, ["ip", "-j", "link", "show", "dev", base])
        if not found:
            raise SnfNetworkError(f"overlay {ov.name}: BASE_NETDEV {base} does not exist")
        mtu = int(str(found[0].get("mtu", 1500)))
    return local, base, mtu


def nft_ruleset(cfg: NbmaConfig, peers: list[str]) -> str:
    """Our table: only peers may send us encapsulated traffic or peer datagrams."""
    lines = [f"table inet {NFT_TABLE} {{"]
    body = ["  set peers4 {", "    type ipv4_addr"]
    if peers:
        body.append(f"    elements = {{ {', '.join(sorted(peers, key=ipaddress.IPv4Address))} }}")
    body += ["  }", "  chain input {", "    type filter hook input priority filter - 5; policy accept;"]
    if any(ov.backend == "gre" for ov in cfg.overlays):
        body.append("    ip protocol gre ip saddr != @peers4 counter drop")
    for port in sorted({ov.port for ov in cfg.overlays if ov.backend == "vxlan"}):
        body.append(f"    udp dport {port} ip saddr != @peers4 counter drop")
    body += [f"    udp dport {cfg.port} ip saddr != @peers4 counter drop", "  }", "}"]
    digest = hashlib.sha256("\n".join(body).encode()).hexdigest()[:16]
    return "\n".join([*lines, f'  comment "snf-network overlay {digest}"', *body]) + "\n"


def _nft_current(host: Host) -> str:
    result = host.run(["nft", "list", "table", "inet", NFT_TABLE], check=False)
    return result.stdout if result.returncode == 0 else ""


def plan(host: Host, cfg: NbmaConfig) -> list[Step]:
    """Every change still needed for every overlay (nothing when all is in place)."""
    steps: list[Step] = []
    mine = local_addresses(host)
    peers_all: set[str] = set()
    for ov in cfg.overlays:
        local, base, base_mtu = underlay(host, cfg, ov)
        peers = [p for p in cfg.all_peers() if p != local and p not in mine]
        peers_all.update(peers)
        steps += _overlay_plan(host, ov, local, base, base_mtu, peers, mine)
    if cfg.firewall == "nft" and cfg.overlays:
        wanted = nft_ruleset(cfg, sorted(peers_all))
        marker = wanted.splitlines()[1].strip()
        if marker not in _nft_current(host):
            steps.append(Step(["nft", "-f", "-"], stdin=f"table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n"
                              + wanted))
    return steps


def _overlay_plan(host: Host, ov: Overlay, local: str, base: str, base_mtu: int, peers: list[str],
                  mine: set[str]) -> list[Step]:
    steps: list[Step] = []
    dev = ov.device
    found = _json(host, ["ip", "-j", "-d", "link", "show", "dev", dev])
    link = found[0] if found else None
    if link is None:
        steps.append(Step(backends.create_command(ov, local, base)))
    else:
        problem = backends.matches(ov, link, local)
        if problem:
            raise SnfNetworkError(f"overlay {ov.name}: {problem}; run teardown first, or rename OVERLAY_INTERFACE")
    mtu = ov.mtu or base_mtu - backends.overhead(ov)
    flags: list[str] = list(link.get("flags", [])) if link else []  # type: ignore[call-overload]
    change: list[str] = []
    if ov.backend == "vxlan" and (link is None or link.get("address") != backends.mac_of(local)):
        change += ["address", backends.mac_of(local)]
    if link is None or link.get("mtu") != mtu:
        change += ["mtu", str(mtu)]
    if ov.backend == "gre" and (link is None or "NOARP" in flags):
        change += ["arp", "on"]  # resolution (and so the daemon's miss events) needs ARP on
    if link is None or "UP" not in flags:
        change.append("up")
    if change:
        steps.append(Step(["ip", "link", "set", dev, *change]))
    # The kernel asks the daemon (RTM_GETNEIGH) instead of sending ARP: app probes only.
    wanted = {f"net/ipv4/neigh/{dev}/app_solicit": "3", f"net/ipv4/neigh/{dev}/ucast_solicit": "0",
              f"net/ipv4/neigh/{dev}/mcast_solicit": "0", f"net/ipv6/conf/{dev}/disable_ipv6": "1",
              f"net/ipv4/conf/{dev}/forwarding": "1", f"net/ipv4/conf/{dev}/send_redirects": "0"}
    endpoint = ov.endpoint_here(mine) if ov.is_endpoint(mine) else None
    if endpoint is not None and endpoint.netdev:
        wanted[f"net/ipv4/conf/{endpoint.netdev}/forwarding"] = "1"
    for path, value in wanted.items():
        if link is None or host.sysctl(path) != value:
            steps.append(Step(sysctl=path, value=value))
    if ov.backend == "vxlan":
        fdb = {(str(e.get("mac")), str(e.get("dst"))) for e in _json(host, ["bridge", "-j", "fdb", "show", "dev", dev])}
        for peer in peers:
            if (backends.mac_of(peer), peer) not in fdb:
                steps.append(Step(["bridge", "fdb", "append", backends.mac_of(peer), "dev", dev, "dst", peer,
                                   "self", "permanent"]))
    if ov.is_endpoint(mine):
        steps += _endpoint_plan(host, ov, endpoint)
    else:
        steps += _node_plan(host, ov, peers)
    return steps


def _endpoint_plan(host: Host, ov: Overlay, endpoint: object) -> list[Step]:
    """An endpoint holds its internal address on the overlay; the connected route leads into it (main table)."""
    steps: list[Step] = []
    internals = [ep.internal for ep in ov.endpoints if endpoint is None or ep is endpoint]
    have = set()
    for link in _json(host, ["ip", "-j", "-4", "addr", "show", "dev", ov.device]):
        for info in link.get("addr_info", []):  # type: ignore[attr-defined]
            have.add(f"{info.get('local')}/{info.get('prefixlen')}")
    for internal in internals[:1]:
        address = f"{internal}/{ov.network.prefixlen}"
        if address not in have:
            steps.append(Step(["ip", "addr", "add", address, "dev", ov.device]))
    return steps


def _node_plan(host: Host, ov: Overlay, peers: list[str]) -> list[Step]:
    steps: list[Step] = []
    dev, table = ov.device, ov.table
    routes = _json(host, ["ip", "-j", "-4", "route", "show", "table", table])

    def has(dst: str, **want: object) -> bool:
        return any(route.get("dst") == dst and all(route.get(k) == v for k, v in want.items()) for route in routes)

    if not has(str(ov.network), dev=dev):
        steps.append(Step(["ip", "route", "replace", str(ov.network), "dev", dev, "table", table, "proto", "static"]))
    for prefix in ov.directroutes:
        if not has(prefix, type="throw"):
            steps.append(Step(["ip", "route", "replace", "throw", prefix, "table", table, "proto", "static"]))
    for prefix in ov.nbmaroutes:
        if len(ov.endpoints) == 1:
            if not has(prefix, gateway=ov.endpoints[0].internal, dev=dev):
                steps.append(Step(["ip", "route", "replace", prefix, "via", ov.endpoints[0].internal, "dev", dev,
                                   "onlink", "table", table, "proto", "static"]))
        else:
            gateways = sorted(str(hop.get("gateway")) for route in routes if route.get("dst") == prefix
                              for hop in route.get("nexthops", []))  # type: ignore[attr-defined]
            if gateways != sorted(ep.internal for ep in ov.endpoints):
                hops: list[str] = []
                for ep in ov.endpoints:
                    hops += ["nexthop", "via", ep.internal, "dev", dev, "onlink"]
                steps.append(Step(["ip", "route", "replace", prefix, "table", table, "proto", "static", *hops]))
    neighbours = {(str(n.get("dst")), str(n.get("lladdr"))): n for n in
                  _json(host, ["ip", "-j", "-4", "neigh", "show", "dev", dev])}
    for ep in ov.endpoints:
        entry = neighbours.get((ep.internal, backends.lladdr_for(ov, ep.external)))
        if entry is None or "PERMANENT" not in entry.get("state", []):  # type: ignore[operator]
            steps.append(Step(["ip", "neigh", "replace", ep.internal, "lladdr", backends.lladdr_for(ov, ep.external),
                               "dev", dev, "nud", "permanent"]))
    if table != "main":
        for selector in _rules(ov):
            if not _rules_matching(host, selector, table):
                steps.append(Step(["ip", "rule", "add", *selector, "lookup", table]))
    return steps


def _rules(ov: Overlay) -> list[list[str]]:
    """What comes out of the overlay is routed by its table; so are the node's own packets to instances:
    the ICMP "fragmentation needed" it sends a VM whose packet does not fit the overlay's MTU (without
    this rule the main table, which knows no instance, would lose it: a PMTU black hole)."""
    return [["iif", ov.device], ["to", str(ov.network), "iif", "lo"]]


def _rules_matching(host: Host, selector: list[str], table: str) -> int:
    want = dict(zip(selector[::2], selector[1::2], strict=True))
    count = 0
    for rule in _json(host, ["ip", "-j", "-4", "rule", "show", *selector]):
        dst = f"{rule.get('dst')}/{rule.get('dstlen')}" if "dst" in rule else None
        if (str(rule.get("table")) == table and rule.get("iif") == want.get("iif") and dst == want.get("to")
                and rule.get("src") == "all" and "fwmark" not in rule and "oif" not in rule):
            count += 1
    return count


def teardown_plan(host: Host, cfg: NbmaConfig) -> list[Step]:
    steps: list[Step] = []
    mine = local_addresses(host)
    if _nft_current(host):
        steps.append(Step(["nft", "delete", "table", "inet", NFT_TABLE]))
    for ov in cfg.overlays:
        if ov.table != "main" and not ov.is_endpoint(mine):
            for selector in _rules(ov):
                steps += [Step(["ip", "rule", "del", *selector, "lookup", ov.table])] * _rules_matching(
                    host, selector, ov.table)
            for route in _json(host, ["ip", "-j", "-4", "route", "show", "table", ov.table]):
                if route.get("type") == "throw" and route.get("dst") in ov.directroutes:
                    steps.append(Step(["ip", "route", "del", "throw", str(route["dst"]), "table", ov.table]))
        found = _json(host, ["ip", "-j", "-d", "link", "show", "dev", ov.device])
        if found and _ours(host, cfg, ov, found[0]):
            # Its routes, neighbour and FDB entries, addresses and sysctls go with it.
            steps.append(Step(["ip", "link", "del", ov.device]))
    return steps


def _ours(host: Host, cfg: NbmaConfig, ov: Overlay, link: dict[str, object]) -> bool:
    """Whether a device of the overlay's name is the one setup would have made: setup refuses any other, so
    teardown must never delete it (OVERLAY_INTERFACE=eth1 would otherwise take the underlay with it)."""
    try:
        local = underlay(host, cfg, ov)[0]
    except SnfNetworkError:  # the underlay is gone: judge by everything but the local address
        info = link.get("linkinfo")
        data = info.get("info_data") if isinstance(info, dict) else None
        local = str(data.get("local", "")) if isinstance(data, dict) else ""
    return backends.matches(ov, link, local) == ""


def apply(host: Host, steps: list[Step]) -> None:
    for step in steps:
        step.apply(host)
