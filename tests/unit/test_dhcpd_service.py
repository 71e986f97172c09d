"""snf-dhcpd's pieces that need no root: the inotify watch, the netlink parser, the program's errors."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

from snf_network.dhcpd import inotify
from snf_network.dhcpd.service import RTM_DELLINK, RTM_NEWLINK, link_messages
from snf_network.entry import dhcpd as entry


def test_the_watch_sees_writes_renames_both_ways_and_deletes(tmp_path: Path) -> None:
    watch = inotify.Watch(str(tmp_path))
    try:
        (tmp_path / "tap1").write_text("MAC=aa:bb:cc:dd:ee:ff\n")
        (tmp_path / ".tmp").write_text("x")
        os.rename(tmp_path / ".tmp", tmp_path / "tap2")
        os.rename(tmp_path / "tap1", tmp_path / "elsewhere")
        (tmp_path / "tap2").unlink()
        events = [(mask & (inotify.IN_CLOSE_WRITE | inotify.IN_MOVED_TO | inotify.IN_MOVED_FROM | inotify.IN_DELETE),
                   name) for mask, name in watch.events()]
    finally:
        watch.close()
    assert events == [(inotify.IN_CLOSE_WRITE, "tap1"), (inotify.IN_CLOSE_WRITE, ".tmp"),
                      (inotify.IN_MOVED_FROM, ".tmp"), (inotify.IN_MOVED_TO, "tap2"),
                      (inotify.IN_MOVED_FROM, "tap1"), (inotify.IN_MOVED_TO, "elsewhere"),
                      (inotify.IN_DELETE, "tap2")]


def test_a_missing_directory_is_an_error_not_a_silent_watch(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot watch"):
        inotify.Watch(str(tmp_path / "missing"))


def link_message(kind: int, index: int, name: str) -> bytes:
    attribute = struct.pack("HH", 4 + len(name) + 1, 3) + name.encode() + b"\0"
    attribute += b"\0" * (-len(attribute) % 4)
    other = struct.pack("HHI", 8, 4, 1500)  # IFLA_MTU
    body = struct.pack("BxHiII", 0, 1, index, 0, 0) + other + attribute
    return struct.pack("IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_link_messages_give_kind_index_and_name() -> None:
    data = link_message(RTM_NEWLINK, 7, "tap7") + link_message(RTM_DELLINK, 8, "vif8.0")
    assert link_messages(data) == [(RTM_NEWLINK, 7, "tap7"), (RTM_DELLINK, 8, "vif8.0")]
    # Truncated or nonsense input stops the parse; it never raises.
    for cut in range(len(data)):
        link_messages(data[:cut])
    assert link_messages(b"\xff" * 40) == []


def test_the_program_fails_in_one_line_and_stands_down_for_nfdhcpd(tmp_path: Path, monkeypatch, capsys) -> None:
    config = tmp_path / "snf-network.conf"
    monkeypatch.setenv("SNF_NETWORK_CONFIG", str(config))
    config.write_text("DHCP_SERVER=bogus\n")
    assert entry.main(["--foreground"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    config.write_text("DHCP_SERVER=nfdhcpd\n")
    assert entry.main(["--foreground"]) == 0
    assert "DHCP_SERVER is nfdhcpd: nothing to serve" in capsys.readouterr().err
    config.write_text(f"DHCPD_STATUS_FILE={tmp_path}/status\n")
    assert entry.main(["--dump"]) == 1
    assert "snf-dhcpd is not running" in capsys.readouterr().err


def test_node_interfaces_are_told_from_nic_interfaces(tmp_path) -> None:
    from snf_network.dhcpd.nodelinks import NodeInterfaces

    def link(name: str, flags: str = "0x1003", *extra: str, device: str = "") -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "flags").write_text(flags + "\n")
        for sub in extra:
            (tmp_path / name / sub).mkdir()
        if device:
            (tmp_path / device).mkdir()
            (tmp_path / name / "device").symlink_to(tmp_path / device)

    link("lo", "0x9")
    link("br0", "0x1003", "bridge")
    link("bond0", "0x1403", "bonding")
    link("eth0", device="virtio2")
    link("vif3.0", device="vif-3-0")
    link("tap1")
    links = NodeInterfaces(str(tmp_path))
    assert [links.why(name, -1) for name in ("lo", "br0", "bond0", "eth0")] == [
        "it is the loopback", "it is a bridge", "it is a bond", "it is a hardware device"]
    assert links.why("vif3.0", -1) == "" and links.why("tap1", -1) == ""
    assert links.why("tap1", socket.if_nametoindex("lo")) == "it holds an address of the node"  # 127.0.0.1


def test_a_binding_directory_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    from snf_network.dhcpd.service import directory_problem

    directory = tmp_path / "nfdhcpd"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    assert directory_problem(str(directory)) == ""
    directory.chmod(0o1777)  # sticky or not: anyone can add a binding
    assert "writable by everyone" in directory_problem(str(directory))
    if os.geteuid() == 0:  # a group other than root's that may write
        directory.chmod(0o775)
        os.chown(directory, 0, 4242)
        assert "writable by group 4242" in directory_problem(str(directory))
        os.chown(directory, 4242, 0)
        directory.chmod(0o755)
        assert "belongs to uid 4242" in directory_problem(str(directory))
    (tmp_path / "file").write_text("")
    assert "is not a directory" in directory_problem(str(tmp_path / "file"))
