"""``switch apply`` against a recording host that keeps Linux bridges' state (this kernel has no VLAN filtering).

The kernel tests (tests/kernel/test_switches.py) cover what runs here; these
cover what needs VLAN filtering, and records no version of ours writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snf_network import config
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host.run import Result
from snf_network.switch import engine
from tests.unit.hosts import RecordingHost


class BridgeHost(RecordingHost):
    """Follows the ``ip link`` commands switch apply runs: bridges, masters, vlan_filtering."""

    def __init__(self) -> None:
        super().__init__()
        self.masters: dict[str, str] = {}
        self.vlans: dict[str, set[int]] = {}

    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> Result:
        result = super().run(argv, stdin, check)
        words = argv[1:]
        if argv[0] == "ip" and words[:2] == ["link", "add"] and words[3:5] == ["type", "bridge"]:
            self.add_link(words[2], bridge=True)
            self.links[words[2]]["bridge/vlan_filtering"] = "1" if "vlan_filtering" in words else "0"
        elif argv[0] == "ip" and words[:2] == ["link", "del"]:
            self.links.pop(words[2], None)
            self.bridges.discard(words[2])
        elif argv[0] == "ip" and words[:2] == ["link", "set"] and words[3:4] == ["master"]:
            self.masters[words[2]] = words[4]
        elif argv[0] == "ip" and words[:2] == ["link", "set"] and words[3:4] == ["nomaster"]:
            self.masters.pop(words[2], None)
        elif argv[0] == "ip" and words[:2] == ["link", "set"] and words[3:6] == ["type", "bridge", "vlan_filtering"]:
            self.links[words[2]]["bridge/vlan_filtering"] = words[6]
        elif argv[0] == "bridge" and words[-2:] == ["-batch", "-"]:
            for line in (stdin or "").splitlines():
                _, action, _, dev, _, vid = line.split()
                (self.vlans.setdefault(dev, set()).add if action == "add" else
                 self.vlans.setdefault(dev, set()).discard)(int(vid))
        elif argv[0] == "bridge" and words[:3] == ["-j", "vlan", "show"]:
            dev = words[-1]
            return Result(0, json.dumps([{"ifname": dev, "vlans": [{"vlan": vid} for vid in
                                                                    sorted(self.vlans.get(dev, ()))]}]), "")
        return result

    def link_master(self, dev: str) -> str:
        return self.masters.get(dev, "")

    def listdir(self, path: str) -> list[str]:
        bridge = path.split("/")[-2]
        return [dev for dev, master in self.masters.items() if master == bridge]


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return config.from_text(f"STATE_DIR={tmp_path}/state\nLOCK_FILE={tmp_path}/lock\nLOGFILE=\nSYSLOG=no\n"
                            f"SWITCHES_FILE={tmp_path}/switches\n")


def declare(cfg: Config, text: str) -> None:
    Path(cfg.SWITCHES_FILE).write_text(text)


def record(cfg: Config) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = json.loads(Path(engine.record_path(cfg)).read_text())["steps"]
    return steps


def test_vlans_added_to_a_bridge_we_made_change_it_in_place_and_it_still_goes_at_the_end(cfg: Config) -> None:
    host = BridgeHost()
    host.add_link("eth1", kind="veth")
    declare(cfg, "[br7]\ntype = linux-bridge\nuplink = eth1\n")
    engine.apply(host, cfg)
    declare(cfg, "[br7]\ntype = linux-bridge\nuplink = eth1\nvlans = 100\n")
    lines = engine.apply(host, cfg)
    assert not any("kept" in line or "removed" in line for line in lines), lines
    assert host.links["br7"]["bridge/vlan_filtering"] == "1" and host.masters["eth1"] == "br7"
    bridge = [step for step in record(cfg) if step["kind"] == "bridge"]
    assert bridge == [{"switch": "br7", "kind": "bridge", "dev": "br7", "args": ["vlan_filtering"],
                       "previous": "created"}]
    declare(cfg, "")
    engine.apply(host, cfg)
    assert "br7" not in host.links and "eth1" not in host.masters and record(cfg) == []


def test_vlans_added_to_the_operator_s_bridge_turn_filtering_off_again_when_they_go(cfg: Config) -> None:
    host = BridgeHost()
    host.add_link("br8", bridge=True)
    host.links["br8"]["bridge/vlan_filtering"] = "0"
    host.add_link("eth1", kind="veth")
    host.masters["eth1"] = "br8"
    declare(cfg, "[br8]\ntype = linux-bridge\nuplink = eth1\n")
    engine.apply(host, cfg)
    declare(cfg, "[br8]\ntype = linux-bridge\nuplink = eth1\nvlans = 100\n")
    engine.apply(host, cfg)
    assert host.links["br8"]["bridge/vlan_filtering"] == "1"
    declare(cfg, "")
    engine.apply(host, cfg)
    assert host.links["br8"]["bridge/vlan_filtering"] == "0" and host.masters["eth1"] == "br8" and "br8" in host.links


def test_every_vlan_on_an_uplink_is_a_few_processes_not_thousands(cfg: Config) -> None:
    host = BridgeHost()
    host.add_link("eth1", kind="veth")
    host.vlans["eth1"] = {1, 7}  # the kernel's default PVID, and one the operator tagged
    declare(cfg, "[br7]\ntype = linux-bridge\nuplink = eth1\nvlans = 1-4094\n")
    engine.apply(host, cfg)
    assert host.vlans["eth1"] == set(range(1, 4095)) and len(host.commands) < 20, len(host.commands)
    host.commands.clear()
    assert engine.apply(host, cfg) == ["nothing to change"] and len(host.commands) < 20
    assert all(line.startswith(("br7 (", "  ok ")) for line in engine.show(host, cfg))
    host.commands.clear()
    declare(cfg, "[br7]\ntype = linux-bridge\nuplink = eth1\nvlans = 1-100\n")
    engine.apply(host, cfg)
    assert host.vlans["eth1"] == set(range(1, 101)) and len(host.commands) < 20
    declare(cfg, "")
    engine.apply(host, cfg)
    assert host.vlans["eth1"] == {1, 7} and record(cfg) == []  # the VLANs that were there stay


@pytest.mark.parametrize(("step", "message"), [
    ({"switch": "br0", "kind": "tunnel", "dev": "br0", "args": []}, "unknown step kind 'tunnel'"),
    ({"switch": "br0", "kind": "bond", "dev": "bond0", "args": ["802.3ad"]}, "bond step with arguments"),
    ({"switch": "br0", "kind": "ovs-port", "dev": "eth1", "args": "ovs0"}, "ovs-port step with arguments"),
    ({"switch": "br0", "kind": "port", "dev": "eth1"}, "damaged ('args')"),
])
def test_a_damaged_record_is_one_line_for_apply_and_show(cfg: Config, step: dict[str, object], message: str) -> None:
    host = BridgeHost()
    declare(cfg, "[br0]\ntype = linux-bridge\n")
    Path(cfg.STATE_DIR).mkdir()
    Path(engine.record_path(cfg)).write_text(json.dumps({"steps": [step]}))
    for action in (engine.show, engine.apply):
        with pytest.raises(SnfNetworkError) as error:
            action(host, cfg)
        assert "switches.record: damaged" in str(error.value) and message in str(error.value)
        assert len(str(error.value).splitlines()) == 1
    assert host.commands == []
