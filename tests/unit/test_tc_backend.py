"""The tc backend against a recording host: batches, order, which failures matter, and the rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from snf_network import config, engine
from snf_network.errors import SnfNetworkError
from snf_network.host import tc
from snf_network.host.run import Result
from snf_network.nic import Nic
from snf_network.plan import IfbLink, IngressRedirect, Shaper
from tests.unit.hosts import RecordingHost

ITEMS = [Shaper("tap3", 20_000_000), IfbLink("ifbtap3", "tap3"), Shaper("ifbtap3", 20_000_000),
         IngressRedirect("tap3", "ifbtap3")]


def test_a_limit_is_one_ip_batch_for_the_ifb_then_one_tc_batch() -> None:
    host = RecordingHost()
    tc.BACKEND.apply(host, config.from_text(""), ITEMS, [])
    assert [argv[0] for argv, _ in host.commands] == ["ip", "tc"]
    links, shapers = host.commands[0][1], host.commands[1][1]
    assert links == "link add ifbtap3 txqueuelen 1000 type ifb\nlink set dev ifbtap3 up\n"
    assert "class add dev tap3 parent 1: classid 1:1 htb rate 20000000bit ceil 20000000bit" in shapers
    assert shapers.index("qdisc add dev ifbtap3") < shapers.index("redirect dev ifbtap3")


def test_removal_takes_the_qdiscs_then_the_ifb_and_tolerates_what_is_gone() -> None:
    host = RecordingHost()
    tc.BACKEND.apply(host, config.from_text(""), [], ITEMS)
    assert [stdin for _, stdin in host.commands] == [
        "qdisc del dev tap3 ingress\nqdisc del dev tap3 root\nqdisc del dev ifbtap3 root\n",
        "link del dev ifbtap3\n"]
    # Every removal line may fail (the tap went with its VM): no error.
    host.run = lambda argv, stdin=None, check=True: Result(  # type: ignore[method-assign]
        1, "", "Cannot find device \"tap3\"\nCommand failed -:1\nCannot find device \"tap3\"\nCommand failed -:2\n")
    tc.BACKEND.apply(host, config.from_text(""), [], ITEMS[:1] + ITEMS[3:])


def test_a_failed_addition_is_one_line_naming_the_tc_command() -> None:
    host = RecordingHost()
    host.run = lambda argv, stdin=None, check=True: Result(  # type: ignore[method-assign]
        2, "", "Error: Specified qdisc kind is unknown.\nCommand failed -:2\n")
    with pytest.raises(SnfNetworkError, match="tc qdisc add dev tap3 root handle 1: htb default 1: Error"):
        tc.BACKEND.apply(host, config.from_text(""), ITEMS[:1], [])


def test_a_device_of_the_ifb_s_name_that_is_no_ifb_is_never_taken(tmp_path: Path) -> None:
    host = RecordingHost()
    host.add_link("ifbtap3", kind="veth")
    with pytest.raises(SnfNetworkError, match="ifbtap3 exists and is a veth, not the ifb of tap3"):
        tc.BACKEND.prepare(host, ITEMS, [])
    host.links["ifbtap3"]["kind"] = "ifb"  # an ifb no record of ours lists: someone else's, never taken
    with pytest.raises(SnfNetworkError, match="ifbtap3 exists and no record of ours lists it"):
        tc.BACKEND.prepare(host, ITEMS, [])
    # Our record lists it (a crashed or earlier ifup of this tap, whose record is saved first): taken.
    assert tc.BACKEND.prepare(host, ITEMS, [IfbLink("ifbtap3", "tap3")]) == ITEMS


def test_a_failing_shaper_undoes_the_whole_nic(tmp_path: Path) -> None:
    cfg = config.from_text(f"STATE_DIR={tmp_path}/state\nLOCK_FILE={tmp_path}/lock\nLOGFILE=\n"
                           f"NFDHCPD_STATE_DIR={tmp_path}/nfdhcpd\n")
    host = RecordingHost()
    host.add_link("tap3")
    host.add_link("br0", bridge=True)
    nic = Nic("vm1.example.org", "aa:00:00:12:34:56", "bridged", interface="tap3", link="br0", index=0,
              tags=("snf-network:qos:0:20mbit",))
    host.fail_when = lambda argv, stdin: argv[0] == "tc" and "class add" in stdin
    with pytest.raises(SnfNetworkError):
        engine.ifup(host, nic, cfg)
    undo = [stdin for argv, stdin in host.commands if argv[0] == "tc"][-1]
    assert "qdisc del dev tap3 ingress" in undo and "qdisc del dev ifbtap3 root" in undo
    assert any(argv[0] == "ip" and stdin == "link del dev ifbtap3\n" for argv, stdin in host.commands)
    assert not (tmp_path / "state" / "tap3.json").exists()
