"""The frame of long-lived services: SIGHUP reloads, SIGTERM stops promptly, floods of one log line are cut."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

from snf_network.services.daemon import RateLimit

TOY = """
import asyncio, sys
from snf_network.services import daemon

class Toy(daemon.Service):
    async def serve(self):
        print("serving", flush=True)
        await asyncio.Event().wait()

    async def reload(self):
        if self.bad:
            raise ValueError("a bad configuration")
        print("reloaded", flush=True)

toy = Toy()
toy.bad = len(sys.argv) > 1
sys.exit(daemon.run(toy, daemon.setup_logging("toy")))
"""


def start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", TOY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdout.readline() == "serving\n"
    return process


def test_sighup_reloads_and_sigterm_stops_at_once() -> None:
    process = start()
    assert process.stdout is not None
    process.send_signal(signal.SIGHUP)
    assert process.stdout.readline() == "reloaded\n"
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0 and time.monotonic() - began < 2
    assert "toy: INFO: stopped" in stderr


def test_a_failed_reload_keeps_the_service_running() -> None:
    process = start("bad")
    process.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0
    assert "reload failed, going on as before: a bad configuration" in stderr


def test_a_flood_of_one_message_is_cut_and_counted() -> None:
    now = [0.0]
    limit = RateLimit(burst=3, interval=10, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("toy", logging.WARNING, __file__, 1, message, None, None)

    passed = [limit.filter(record("bad packet")) for _ in range(100)]
    assert passed.count(True) == 3
    assert limit.filter(record("another message"))
    now[0] = 11.0
    late = record("bad packet")
    assert limit.filter(late) and "(and 97 more like it in 10 s)" in late.getMessage()
