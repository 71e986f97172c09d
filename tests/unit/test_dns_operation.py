"""What a hook environment asks of DNS; every bad value is an InputError before anything is sent."""

from __future__ import annotations

import pytest

from snf_network.dns.operation import CREATE, MODIFY, REMOVE, RENAME, from_hook_env, kind_of
from snf_network.errors import InputError


def env(opcode="OP_INSTANCE_CREATE", name="web1", count="1", **extra):
    values = {
        "GANETI_OP_CODE": opcode,
        "GANETI_INSTANCE_NAME": name,
        "GANETI_INSTANCE_NIC_COUNT": count,
        "GANETI_INSTANCE_NIC0_MAC": "aa:00:00:11:22:33",
        "GANETI_INSTANCE_NIC0_MODE": "routed",
        "GANETI_INSTANCE_NIC0_IP": "192.0.2.10",
        "GANETI_INSTANCE_NIC0_NETWORK_TAGS": "dns",
    }
    values.update(extra)
    return {key: value for key, value in values.items() if value is not None}


@pytest.mark.parametrize(("opcode", "kind"), [
    ("OP_INSTANCE_CREATE", CREATE), ("OP_INSTANCE_SET_PARAMS", MODIFY), ("OP_INSTANCE_RENAME", RENAME),
    ("OP_INSTANCE_REMOVE", REMOVE), ("OP_INSTANCE_STARTUP", None), ("OP_INSTANCE_MIGRATE", None), ("", None),
])
def test_kinds(opcode, kind):
    assert kind_of({"GANETI_OP_CODE": opcode}) == kind


def test_create_and_modify_keep_the_name():
    for opcode in ("OP_INSTANCE_CREATE", "OP_INSTANCE_SET_PARAMS"):
        op = from_hook_env(env(opcode, name="Web1"))
        assert (op.instance, op.target, op.gone) == ("web1", "web1", ())
        assert [str(nic.ip) for nic in op.nics] == ["192.0.2.10"]


def test_rename_and_remove():
    op = from_hook_env(env("OP_INSTANCE_RENAME", GANETI_INSTANCE_NEW_NAME="web2"))
    assert (op.instance, op.new_name, op.target, op.gone) == ("web1", "web2", "web2", ("web1",))
    same = from_hook_env(env("OP_INSTANCE_RENAME", GANETI_INSTANCE_NEW_NAME="WEB1"))
    assert same.gone == ()
    op = from_hook_env(env("OP_INSTANCE_REMOVE"))
    assert (op.target, op.gone) == (None, ("web1",))


def test_no_nics():
    assert from_hook_env(env(count="0")).nics == ()


@pytest.mark.parametrize(("changes", "message"), [
    ({"count": "two"}, "GANETI_INSTANCE_NIC_COUNT: not a NIC count"),
    ({"count": None}, "GANETI_INSTANCE_NIC_COUNT: not a NIC count"),
    ({"count": "-1"}, "GANETI_INSTANCE_NIC_COUNT"),
    ({"count": "1e3"}, "GANETI_INSTANCE_NIC_COUNT"),
    ({"count": "٣"}, "GANETI_INSTANCE_NIC_COUNT"),  # a digit, but not ASCII
    ({"count": "65"}, "GANETI_INSTANCE_NIC_COUNT"),
    ({"count": "2"}, "GANETI_INSTANCE_NIC1_MODE: not set"),
    ({"GANETI_INSTANCE_NIC0_MAC": None}, "GANETI_INSTANCE_NIC0_MAC: not set"),
    ({"GANETI_INSTANCE_NIC0_MAC": "aa:00:00:11:22"}, "NIC0_MAC: not a MAC"),
    ({"GANETI_INSTANCE_NIC0_IP": "192.0.2.300"}, "NIC0_IP: not an IPv4 address"),
    ({"GANETI_INSTANCE_NIC0_NETWORK_SUBNET6": "2001:db8::/129"}, "NIC0_NETWORK_SUBNET6"),
    ({"name": "web 1"}, "GANETI_INSTANCE_NAME: not a valid host name"),
    ({"name": "web1\n"}, "GANETI_INSTANCE_NAME: not a valid host name"),
    ({"name": ""}, "GANETI_INSTANCE_NAME"),
    ({"opcode": "OP_INSTANCE_RENAME"}, "GANETI_INSTANCE_NEW_NAME: not a valid host name"),
    ({"opcode": "OP_INSTANCE_RENAME", "GANETI_INSTANCE_NEW_NAME": "web\n2"}, "GANETI_INSTANCE_NEW_NAME"),
    ({"opcode": "OP_INSTANCE_STARTUP"}, "GANETI_OP_CODE"),
])
def test_bad_environments(changes, message):
    with pytest.raises(InputError, match=message):
        from_hook_env(env(**changes))
