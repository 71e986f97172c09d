"""A throwaway network lab in namespaces: a node, an upstream router and VMs.

Used by the kernel tests and by tools/demo.py. Everything lives in namespaces
named with a random suffix and is deleted by ``Lab.close()``, whatever
happened. Only documentation address ranges are used.

    upstream (up0: 198.51.100.1/24, 192.0.2.1/24, 2001:db8:1::1/64)
        |
    node (eth0: 198.51.100.2/24; table 100 = the routed network's uplink)
        |  tapN (the "tap": one end of a veth)
    vmN (eth0: the VM's addresses)
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
FRAMES = Path(__file__).with_name("frames.py")
TABLE = "100"
SUBNET = "192.0.2.0/24"
GATEWAY = "192.0.2.1"
SUBNET6 = "2001:db8:1::/64"
GATEWAY6 = "2001:db8:1::1"
UPSTREAM_IP = "198.51.100.1"
NODE_IP = "198.51.100.2"
# The PATH Ganeti's noded hands to kvm-ifup: its own plus /sbin:/usr/sbin.
GANETI_PATH = "/usr/local/bin:/usr/bin:/bin:/sbin:/usr/sbin"


def sh(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def node_commands(address: str, routed: bool = True) -> list[str]:
    """A node's set-up: forwarding, its uplink eth0 at ``address``, and (``routed``) table 100.

    The table's part is what an operator sets up once per routed network
    (GRNET's docs, "host prerequisites"): the uplink and default route in the
    table, traffic from the uplink looked up there, proxy ARP/NDP on it.
    """
    commands = [
        "sysctl -qw net.ipv4.ip_forward=1",
        "sysctl -qw net.ipv6.conf.all.forwarding=1",
        "sysctl -qw net.ipv6.conf.default.accept_dad=0",
        "ip link set eth0 up",
        f"ip addr add {address}/24 dev eth0",
    ]
    if routed:
        commands += [
            f"ip route add {SUBNET} dev eth0 table {TABLE}",
            f"ip route add default via {GATEWAY} dev eth0 table {TABLE}",
            f"ip rule add iif eth0 lookup {TABLE}",
            f"ip -6 route add {SUBNET6} dev eth0 table {TABLE}",
            f"ip -6 route add default via {GATEWAY6} dev eth0 table {TABLE}",
            f"ip -6 rule add iif eth0 lookup {TABLE}",
            "sysctl -qw net.ipv4.conf.eth0.proxy_arp=1",
            "sysctl -qw net.ipv6.conf.eth0.proxy_ndp=1",
            "sysctl -qw net.ipv6.neigh.eth0.proxy_delay=0",
        ]
    return commands


def can_run() -> str:
    """Why kernel tests cannot run here, or '' when they can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for program in ("ip", "nft"):
        if sh("sh", "-c", f"command -v {program}", check=False).returncode != 0:
            return f"{program} is not installed (run tools/setup.sh)"
    return ""


@dataclass
class Vm:
    name: str  # namespace
    tap: str  # node-side interface
    mac: str
    ip: str = ""


@dataclass
class Capture:
    process: subprocess.Popen[str]

    def result(self) -> str:
        output, _ = self.process.communicate(timeout=10)
        return output


@dataclass
class Sniffer:
    process: subprocess.Popen[str]
    stamped: bool = False

    def frames(self) -> list[bytes]:
        return [frame for _, frame in self.stamped_frames()]

    def stamped_frames(self) -> list[tuple[float, bytes]]:
        """(time.monotonic() when it arrived, frame): 0.0 for the time unless sniffed ``stamped``."""
        output, _ = self.process.communicate(timeout=30)
        if not self.stamped:
            return [(0.0, bytes.fromhex(line)) for line in output.split()]
        return [(float(stamp), bytes.fromhex(frame)) for stamp, frame in
                (line.split() for line in output.splitlines() if line.strip())]


@dataclass
class Lab:
    workdir: Path
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    vms: list[Vm] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"snfnode-{self.suffix}"

    @property
    def upstream(self) -> str:
        return f"snfup-{self.suffix}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "snf-network.conf"

    # -- building ---------------------------------------------------------
    def netns(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def build(self, routed: bool = True, extra_config: str = "") -> Lab:
        """The node and the upstream router, with table 100 routed through the uplink."""
        self.write_config(extra_config)
        node, up = self.netns(self.node), self.netns(self.upstream)
        sh("ip", "link", "add", "eth0", "netns", node, "type", "veth", "peer", "name", "up0", "netns", up)
        for command in (
            "ip link set up0 up",
            f"ip addr add {UPSTREAM_IP}/24 dev up0",
            f"ip addr add {GATEWAY}/24 dev up0",
            f"ip -6 addr add {GATEWAY6}/64 dev up0 nodad",
        ):
            self.ns(up, *command.split())
        self.ns(up, "sysctl", "-qw", "net.ipv6.conf.up0.accept_dad=0")
        node_setup = node_commands(NODE_IP, routed)
        for command in node_setup:
            self.ns(node, *command.split())
        return self

    def write_config(self, extra: str = "") -> None:
        # Written aside and renamed into place: a daemon reloading on SIGHUP at that
        # moment must read the old file or the new one, never a truncated one (whose
        # defaults would point it at the node's own /var/lib/nfdhcpd).
        state = self.workdir / "state"
        aside = self.config_path.with_name(self.config_path.name + ".new")
        aside.write_text(
            f"STATE_DIR={state}\n"
            f"LOCK_FILE={state}/lock\n"
            f"LOGFILE={self.workdir}/snf-network.log\n"
            f"NFDHCPD_STATE_DIR={self.workdir}/nfdhcpd\n"
            f"IFUP_EXTRA_SCRIPT={self.workdir}/ifup-extra\n"
            "SYSLOG=no\n" + extra
        )
        os.replace(aside, self.config_path)

    def add_vm(self, index: int, mac: str, tap: str | None = None) -> Vm:
        """A VM namespace whose eth0 is the peer of ``tap`` in the node."""
        vm = Vm(name=f"snfvm{index}-{self.suffix}", tap=tap or f"tap{index}", mac=mac)
        self.netns(vm.name)
        sh("ip", "link", "add", vm.tap, "netns", self.node, "type", "veth", "peer", "name", "eth0",
           "address", mac, "netns", vm.name)
        self.ns(vm.name, "ip", "link", "set", "eth0", "up")
        self.ns(vm.name, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        self.vms.append(vm)
        return vm

    # -- running ----------------------------------------------------------
    def ns(self, name: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", name, *argv, check=check)

    def ganeti_env(self, vm: Vm, ip: str | None = None, tags: str = "ip-less-routed nfdhcpd",
                   mode: str = "routed", link: str = TABLE, **extra: str) -> dict[str, str]:
        """The environment Ganeti 3.1's kvm-ifup gives kvm-vif-bridge for this VM's NIC."""
        env = {
            "PATH": GANETI_PATH,
            "LC_ALL": "C",
            "SNF_NETWORK_CONFIG": str(self.config_path),
            "INSTANCE": f"{vm.name}.example.org",
            "MAC": vm.mac,
            "MODE": mode,
            "INTERFACE": vm.tap,
            "INTERFACE_INDEX": "0",
            "INTERFACE_UUID": "4e3c2a10-0000-4000-8000-000000000001",
            "LINK": link,
            "TAGS": "",
            "NETWORK_NAME": "public",
            "NETWORK_UUID": "9b1a0000-0000-4000-8000-000000000002",
            "NETWORK_TAGS": tags,
            "NETWORK_SUBNET": SUBNET,
            "NETWORK_GATEWAY": GATEWAY,
            "NETWORK_SUBNET6": SUBNET6,
            "NETWORK_GATEWAY6": GATEWAY6,
            "NETWORK_MAC_PREFIX": vm.mac[:8],
        }
        if mode == "bridged":
            env["BRIDGE"] = link
        if ip:
            env["IP"] = ip
        env.update(extra)
        return {key: value for key, value in env.items() if value is not None}

    def program_path(self, name: str) -> Path:
        return VENV_BIN / name

    def program(self, name: str, env: dict[str, str], *args: str,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of our installed console scripts in the node, as Ganeti would."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.node, str(VENV_BIN / name), *args],
            env=env, capture_output=True, text=True, check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def configure_vm(self, vm: Vm, ip: str, eui64: str) -> None:
        """Inside the VM: what its DHCP client and SLAAC would configure."""
        vm.ip = ip
        self.ns(vm.name, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        self.ns(vm.name, "ip", "route", "add", "default", "via", GATEWAY)
        self.ns(vm.name, "ip", "-6", "addr", "add", f"{eui64}/128", "dev", "eth0", "nodad")
        self.ns(vm.name, "ip", "-6", "route", "add", "default", "via", "fe80::ce47:52ff:fe4e:4554",
                "dev", "eth0")

    def ping(self, namespace: str, address: str, source: str | None = None, count: int = 3) -> bool:
        argv = ["ping", "-c", str(count), "-i", "0.2", "-W", "2", address]
        if source:
            argv[1:1] = ["-I", source]
        return self.ns(namespace, *argv, check=False).returncode == 0

    def capture(self, namespace: str, interface: str, expression: str, seconds: float = 5) -> Capture:
        """Start tcpdump for one packet; ``result()`` waits for it (``seconds`` at most, tcpdump's start included).

        Room for a loaded machine: the packet usually comes from a program the caller starts
        after this (ping, Python), and a capture that ends first is a test that fails, or an
        absence that proves nothing."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "timeout", f"{seconds:g}", "tcpdump", "-l", "-n", "-c", "1",
             "-i", interface, expression],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        process.stderr.readline()  # "listening on ...": the capture is armed
        return Capture(process)

    def bridge(self, name: str = "br0", address: str = "") -> str:
        """A bridge in the node (with an address of the host's on it, when given)."""
        self.ns(self.node, "ip", "link", "add", name, "type", "bridge")
        self.ns(self.node, "ip", "link", "set", name, "up")
        if address:
            self.ns(self.node, "ip", "addr", "add", address, "dev", name)
        return name

    def sniff(self, namespace: str, interface: str, seconds: float = 3.0, stamped: bool = False) -> Sniffer:
        """Capture every frame ``interface`` receives for ``seconds`` (tests/frames.py).

        The window opens when the sniffer is ready, before the caller's send_frames has started
        Python in its namespace: on a loaded machine that start alone can take a second, so the
        windows leave room for it (frames that must arrive would be missed, and frames that must
        not would be "not seen" for having been sent after the window closed).

        ``stamped``: each frame with the time.monotonic() it arrived at (one clock for every namespace)."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(FRAMES), "sniff", interface, str(seconds),
             *(["stamped"] if stamped else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        assert process.stderr.readline().strip() == "ready"
        return Sniffer(process, stamped)

    def serve(self, namespace: str, *ports: int, seconds: float = 20) -> list[subprocess.Popen[str]]:
        """TCP servers answering "hello" on ``ports`` (tests/frames.py); stop them with ``stop``."""
        servers = []
        for port in ports:
            process = subprocess.Popen(
                ["ip", "netns", "exec", namespace, sys.executable, str(FRAMES), "serve", str(port), str(seconds)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            assert process.stderr is not None and process.stderr.readline().strip() == "ready"
            servers.append(process)
        return servers

    @contextmanager
    def serving(self, namespace: str, *ports: int, seconds: float = 20) -> Iterator[None]:
        """``serve`` for a ``with`` block: the servers stop at its end, whatever happened."""
        running = self.serve(namespace, *ports, seconds=seconds)
        try:
            yield
        finally:
            for process in running:
                process.kill()
                process.communicate()

    def connects(self, namespace: str, host: str, port: int) -> bool:
        result = self.ns(namespace, sys.executable, str(FRAMES), "connect", host, str(port), check=False)
        return result.returncode == 0 and "hello" in result.stdout

    def send_frames(self, namespace: str, interface: str, frames: list[bytes]) -> None:
        sh("ip", "netns", "exec", namespace, sys.executable, str(FRAMES), "send", interface,
           *(frame.hex() for frame in frames))

    # -- reading the node ---------------------------------------------------
    def node_state(self, interface: str) -> dict[str, list[str]]:
        """Everything in the node that mentions ``interface`` (or its VM's addresses)."""
        rules4 = self.ns(self.node, "ip", "-4", "rule", "show").stdout
        rules6 = self.ns(self.node, "ip", "-6", "rule", "show").stdout
        routes = self.ns(self.node, "ip", "-4", "route", "show", "table", "all").stdout
        routes += self.ns(self.node, "ip", "-6", "route", "show", "table", "all").stdout
        proxies = self.ns(self.node, "ip", "-6", "neigh", "show", "proxy").stdout
        ruleset = self.ns(self.node, "nft", "list", "ruleset", check=False).stdout
        return {
            "rules": [line for line in (rules4 + rules6).splitlines() if f"iif {interface} " in line + " "],
            "routes": [line for line in routes.splitlines() if f"dev {interface} " in line + " "],
            "proxies": proxies.splitlines(),
            "nft": [line.strip() for line in ruleset.splitlines() if f'"{interface}"' in line],
        }

    def close(self) -> None:
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check=False)
        self.namespaces.clear()


def snapshot(lab: Lab) -> dict[str, str]:
    """All of the node's state we could touch (the uplink's counters aside)."""
    out = {}
    for name, argv in {
        "rules4": ["ip", "-4", "rule"], "rules6": ["ip", "-6", "rule"],
        "routes4": ["ip", "-4", "route", "show", "table", "all"],
        "routes6": ["ip", "-6", "route", "show", "table", "all"],
        "proxies": ["ip", "-6", "neigh", "show", "proxy"],
        "links": ["ip", "-o", "link", "show"],
    }.items():
        # Routes the kernel makes itself when a link comes up are not ours.
        out[name] = "".join(line for line in lab.ns(lab.node, *argv).stdout.splitlines(keepends=True)
                            if "proto kernel" not in line)
    ruleset = lab.ns(lab.node, "nft", "list", "ruleset").stdout
    out["nft"] = "\n".join(line for line in ruleset.splitlines() if "packets" not in line)
    for tap in ("tap1", "tap2"):
        out[f"sysctl-{tap}"] = lab.ns(lab.node, "sh", "-c", f"cat /proc/sys/net/ipv4/conf/{tap}/proxy_arp "
                                      f"/proc/sys/net/ipv6/conf/{tap}/accept_ra 2>/dev/null", check=False).stdout
    files = sorted(str(path.relative_to(lab.workdir)) for path in lab.workdir.rglob("*")
                   # ruleset.counts belongs to our loaded ruleset (host/nft.py), like the tables themselves.
                   if path.is_file() and path.name not in ("snf-network.log", "lock", "ruleset.counts"))
    out["files"] = "\n".join(files)
    return out
