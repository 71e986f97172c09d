"""Two Ganeti nodes on one upstream LAN, for migrations; and helpers the Ganeti-facing tests share.

    upstream (br0: 198.51.100.1/24, 192.0.2.1/24, 2001:db8:1::1/64; ports upa, upb)
        |                                   |
    node A (eth0: 198.51.100.2/24)      node B (eth0: 198.51.100.3/24)
        each with table 100 = the routed network's uplink, as tests.lab builds one node

Node A is a ``tests.lab.Lab``; node B is a ``SecondNode``, the same class with
another namespace, work directory (config, records, log) and node name. The
VM namespaces belong to A's lab; a migration moves the VM's veth to B.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.lab import GATEWAY, GATEWAY6, SUBNET, SUBNET6, TABLE, UPSTREAM_IP, Lab, node_commands, sh

NODE_A = "nodea.example.org"
NODE_B = "nodeb.example.org"
# Ganeti's hook environment: cleared but for this PATH and the GANETI_* variables.
HOOK_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"


@dataclass
class SecondNode(Lab):
    @property
    def node(self) -> str:
        return f"snfnodeb-{self.suffix}"


def build_two_nodes(a: Lab, b: SecondNode, extra_config: str = "") -> None:
    """Build both nodes and the upstream LAN between them; each node gets its own NODE_NAME."""
    a.write_config(f"NODE_NAME={NODE_A}\n{extra_config}")
    b.write_config(f"NODE_NAME={NODE_B}\n{extra_config}")
    up = a.netns(a.upstream)
    a.ns(up, "ip", "link", "add", "br0", "type", "bridge")
    for command in (f"ip addr add {UPSTREAM_IP}/24 dev br0", f"ip addr add {GATEWAY}/24 dev br0",
                    f"ip -6 addr add {GATEWAY6}/64 dev br0 nodad", "ip link set br0 up"):
        a.ns(up, *command.split())
    for lab, port, address in ((a, "upa", "198.51.100.2"), (b, "upb", "198.51.100.3")):
        node = lab.netns(lab.node)
        sh("ip", "link", "add", "eth0", "netns", node, "type", "veth", "peer", "name", port, "netns", up)
        a.ns(up, "ip", "link", "set", port, "master", "br0", "up")
        for command in node_commands(address):
            lab.ns(node, *command.split())


def nothing_left(lab: Lab, interface: str, address6: str | None = None) -> None:
    """Nothing of ours for ``interface`` in the node: rules, routes, proxies, nft, binding, record.

    Proxy entries live on the uplink, not on the interface: with ``address6``
    only that address must not be proxied (other NICs may be); without, none.
    """
    state = lab.node_state(interface)
    assert state["rules"] == [], state
    assert [route for route in state["routes"] if f"table {TABLE}" in route] == [], state
    if address6 is None:
        assert state["proxies"] == [], state
    else:
        assert [line for line in state["proxies"] if line.split()[0] == address6] == [], state
    assert state["nft"] == [], state
    assert not (lab.workdir / "nfdhcpd" / interface).exists()
    assert not (lab.workdir / "state" / f"{interface}.json").exists()


def hook_env(config: Path, opcode: str, instance: str, nics: list[dict[str, str]], phase: str = "post",
             **extra: str) -> dict[str, str]:
    """What Ganeti gives an instance hook: PATH and GANETI_* only (reference: ganeti-nfdhcpd.md 3).

    Plus SNF_NETWORK_CONFIG, which Ganeti never passes: in production the hook
    reads /etc/default/snf-network; the tests point it at the lab's config.
    """
    hpath = {"OP_INSTANCE_MIGRATE": "instance-migrate", "OP_INSTANCE_FAILOVER": "instance-failover",
             "OP_INSTANCE_SHUTDOWN": "instance-stop", "OP_INSTANCE_REMOVE": "instance-remove",
             "OP_INSTANCE_STARTUP": "instance-start"}.get(opcode, "instance-modify")
    env = {
        "PATH": HOOK_PATH,
        "SNF_NETWORK_CONFIG": str(config),
        "GANETI_HOOKS_VERSION": "2",
        "GANETI_HOOKS_PHASE": phase,
        "GANETI_HOOKS_PATH": hpath,
        "GANETI_OP_CODE": opcode,
        "GANETI_OBJECT_TYPE": "INSTANCE",
        "GANETI_CLUSTER": "cluster.example.org",
        "GANETI_MASTER": NODE_A,
        "GANETI_DATA_DIR": "/var/lib/ganeti",
        "GANETI_OP_TARGET": instance,
        "GANETI_INSTANCE_NAME": instance,
        "GANETI_INSTANCE_PRIMARY": NODE_A,
        "GANETI_INSTANCE_SECONDARIES": "",
        "GANETI_INSTANCE_OS_TYPE": "debootstrap+default",
        "GANETI_INSTANCE_STATUS": "up",
        "GANETI_INSTANCE_HYPERVISOR": "kvm",
        "GANETI_INSTANCE_TAGS": "",
        "GANETI_INSTANCE_NIC_COUNT": str(len(nics)),
        "GANETI_INSTANCE_DISK_COUNT": "0",
    }
    for index, nic in enumerate(nics):
        env.update({f"GANETI_INSTANCE_NIC{index}_{key}": value for key, value in nic.items()})
    env.update(extra)
    if phase == "post":
        # The post phase repeats every value as GANETI_POST_* (rebuilt after the operation).
        env.update({"GANETI_POST_" + key[len("GANETI_"):]: value for key, value in list(env.items())
                    if key.startswith(("GANETI_INSTANCE_", "GANETI_OLD_", "GANETI_NEW_"))})
    return env


def hook_nic(mac: str, ip: str = "", tags: str = "ip-less-routed nfdhcpd") -> dict[str, str]:
    """One NIC as BuildInstanceHookEnv writes it (without the GANETI_INSTANCE_NIC<n>_ prefix)."""
    return {"NAME": "eth0", "UUID": "4e3c2a10-0000-4000-8000-000000000001", "IP": ip, "MAC": mac,
            "MODE": "routed", "LINK": TABLE, "VLAN": "", "NETWORK_NAME": "public",
            "NETWORK_UUID": "9b1a0000-0000-4000-8000-000000000002", "NETWORK_TAGS": tags,
            "NETWORK_SUBNET": SUBNET, "NETWORK_GATEWAY": GATEWAY, "NETWORK_SUBNET6": SUBNET6,
            "NETWORK_GATEWAY6": GATEWAY6, "NETWORK_MAC_PREFIX": mac[:8]}


def run_hook(lab: Lab, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed snf-network-hook in ``lab``'s node, as Ganeti runs hooks: cwd /, no stdin."""
    from tests.lab import VENV_BIN

    return subprocess.run(["ip", "netns", "exec", lab.node, str(VENV_BIN / "snf-network-hook")],
                          env=env, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, check=False)
