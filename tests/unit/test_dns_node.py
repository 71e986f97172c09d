"""Deciding whether a node name from Ganeti is this node."""

from __future__ import annotations

import pytest

from snf_network import node
from snf_network.config import Config


@pytest.fixture
def host(monkeypatch):
    names = {"hostname": "node1", "fqdn": "node1.example.org"}
    monkeypatch.setattr(node.socket, "gethostname", lambda: names["hostname"])
    monkeypatch.setattr(node.socket, "getfqdn", lambda: names["fqdn"])
    return names


def ssconf(tmp_path, *nodes):
    (tmp_path / "ssconf_node_list").write_text("".join(f"{n}\n" for n in nodes))
    return Config(SSCONF_DIR=str(tmp_path))


def test_node_name_from_the_config_wins(host, tmp_path):
    cfg = Config(NODE_NAME="gnt-a.example.org", SSCONF_DIR=str(tmp_path))
    assert node.this_node(cfg) == "gnt-a.example.org"
    assert node.is_this_node("GNT-A.example.org.", cfg)
    assert not node.is_this_node("node1.example.org", cfg)


def test_ssconf_entry_by_short_host_name(host, tmp_path):
    cfg = ssconf(tmp_path, "node0.cluster.example.org", "node1.cluster.example.org")
    host["fqdn"] = "node1.other.example.net"  # resolver says otherwise: Ganeti's name counts
    assert node.this_node(cfg) == "node1.cluster.example.org"
    assert node.is_this_node("node1.cluster.example.org", cfg)
    assert not node.is_this_node("node1.other.example.net", cfg)


def test_ssconf_entry_by_full_host_name(host, tmp_path):
    host["hostname"] = "Node1.Example.Org"
    cfg = ssconf(tmp_path, "node1.example.org", "node1.example.net")
    assert node.this_node(cfg) == "node1.example.org"


def test_ambiguous_short_name_falls_back_to_the_fqdn(host, tmp_path):
    cfg = ssconf(tmp_path, "node1.example.org", "node1.example.net")
    host["fqdn"] = "node1.example.net"
    assert node.this_node(cfg) == "node1.example.net"


def test_no_ssconf_means_the_fqdn(host, tmp_path):
    cfg = Config(SSCONF_DIR=str(tmp_path / "absent"))
    assert node.this_node(cfg) == "node1.example.org"
    assert node.is_this_node("node1.example.org.", cfg)
    assert not node.is_this_node("", cfg)
    assert not node.is_this_node("node2.example.org", cfg)


def test_not_listed_in_ssconf_means_the_fqdn(host, tmp_path):
    cfg = ssconf(tmp_path, "node7.example.org")
    assert node.this_node(cfg) == "node1.example.org"
