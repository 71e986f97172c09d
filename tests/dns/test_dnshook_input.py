"""Bad hook environments and phases: logged, nothing sent (a listener counts connections), exit 0."""

from __future__ import annotations

import pytest

from tests.dns.hooks import hook_env, nic_env

pytestmark = pytest.mark.dns

NIC0 = nic_env(0, "aa:00:00:11:22:33", "192.0.2.10", "192.0.2.0/24")


@pytest.fixture
def counted(bare_hook, listener):
    bare_hook.settings.update(AUTHENTICATION_METHOD="plain", SERVER=f"127.0.0.1:{listener.port}",
                              FZONE="example.org", DNS_TIMEOUT="1")
    return bare_hook


def without(env, key):
    return {k: v for k, v in env.items() if k != key}


BAD = {
    "count not a number": hook_env("OP_INSTANCE_CREATE", "web1", NIC0, GANETI_INSTANCE_NIC_COUNT="two"),
    "count missing": without(hook_env("OP_INSTANCE_CREATE", "web1", NIC0), "GANETI_INSTANCE_NIC_COUNT"),
    "count negative": hook_env("OP_INSTANCE_CREATE", "web1", NIC0, GANETI_INSTANCE_NIC_COUNT="-1"),
    "count beyond the NICs": hook_env("OP_INSTANCE_CREATE", "web1", NIC0, GANETI_INSTANCE_NIC_COUNT="2"),
    "NIC without MAC": without(hook_env("OP_INSTANCE_CREATE", "web1", NIC0), "GANETI_INSTANCE_NIC0_MAC"),
    "bad MAC": hook_env("OP_INSTANCE_CREATE", "web1", NIC0, GANETI_INSTANCE_NIC0_MAC="aa:00:00:11:22"),
    "bad IP": hook_env("OP_INSTANCE_CREATE", "web1", NIC0, GANETI_INSTANCE_NIC0_IP="192.0.2.300"),
    "name with a space": hook_env("OP_INSTANCE_CREATE", "web 1", NIC0),
    "name with a newline": hook_env("OP_INSTANCE_CREATE", "web1\nweb2", NIC0),
    "name with an underscore": hook_env("OP_INSTANCE_CREATE", "web_1", NIC0),
    "name with an empty label": hook_env("OP_INSTANCE_CREATE", "web1..example", NIC0),
    "name label too long": hook_env("OP_INSTANCE_CREATE", "a" * 64, NIC0),
    "no name": hook_env("OP_INSTANCE_CREATE", "", NIC0),
    "new name with a space": hook_env("OP_INSTANCE_RENAME", "web1", NIC0, GANETI_INSTANCE_NEW_NAME="web 2"),
    "new name missing": hook_env("OP_INSTANCE_RENAME", "web1", NIC0),
    "tag with a newline": hook_env("OP_INSTANCE_CREATE", "web1", NIC0,
                                   GANETI_INSTANCE_NIC0_NETWORK_TAGS="dns\nfoo"),
}


@pytest.mark.parametrize("env", BAD.values(), ids=BAD.keys())
def test_bad_environment_sends_nothing(counted, listener, env):
    done = counted.run(env)
    assert done.returncode == 0
    assert listener.connections == 0
    log = counted.log()
    assert "bad hook environment, nothing sent to DNS:" in log, log
    assert "Traceback" not in log + done.stderr
    assert len(log.splitlines()) == 1  # one line, even for a name with a newline


def test_pre_phase_does_nothing(counted, listener):
    done = counted.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0, phase="pre"))
    assert (done.returncode, done.stdout, done.stderr, listener.connections) == (0, "", "", 0)
    assert counted.log() == ""


@pytest.mark.parametrize("opcode", ["OP_INSTANCE_STARTUP", "OP_INSTANCE_MIGRATE", ""])
def test_other_operations_do_nothing(counted, listener, opcode):
    done = counted.run(hook_env(opcode, "web1", NIC0))
    assert (done.returncode, listener.connections) == (0, 0)
    assert counted.log() == ""


def test_dns_off_does_nothing(counted, listener):
    counted.settings["AUTHENTICATION_METHOD"] = ""
    done = counted.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert (done.returncode, listener.connections) == (0, 0)
    assert counted.log() == ""


def test_half_configured_dns_is_warned_about(counted, listener):
    counted.settings["FZONE"] = ""
    done = counted.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert (done.returncode, listener.connections) == (0, 0)
    assert "dynamic DNS is off: SERVER and FZONE are not both set" in counted.log()


def test_missing_key_file_is_logged(counted, listener, tmp_path):
    counted.settings.update(AUTHENTICATION_METHOD="bind9", KEYFILE=str(tmp_path / "absent.key"))
    done = counted.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert (done.returncode, listener.connections) == (0, 0)
    assert "DNS not updated: KEYFILE" in counted.log()


def test_bad_config_file_exits_zero(counted, listener):
    counted.settings["TTL"] = "soon"
    done = counted.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert (done.returncode, listener.connections) == (0, 0)
    assert "TTL" in done.stderr and "Traceback" not in done.stderr
