"""Fixtures for the DNS tests: a real named per test, the installed hook, a blackhole listener."""

from __future__ import annotations

import pytest

from tests.dns.hooks import HOOK, Hook, Listener
from tests.dns.named_server import FORWARD_ZONE, Named, missing_reason


@pytest.fixture
def named(tmp_path):
    reason = missing_reason()
    if reason:
        print(f"skipping: {reason}")
        pytest.skip(reason)
    server = Named(tmp_path / "named").start()
    yield server
    server.stop()


@pytest.fixture
def hook(tmp_path, named):
    return Hook(tmp_path / "hook", {
        "AUTHENTICATION_METHOD": "bind9",
        "SERVER": f"127.0.0.1:{named.port}",
        "FZONE": FORWARD_ZONE,
        "KEYFILE": str(named.keyfile),
        "TTL": "300",
    })


@pytest.fixture
def bare_hook(tmp_path):
    """A hook for tests that need no real server (the settings are the test's)."""
    reason = "" if HOOK.exists() else f"{HOOK} is not installed (run tools/setup.sh)"
    if reason:
        pytest.skip(reason)
    return Hook(tmp_path / "hook")


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()

