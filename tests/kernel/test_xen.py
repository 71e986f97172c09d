"""vif-custom, as Xen's hotplug runs it, against the real kernel.

Xen's tools are small scripts here: ``xl``/``xm domname`` answer from a
table, ``xenstore-read``/``xenstore-write`` keep a store in files; all of them
log what they were asked, and ``xenstore-write`` also notes what the node
held at the moment it was called, so "connected is written last, once
everything is in place" can be checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kernel.two_nodes import nothing_left
from tests.lab import GATEWAY, GATEWAY6, TABLE, VENV_BIN, Lab, snapshot

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xen"
INSTANCE = "xenvm1.example.org"
MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
EUI64 = "2001:db8:1::a800:ff:fe12:3456"
EUI64_LONG = "2001:db8:1:0:a800:ff:fe12:3456"
NETBACK_MAC = "fe:ff:ff:ff:ff:ff"  # the MAC netback gives every vif
NETBACK_LL = "fe80::fcff:ffff:feff:ffff"
VIF = "vif5.0"


@dataclass
class FakeXen:
    """Xen's command-line tools, as scripts in a directory put first on PATH."""

    root: Path
    state_dir: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def calls(self) -> Path:
        return self.root / "calls"

    @property
    def seen(self) -> Path:
        return self.root / "seen-at-write"

    def install(self, domains: dict[str, str], tools: tuple[str, ...] = ("xl",)) -> FakeXen:
        self.bin.mkdir(parents=True)
        (self.root / "store").mkdir()
        (self.root / "domains").mkdir()
        for domid, name in domains.items():
            (self.root / "domains" / domid).write_text(name + "\n")
        for tool in tools:
            self._script(tool, f"""
echo "{tool} $*" >> {self.calls}
if [ "$1" = domname ] && [ -f {self.root}/domains/"$2" ]; then cat {self.root}/domains/"$2"; exit 0; fi
echo "{tool}: domain $2 does not exist" >&2; exit 1
""")
        self._script("xenstore-read", f"""
echo "xenstore-read $*" >> {self.calls}
[ -f {self.root}/store/"$1" ] || {{ echo "couldn't read path $1" >&2; exit 1; }}
cat {self.root}/store/"$1"
""")
        self._script("xenstore-write", f"""
echo "xenstore-write $*" >> {self.calls}
{{ ip rule show; ip -6 neigh show proxy; cat {self.state_dir}/*.json; }} > {self.seen} 2>&1
while [ $# -ge 2 ]; do
    mkdir -p "$(dirname {self.root}/store/"$1")"; printf %s "$2" > {self.root}/store/"$1"; shift 2
done
""")
        return self

    def _script(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text("#!/bin/sh\n" + body.lstrip())
        path.chmod(0o755)

    def set(self, path: str, value: str) -> None:
        target = self.root / "store" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value)

    def get(self, path: str) -> str | None:
        target = self.root / "store" / path
        return target.read_text() if target.exists() else None

    def call_lines(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def xen(lab: Lab) -> FakeXen:
    return FakeXen(lab.workdir / "xen", lab.workdir / "state")


def build(lab: Lab, xen: FakeXen, fixture: str = "ganeti-3.1", domains: dict[str, str] | None = None,
          tools: tuple[str, ...] = ("xl",), routed: bool = True, device: str = VIF) -> Path:
    """The node, a domain 5 whose vif is ``device``, and Ganeti's NIC file for it; returns the NIC file."""
    lab.build(routed=routed, extra_config=f"GANETI_NIC_DIR={lab.workdir}/nic\n")
    xen.install({"5": INSTANCE} if domains is None else domains, tools)
    vm = lab.add_vm(5, MAC, tap=device)
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "address", NETBACK_MAC)
    nic_file = lab.workdir / "nic" / INSTANCE / "0"
    nic_file.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / fixture, nic_file)
    return nic_file


def hotplug(lab: Lab, xen: FakeXen, command: str, device: str = VIF, type_if: str = "vif",
            **extra: str) -> subprocess.CompletedProcess[str]:
    """vif-custom as libxl runs it: ``<command> type_if=<vif|tap>`` and libxl's variables."""
    env = {
        "PATH": f"{xen.bin}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "SNF_NETWORK_CONFIG": str(lab.config_path),
        "script": "/etc/xen/scripts/vif-custom",
        "XENBUS_TYPE": "vif",
        "XENBUS_PATH": "backend/vif/5/0",
        "XENBUS_BASE_PATH": "backend",
        "netdev": "",
        "vif": VIF,
    }
    if type_if == "tap":
        env["INTERFACE"] = device
    env.update(extra)
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run(["ip", "netns", "exec", lab.node, str(VENV_BIN / "vif-custom"), command,
                           f"type_if={type_if}"], env=env, capture_output=True, text=True, timeout=60, check=False)


def link_of(lab: Lab, device: str) -> str:
    return lab.ns(lab.node, "ip", "-o", "link", "show", device).stdout


@pytest.mark.parametrize("fixture", ["ganeti-2.9", "ganeti-2.10", "ganeti-2.12", "ganeti-3.1"])
def test_online_configures_then_reports_and_offline_undoes(lab: Lab, xen: FakeXen, fixture: str) -> None:
    build(lab, xen, fixture)
    vm = lab.vms[0]
    up = hotplug(lab, xen, "online")
    assert (up.returncode, up.stderr) == (0, "")
    # Everything a routed ip-less NIC gets, on the vif...
    state = lab.node_state(VIF)
    assert state["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]
    assert any(f"{IP} dev {VIF} table {TABLE}" in route for route in state["routes"])
    assert len(state["rules"]) == 4 and state["nft"]  # lookup and unreachable, IPv4 and IPv6
    assert f"INDEV={VIF}\n" in (lab.workdir / "nfdhcpd" / VIF).read_text()
    record = json.loads((lab.workdir / "state" / f"{VIF}.json").read_text())
    assert (record["nic"]["INSTANCE"], record["nic"]["HYPERVISOR"], record["complete"]) == (INSTANCE, "xen", True)
    # ...but its MAC is netback's: Xen's, not ours to change.
    assert f"link/ether {NETBACK_MAC}" in link_of(lab, VIF)
    # Xen was asked the domain's name, and told "connected" last, when all was in place.
    calls = xen.call_lines()
    assert calls[0] == "xl domname 5"
    assert calls[-1] == "xenstore-write backend/vif/5/0/hotplug-status connected"
    assert xen.get("backend/vif/5/0/hotplug-status") == "connected"
    seen = xen.seen.read_text()
    assert f"iif {VIF} lookup {TABLE}" in seen and EUI64_LONG in seen and '"complete": true' in seen
    # The VM works, both ways, over IPv4 and IPv6 (its IPv6 router is the vif's link-local).
    lab.ns(vm.name, "ip", "addr", "add", f"{IP}/24", "dev", "eth0")
    lab.ns(vm.name, "ip", "route", "add", "default", "via", GATEWAY)
    lab.ns(vm.name, "ip", "-6", "addr", "add", f"{EUI64}/128", "dev", "eth0", "nodad")
    lab.ns(vm.name, "ip", "-6", "route", "add", "default", "via", NETBACK_LL, "dev", "eth0")
    assert lab.ping(lab.upstream, IP)
    assert lab.ping(lab.upstream, EUI64)
    assert lab.ping(vm.name, GATEWAY6)
    # offline: from the record alone (Ganeti may have removed the NIC file, Xen the domain).
    (lab.workdir / "nic" / INSTANCE / "0").unlink()
    before = len(calls)
    down = hotplug(lab, xen, "offline")
    assert (down.returncode, down.stderr) == (0, "")
    assert xen.call_lines()[before:] == []  # neither xl nor xenstore on the way down
    nothing_left(lab, VIF)
    assert hotplug(lab, xen, "offline").returncode == 0  # a second offline is harmless
    nothing_left(lab, VIF)


def test_a_nic_without_ip_gets_ipv6_only(lab: Lab, xen: FakeXen) -> None:
    build(lab, xen, "ganeti-2.9-no-ip")
    assert hotplug(lab, xen, "online").returncode == 0
    state = lab.node_state(VIF)
    assert state["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]
    assert not any(route.startswith("192.0.2.") for route in state["routes"])
    binding = (lab.workdir / "nfdhcpd" / VIF).read_text()
    assert "None" not in binding and not any(line.startswith("IP=") for line in binding.splitlines())
    assert hotplug(lab, xen, "offline").returncode == 0
    nothing_left(lab, VIF)


def test_bridged_vif_joins_the_bridge_xen_names(lab: Lab, xen: FakeXen) -> None:
    build(lab, xen, "ganeti-3.1-bridged", routed=False)
    for bridge in ("br0", "br1"):
        lab.ns(lab.node, "ip", "link", "add", bridge, "type", "bridge")
        lab.ns(lab.node, "ip", "link", "set", bridge, "up")
    lab.ns(lab.node, "ip", "addr", "add", "203.0.113.1/24", "dev", "br1")
    # The domain config said bridge=br1 (say, changed since the NIC file was written).
    xen.set("backend/vif/5/0/bridge", "br1")
    assert hotplug(lab, xen, "online").returncode == 0
    assert "master br1" in link_of(lab, VIF) and f"link/ether {NETBACK_MAC}" in link_of(lab, VIF)
    assert "xenstore-read backend/vif/5/0/bridge" in xen.call_lines()
    assert "INDEV=br1\n" in (lab.workdir / "nfdhcpd" / VIF).read_text()
    lab.ns(lab.vms[0].name, "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
    assert lab.ping(lab.vms[0].name, "203.0.113.1")
    assert hotplug(lab, xen, "offline").returncode == 0
    assert "master" not in link_of(lab, VIF)
    nothing_left(lab, VIF)


def test_without_a_bridge_in_xenstore_the_nic_files_link_is_used(lab: Lab, xen: FakeXen) -> None:
    build(lab, xen, "ganeti-3.1-bridged", routed=False)
    lab.ns(lab.node, "ip", "link", "add", "br0", "type", "bridge")
    assert hotplug(lab, xen, "online").returncode == 0
    assert "master br0" in link_of(lab, VIF)
    assert hotplug(lab, xen, "offline").returncode == 0
    nothing_left(lab, VIF)


def test_xm_when_there_is_no_xl(lab: Lab, xen: FakeXen) -> None:
    build(lab, xen, tools=("xm",))
    assert hotplug(lab, xen, "online").returncode == 0
    assert xen.call_lines()[0] == "xm domname 5"
    assert xen.get("backend/vif/5/0/hotplug-status") == "connected"
    assert hotplug(lab, xen, "offline").returncode == 0
    nothing_left(lab, VIF)


def test_an_arriving_domain_is_found_under_its_own_name(lab: Lab, xen: FakeXen) -> None:
    # xl migrate-receive names the domain "<name>--incoming" until it runs.
    build(lab, xen, domains={"5": f"{INSTANCE}--incoming"})
    assert hotplug(lab, xen, "online").returncode == 0
    record = json.loads((lab.workdir / "state" / f"{VIF}.json").read_text())
    assert record["nic"]["INSTANCE"] == INSTANCE
    assert hotplug(lab, xen, "offline").returncode == 0
    nothing_left(lab, VIF)


def test_an_hvm_emulated_tap_is_configured_by_add_and_removed_by_remove(lab: Lab, xen: FakeXen) -> None:
    tap = "vif5.0-emu"
    build(lab, xen, device=tap)
    up = hotplug(lab, xen, "add", device=tap, type_if="tap")
    assert (up.returncode, up.stderr) == (0, "")
    assert lab.node_state(tap)["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]
    # Xen waits for the netback vif's status, not the tap's (vif-bridge: success only for vif online).
    assert xen.get("backend/vif/5/0/hotplug-status") is None
    assert hotplug(lab, xen, "remove", device=tap, type_if="tap").returncode == 0
    nothing_left(lab, tap)


@pytest.mark.parametrize(
    ("change", "message", "status"),
    [
        ({"nic_file": None}, "does not exist (not written by Ganeti", 2),
        ({"nic_file": "MAC=$(reboot)\n"}, "shell expansion ($) is not allowed", 2),
        ({"nic_file": "MODE=routed\nMAC=aa:00:00:12:34:56\nLINK=no_such_table\nNETWORK_TAGS=ip-less-routed\n"},
         "routing table 'no_such_table' is unknown", 2),
        ({"domain": "../../etc"}, "domain name: not a Ganeti instance name", 2),
        ({"domain": None}, "cannot find the name of domain 5", 1),
    ],
)
def test_a_failed_online_reports_an_error_at_once_and_leaves_nothing(
        lab: Lab, xen: FakeXen, change: dict[str, str | None], message: str, status: int) -> None:
    domains = {"5": INSTANCE}
    if "domain" in change:
        domains = {} if change["domain"] is None else {"5": str(change["domain"])}
    nic_file = build(lab, xen, domains=domains)
    if "nic_file" in change:
        if change["nic_file"] is None:
            nic_file.unlink()
        else:
            nic_file.write_text(str(change["nic_file"]))
    before = snapshot(lab)
    result = hotplug(lab, xen, "online")
    assert result.returncode == status
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("vif-custom: error: "), result.stderr
    assert xen.get("backend/vif/5/0/hotplug-status") == "error"
    assert message in str(xen.get("backend/vif/5/0/hotplug-error"))
    assert xen.call_lines()[-1].startswith("xenstore-write backend/vif/5/0/hotplug-error ")
    after = snapshot(lab)
    assert {k: v for k, v in after.items() if k != "files"} == {k: v for k, v in before.items() if k != "files"}
    nothing_left(lab, VIF)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["migrate"], {}, "command: expected online, offline, add or remove"),
        ([], {}, "command: expected online, offline, add or remove"),
        (["online"], {"vif": "eth0;reboot"}, "vif: expected vif<domid>.<devid>"),
        (["online"], {"vif": None}, "vif: expected vif<domid>.<devid>"),
        (["online", "type_if=bond"], {}, "type_if: expected vif or tap"),
        (["online"], {"XENBUS_PATH": "../../etc"}, "XENBUS_PATH: expected backend/vif/<domid>/<devid>"),
    ],
)
def test_bad_calls_touch_nothing_not_even_xenstore(lab: Lab, xen: FakeXen, args: list[str],
                                                   env: dict[str, str | None], message: str) -> None:
    build(lab, xen)
    before = snapshot(lab)
    full = {"PATH": f"{xen.bin}:/usr/sbin:/usr/bin:/sbin:/bin", "SNF_NETWORK_CONFIG": str(lab.config_path),
            "XENBUS_PATH": "backend/vif/5/0", "vif": VIF, **env}
    result = subprocess.run(["ip", "netns", "exec", lab.node, str(VENV_BIN / "vif-custom"), *args],
                            env={key: value for key, value in full.items() if value is not None},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    assert xen.call_lines() == []
    after = snapshot(lab)
    assert {k: v for k, v in after.items() if k != "files"} == {k: v for k, v in before.items() if k != "files"}
    nothing_left(lab, VIF)
