"""The Open vSwitch backend and the VLAN keys, against a recording host (the real switch: tests/kernel)."""

from __future__ import annotations

import pytest

from snf_network import config, engine
from snf_network import nic as nic_module
from snf_network.errors import ConfigError, SnfNetworkError
from snf_network.host.ovs import BACKEND, cookie
from snf_network.host.run import Result
from snf_network.plan import OvsFlows, OvsPort
from tests.unit.hosts import RecordingHost

PORT = OvsPort("br0", "tap3", tag=100, vlan_mode="access", instance="vm1.example.org", nic="u-1",
               mac="aa:00:00:12:34:56")
GUARD = OvsFlows("br0", "tap3", cookie("tap3"), "aa:00:00:12:34:56", ip4="192.0.2.10")


class Switch(RecordingHost):
    """Answers ovs-vsctl like a switch where tap3 is already a port of br1, once."""

    def __init__(self, stderr: str = "") -> None:
        super().__init__()
        self.stderr = stderr

    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> Result:
        super().run(argv, stdin, check)
        if self.stderr and argv[0] == "ovs-vsctl" and "del-port" not in argv:
            stderr, self.stderr = self.stderr, ""
            return Result(1, "", stderr)
        return Result(0, "", "")


def test_a_port_is_one_transaction_then_its_flows() -> None:
    host = Switch()
    cfg = config.from_text("OVS_DB=/run/test/db.sock\nOVS_RUNDIR=/run/test\n")
    BACKEND.apply(host, cfg, [PORT, GUARD], [])
    [(vsctl, _), (ofctl, flows)] = host.commands
    assert vsctl[:3] == ["ovs-vsctl", "--timeout=20", "--db=unix:/run/test/db.sock"]
    assert vsctl[3:8] == ["--", "--may-exist", "add-port", "br0", "tap3"]
    assert "tag=100" in vsctl and "vlan_mode=access" in vsctl and 'external_ids:snf-network-nic="u-1"' in vsctl
    assert ofctl == ["ovs-ofctl", "--timeout=20", "add-flows", "unix:/run/test/br0.mgmt", "-"]
    assert flows.splitlines()[0].endswith('in_port="tap3",actions=drop')


def test_a_port_on_another_switch_is_deleted_and_added_in_one_transaction() -> None:
    host = Switch('ovs-vsctl: "--may-exist add-port br0 tap3" but tap3 is actually attached to bridge br1')
    BACKEND.apply(host, config.from_text(""), [PORT], [])
    retry = host.commands[1][0]
    assert retry[retry.index("--") + 1:][:4] == ["--if-exists", "del-port", "tap3", "--"]


def test_another_failure_is_one_line() -> None:
    host = Switch("ovs-vsctl: no bridge named br0")
    with pytest.raises(SnfNetworkError, match="ovs-vsctl failed: ovs-vsctl: no bridge named br0"):
        BACKEND.apply(host, config.from_text(""), [PORT], [])


def test_removal_deletes_the_flows_then_the_port_and_survives_a_switch_that_is_gone() -> None:
    class Gone(RecordingHost):
        def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> Result:
            super().run(argv, stdin, check)
            if argv[0] == "ovs-ofctl":
                return Result(1, "", "ovs-ofctl: br0 is not a bridge or a socket")
            return Result(0, "", "")

    host = Gone()
    BACKEND.apply(host, config.from_text(""), [], [PORT, GUARD])
    (ofctl, script), (vsctl, _) = host.commands
    assert ofctl[0] == "ovs-ofctl" and script.startswith(f"delete cookie={GUARD.cookie}/")
    assert vsctl[-4:] == ["--", "--if-exists", "del-port", "tap3"]


def test_an_ovs_nic_goes_through_the_engine_port_before_the_link() -> None:
    host = RecordingHost()
    host.add_link("tap3")
    cfg = config.from_text("STATE_DIR=/nonexistent-snf-test\n")
    env = {"INSTANCE": "vm1.example.org", "MAC": "aa:00:00:12:34:56", "MODE": "openvswitch", "INTERFACE": "tap3",
           "LINK": "br0", "VLAN": ":10:20", "IP": "192.0.2.10"}
    result = engine.plan(host, nic_module.from_env(env), cfg)
    assert [item.kind for item in result.items] == ["ovs_port", "ovs_flows", "link"]


@pytest.mark.parametrize(("text", "value"), [
    ("OVS_DB=/run/ovs/db.sock", "unix:/run/ovs/db.sock"), ("OVS_DB=unix:/x/db.sock", "unix:/x/db.sock"),
    ("OVS_DB=tcp:127.0.0.1:6640", "tcp:127.0.0.1:6640"), ("OVS_DB=", ""),
])
def test_ovs_db_takes_what_ovs_vsctl_takes(text: str, value: str) -> None:
    assert value == config.from_text(text).OVS_DB


@pytest.mark.parametrize(("text", "message"), [
    ("OVS_DB=db.sock", "OVS_DB: expected empty, a socket path"),
    ("OVS_RUNDIR=run", "OVS_RUNDIR: must be empty or an absolute path"),
    ("VLAN_UPLINKS='eth1 bad;name'", "VLAN_UPLINKS: 'bad;name' is not an interface name"),
])
def test_bad_ovs_and_vlan_keys_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.from_text(text)


def test_vlan_uplinks_is_a_list() -> None:
    assert config.from_text("VLAN_UPLINKS='eth1, bond0'").VLAN_UPLINKS == ("eth1", "bond0")


LIMITED = OvsPort("br0", "tap3", instance="vm1.example.org", nic="u-1", mac="aa:00:00:12:34:56", rate=20_000_000,
                  burst=65536)
# `ovs-vsctl --format=json list QoS -- list Queue`: a row of ours for tap3, one for tap9, one of someone else.
ROWS = ('{"headings":["_uuid","external_ids"],"data":[[["uuid","q-3"],["map",[["snf-network-port","tap3"]]]],'
        '[["uuid","q-9"],["map",[["snf-network-port","tap9"]]]],[["uuid","q-x"],["map",[]]]]}\n'
        '{"headings":["_uuid","external_ids"],"data":[[["uuid","u-3"],["map",[["snf-network-port","tap3"]]]]]}')


class Rows(RecordingHost):
    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> Result:
        super().run(argv, stdin, check)
        return Result(0, ROWS if "list" in argv else "", "")


@pytest.mark.parametrize(("rate", "burst", "policing"), [
    (20_000_000, 65536, (20000, 525)),  # kbit/s and kbit, the burst rounded up
    (10_000_000, 0, (10000, 2500)),  # no burst: 250 ms of the rate
    (8_000, 0, (8, 1000)),  # and never under two 64 KiB frames
    (0, 0, (0, 0)),
])
def test_ingress_policing_is_in_ovs_units(rate: int, burst: int, policing: tuple[int, int]) -> None:
    from snf_network.host.ovs import policing as columns

    assert columns(OvsPort("br0", "tap3", rate=rate, burst=burst)) == policing


def test_a_limited_port_gets_a_qos_row_and_its_old_rows_go_in_the_same_transaction() -> None:
    host = Rows()
    BACKEND.apply(host, config.from_text(""), [LIMITED], [])
    [(read, _), (vsctl, _)] = host.commands
    assert "QoS" in read and "Queue" in read
    text = " ".join(vsctl)
    assert "qos=@qos0" in text and "ingress_policing_rate=20000 ingress_policing_burst=525" in text
    assert ("--id=@qos0 create QoS type=linux-htb other_config:max-rate=20000000 queues:0=@queue0 "
            'external_ids:snf-network-port="tap3"') in text
    assert "--id=@queue0 create Queue other_config:max-rate=20000000 other_config:burst=524288" in text
    assert text.endswith("-- --if-exists destroy QoS q-3 -- --if-exists destroy Queue u-3")  # not tap9's, not q-x


def test_a_port_without_a_limit_reads_nothing_and_clears_the_columns() -> None:
    host = Rows()
    BACKEND.apply(host, config.from_text(""), [PORT], [])
    [(vsctl, _)] = host.commands
    assert "qos=[]" in vsctl and "ingress_policing_rate=0" in vsctl and "destroy" not in vsctl


def test_rows_of_a_deleted_port_go_in_the_next_transaction() -> None:
    # OVSDB checks references before it collects the deleted port's row.
    host = Rows()
    BACKEND.apply(host, config.from_text(""), [], [LIMITED])
    [(delete, _), (_read, _), (destroy, _)] = host.commands
    assert "del-port" in delete and "destroy" not in delete
    assert destroy[2:] == ["--", "--if-exists", "destroy", "QoS", "q-3", "--", "--if-exists", "destroy", "Queue", "u-3"]
    host = Rows()  # moved to another switch: the port is deleted and added again
    BACKEND.apply(host, config.from_text(""), [OvsPort("br1", "tap3", rate=10_000_000)], [LIMITED])
    [(_read, _), (move, _), (destroy, _)] = host.commands
    assert "del-port" in move and "destroy" not in move and "destroy" in destroy
