"""snf-network-dnshook in process, for the paths that never reach a server."""

from __future__ import annotations

import pytest

from snf_network.dns.server import Deadline, DnsFailure, parse_server
from snf_network.entry import dnshook
from snf_network.errors import ConfigError


@pytest.fixture
def env(tmp_path):
    conf = tmp_path / "snf-network.conf"
    conf.write_text(f"LOGFILE={tmp_path}/log\nSYSLOG=no\nSERVER=127.0.0.1:1\nFZONE=example.org\n"
                    f"AUTHENTICATION_METHOD=plain\nNODE_NAME=node1.example.org\n")
    return {"SNF_NETWORK_CONFIG": str(conf), "GANETI_HOOKS_PHASE": "post",
            "GANETI_OP_CODE": "OP_INSTANCE_CREATE", "GANETI_INSTANCE_NAME": "web1",
            "GANETI_INSTANCE_PRIMARY": "node1.example.org", "GANETI_INSTANCE_NIC_COUNT": "x"}


def test_pre_phase_reads_nothing(tmp_path):
    # Not even the config: a broken config must not deny an operation in the pre phase.
    assert dnshook.main([], {"GANETI_HOOKS_PHASE": "pre", "SNF_NETWORK_CONFIG": str(tmp_path / "x")}) == 0


def test_missing_config_file_still_exits_zero(tmp_path, capsys):
    assert dnshook.main([], {"GANETI_HOOKS_PHASE": "post", "SNF_NETWORK_CONFIG": str(tmp_path / "x")}) == 0
    assert "does not exist" in capsys.readouterr().err


def test_bad_environment_is_logged(env, tmp_path):
    assert dnshook.main([], env) == 0
    log = (tmp_path / "log").read_text()
    assert "bad hook environment, nothing sent to DNS: GANETI_INSTANCE_NIC_COUNT" in log


def test_unexpected_errors_never_escape(env, tmp_path, monkeypatch):
    from snf_network.dns import operation

    def explode(_env):
        raise RuntimeError("boom")

    monkeypatch.setattr(operation, "from_hook_env", explode)
    assert dnshook.main([], env) == 0
    assert "internal error: RuntimeError: boom" in (tmp_path / "log").read_text()


@pytest.mark.parametrize(("value", "parsed"), [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("192.0.2.53:5353", ("192.0.2.53", 5353)),
    ("ns1.example.org", ("ns1.example.org", 53)),
    ("ns1.example.org:53", ("ns1.example.org", 53)),
    ("2001:db8::53", ("2001:db8::53", 53)),
])
def test_server_setting(value, parsed):
    assert parse_server(value) == parsed


@pytest.mark.parametrize("value", ["ns1:0", "ns1:65536", "ns1:x", "2001:db8::53:x"])
def test_bad_server_setting(value):
    with pytest.raises(ConfigError, match="SERVER"):
        parse_server(value)


def test_deadline_caps_each_exchange():
    deadline = Deadline(10, 3)
    assert deadline.timeout() == 3
    short = Deadline(1, 3)
    assert 0.9 < short.timeout() <= 1
    with pytest.raises(DnsFailure, match="DNS_DEADLINE") as failure:
        Deadline(0, 3).timeout()
    assert failure.value.fatal
