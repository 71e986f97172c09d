"""An NBMA lab in namespaces: three nodes and an endpoint in different subnets, joined only by a router.

    router (r-a 198.51.100.1/30, r-b .5/30, r-c .9/30, r-e .13/30; forwards)
      |            |            |            |
    node a .2    node b .6    node c .10   endpoint e .14 -- out0 203.0.113.1/24 -- outside host x 203.0.113.10
    (eth0)       (eth0)       (eth0)       (eth0)

No two nodes share a LAN: the overlay (vx42, or gtun0 with the gre backend)
carries 192.0.2.0/24, table 100, between them; the endpoint holds
192.0.2.254 and routes the instances to and from the outside host. VMs are
namespaces behind a veth "tap" in a node, brought up by our real
kvm-vif-bridge as Ganeti does (ip-less-routed). Each node and the endpoint
run the real ``snf-network overlay setup`` and a real ``snf-nld``.
Used by tests/kernel/test_nbma.py and bench/nbma.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import VENV_BIN, Lab, Vm, sh

NETWORK = "192.0.2.0/24"
ENDPOINT_INTERNAL = "192.0.2.254"
OUTSIDE = "203.0.113.10"
KEY = "test-key-0123456789abcdef0123456789"
NODES = {"a": "198.51.100.2", "b": "198.51.100.6", "c": "198.51.100.10", "e": "198.51.100.14"}
ROUTER_SIDE = {"a": "198.51.100.1", "b": "198.51.100.5", "c": "198.51.100.9", "e": "198.51.100.13"}


@dataclass
class NbmaNode(Lab):
    label: str = "a"
    daemon: subprocess.Popen[str] | None = None
    servings: int = 0  # "serving" lines in the log before the last start_daemon

    @property
    def node(self) -> str:
        return f"snfnb{self.label}-{self.suffix}"

    @property
    def address(self) -> str:
        return NODES[self.label]

    @property
    def nbma_dir(self) -> Path:
        return self.workdir / "nbma"

    @property
    def socket_path(self) -> str:
        return str(self.workdir / "nld.sock")

    def snf(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """snf-network in this node, with its config."""
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "SNF_NETWORK_CONFIG":
               str(self.config_path)}
        return self.program("snf-network", env, *args, check=check)

    def start_daemon(self, wait: bool = True) -> None:
        # The log is appended to: a restarted daemon is serving once the log says so once more.
        self.servings = self.daemon_log().count("serving")
        log = open(self.workdir / "nld.log", "a")  # noqa: SIM115 - the daemon's stderr, closed with it
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "SNF_NETWORK_CONFIG":
               str(self.config_path)}
        self.daemon = subprocess.Popen(
            ["ip", "netns", "exec", self.node, str(VENV_BIN / "snf-nld"), "--foreground", "--debug"],
            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        log.close()
        if wait:
            self.wait_daemon()

    def wait_daemon(self, seconds: float = 15) -> None:
        assert self.daemon is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            # Not merely "serving" in the log: a daemon started before wrote it there. Taking that
            # for the new one's, a test signalled a daemon that had not yet set its handlers
            # (SIGHUP would kill it) or asked a control socket not yet bound.
            if self.daemon_log().count("serving") > self.servings:
                return
            if self.daemon.poll() is not None:
                raise AssertionError(f"snf-nld in {self.label} exited: {self.daemon_log()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError(f"snf-nld in {self.label} did not start: {self.daemon_log()[-2000:]}")

    def stop_daemon(self) -> int | None:
        if self.daemon is None:
            return None
        self.daemon.send_signal(signal.SIGTERM)
        try:
            status = self.daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            status = self.daemon.wait()
        self.daemon = None
        return status

    def daemon_log(self) -> str:
        path = self.workdir / "nld.log"
        return path.read_text() if path.exists() else ""

    def neighbour(self, device: str, ip: str) -> str:
        """The lladdr of ``ip`` on ``device`` ('' when there is no resolved entry)."""
        words = self.ns(self.node, "ip", "-4", "neigh", "show", ip, "dev", device).stdout.split()
        return words[words.index("lladdr") + 1] if "lladdr" in words else ""


class NbmaLab:
    def __init__(self, workdir: Path, backend: str = "vxlan", snapshot: int = 5, reconcile: int = 3) -> None:
        self.workdir = workdir
        self.backend = backend
        self.suffix = secrets.token_hex(3)
        self.nodes: dict[str, NbmaNode] = {}
        for label in NODES:
            (workdir / label).mkdir(parents=True, exist_ok=True)
            self.nodes[label] = NbmaNode(workdir / label, suffix=self.suffix, label=label)
        self.router = f"snfnbr-{self.suffix}"
        self.outside = f"snfnbx-{self.suffix}"
        self.device = "vx42" if backend == "vxlan" else "gtun0"
        self.snapshot, self.reconcile = snapshot, reconcile

    @property
    def endpoint(self) -> NbmaNode:
        return self.nodes["e"]

    def build(self) -> NbmaLab:
        first = self.nodes["a"]
        first.netns(self.router)
        first.ns(self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        key_file = self.workdir / "hmac.key"
        key_file.write_text(KEY + "\n")
        key_file.chmod(0o600)
        peers = self.workdir / "ssconf_node_primary_ips"
        peers.write_text("".join(f"{NODES[label]}\n" for label in ("a", "b", "c")))
        for label, node in self.nodes.items():
            ns = node.netns(node.node)
            sh("ip", "link", "add", f"r-{label}", "netns", self.router, "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            node.ns(self.router, "ip", "addr", "add", f"{ROUTER_SIDE[label]}/30", "dev", f"r-{label}")
            node.ns(self.router, "ip", "link", "set", f"r-{label}", "up")
            for command in (f"ip addr add {node.address}/30 dev eth0", "ip link set eth0 up",
                            f"ip route add default via {ROUTER_SIDE[label]}", "sysctl -qw net.ipv4.ip_forward=1"):
                node.ns(ns, *command.split())
            node.write_config(f"NODE_NAME=node{label}.example.org\nNBMA_CONFIG_DIR={node.nbma_dir}\n"
                              f"NLD_SOCKET={node.socket_path}\n")
            (node.nbma_dir / "overlays").mkdir(parents=True, exist_ok=True)
            (node.nbma_dir / "nbma.conf").write_text(
                f"HMAC_KEY_FILE={key_file}\nPEERS_FILE={peers}\nSNAPSHOT_INTERVAL={self.snapshot}\n"
                f"RECONCILE_INTERVAL={self.reconcile}\n")
            key = "VXLAN_VNI=42" if self.backend == "vxlan" else "GRE_KEY=1"
            (node.nbma_dir / "overlays" / "public.conf").write_text(
                f"# the original's key names where it had them\nOVERLAY_BACKEND={self.backend}\n{key}\n"
                f"INSTANCE_NETWORK={NETWORK}\nLINK=100\nENDPOINT_INTERNAL_IP={ENDPOINT_INTERNAL}\n"
                f"ENDPOINT_EXTERNAL_IP={NODES['e']}\nENDPOINT_NETDEV=out0\nNBMAROUTES=(default)\n"
                "DIRECTROUTES=(198.51.100.0/24)\n")
        e = self.endpoint
        e.netns(self.outside)
        sh("ip", "link", "add", "out0", "netns", e.node, "type", "veth", "peer", "name", "eth0", "netns",
           self.outside)
        e.ns(e.node, "ip", "addr", "add", "203.0.113.1/24", "dev", "out0")
        e.ns(e.node, "ip", "link", "set", "out0", "up")
        for command in (f"ip addr add {OUTSIDE}/24 dev eth0", "ip link set eth0 up",
                        f"ip route add {NETWORK} via 203.0.113.1"):
            e.ns(self.outside, *command.split())
        return self

    def setup_all(self) -> None:
        for node in self.nodes.values():
            node.snf("overlay", "setup")

    def start_daemons(self, seconds: float = 15) -> None:
        for node in self.nodes.values():
            node.start_daemon(wait=False)
        for node in self.nodes.values():
            node.wait_daemon(seconds)

    def vm(self, label: str, index: int, ip: str) -> Vm:
        node = self.nodes[label]
        vm = node.add_vm(index, f"aa:00:00:00:00:{index:02x}")
        self.ifup(label, vm, ip)
        node.ns(vm.name, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        node.ns(vm.name, "ip", "route", "add", "default", "via", "192.0.2.1")
        vm.ip = ip
        return vm

    def nic_env(self, label: str, vm: Vm, ip: str, **extra: str) -> dict[str, str]:
        env = self.nodes[label].ganeti_env(vm, ip=ip, tags="ip-less-routed", **extra)
        env["NETWORK_SUBNET"], env["NETWORK_GATEWAY"] = NETWORK, "192.0.2.1"
        for key in ("NETWORK_SUBNET6", "NETWORK_GATEWAY6"):
            env.pop(key, None)
        return env

    def ifup(self, label: str, vm: Vm, ip: str, **extra: str) -> None:
        node = self.nodes[label]
        node.program("kvm-vif-bridge", self.nic_env(label, vm, ip, ACTION="up", **extra))

    def ifdown(self, label: str, vm: Vm, ip: str) -> None:
        node = self.nodes[label]
        node.program("kvm-vif-bridge", self.nic_env(label, vm, ip, ACTION="down"))

    def migrate(self, vm: Vm, old: str, new: str) -> float:
        """A live migration: the VM's frames now arrive at ``new``; ifup there (post phase), ifdown on ``old``.

        Returns the time.monotonic() at which the new node's ifup had run (before the old node's ifdown)."""
        sh("ip", "-n", self.nodes[old].node, "link", "set", vm.tap, "netns", self.nodes[new].node)
        self.ifup(new, vm, vm.ip, MIGRATION_PHASE="post")
        up = time.monotonic()
        self.ifdown(old, vm, vm.ip)
        return up

    def ping(self, ns: str, address: str, count: int = 3, interval: float = 0.2, wait: float = 2) -> bool:
        return sh("ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", str(interval), "-W", str(wait),
                  address, check=False).returncode == 0

    def close(self) -> None:
        for node in self.nodes.values():
            try:
                node.stop_daemon()
            except Exception:
                pass
        for node in reversed(list(self.nodes.values())):
            node.close()
