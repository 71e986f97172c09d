"""The peer protocol on UDP 1816: HMAC-SHA256 sealed JSON, timestamps, a replay cache.

Datagram: ``b"SNB1" || HMAC-SHA256(key, b"SNB1" || body) || body``, body UTF-8
JSON with ``v``, ``type``, ``ts`` (ms), ``nonce``, ``src``, ``dst`` and the
message's fields. ``open`` checks, in order: magic, length, HMAC (constant
time, before any parsing), clock skew, not sealed before this daemon started
(its replay cache could not have seen it), replay (nonce seen within twice the
skew), the UDP source is a peer and equals ``src``, ``dst`` is this node (a
datagram sealed for one peer, captured, is no good at another: each replay
cache only knows what was sent to it). A node may only announce or withdraw its
own instances: entries whose node is not ``src`` are dropped by the daemon.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable

MAGIC = b"SNB1"
MAX_DATAGRAM = 1472  # one unfragmented UDP payload on a 1500-byte underlay
TYPES = ("announce", "snapshot", "query", "redirect", "sync")


STARTUP_GRACE = 1.0  # seconds before the start of the daemon a datagram may have been sealed (clocks differ)


def seal(key: bytes, message: dict[str, object], src: str, clock: Callable[[], float] = time.time,
         dst: str = "") -> bytes:
    body = dict(message)
    body.update(v=1, ts=int(clock() * 1000), nonce=os.urandom(8).hex(), src=src, dst=dst)
    data = json.dumps(body, separators=(",", ":")).encode()
    return MAGIC + hmac.new(key, MAGIC + data, hashlib.sha256).digest() + data


class Opener:
    """Checks received datagrams; ``counters`` says how many were refused, and why."""

    def __init__(self, key: bytes, skew: float, clock: Callable[[], float] = time.time,
                 cache_size: int = 100_000, me: str = "") -> None:
        self.key, self.skew, self.clock, self.cache_size, self.me = key, skew, clock, cache_size, me
        self.seen: OrderedDict[str, float] = OrderedDict()
        # The replay cache starts empty: what was sealed before we started may be a capture of what a
        # previous run of this daemon accepted (the skew alone would admit it for MAX_CLOCK_SKEW seconds).
        self.not_before = clock() - STARTUP_GRACE
        self.counters = {"accepted": 0, "bad_magic": 0, "too_long": 0, "bad_hmac": 0, "malformed": 0,
                         "clock_skew": 0, "replayed": 0, "not_a_peer": 0, "not_for_us": 0}

    def open(self, data: bytes, source: str, peers: set[str]) -> dict[str, object] | None:
        message = self._check(data, source, peers)
        if message is not None:
            self.counters["accepted"] += 1
        return message

    def _check(self, data: bytes, source: str, peers: set[str]) -> dict[str, object] | None:
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 32:
            return self._refuse("bad_magic")
        if len(data) > MAX_DATAGRAM:
            return self._refuse("too_long")
        mac, body = data[4:36], data[36:]
        if not hmac.compare_digest(mac, hmac.new(self.key, MAGIC + body, hashlib.sha256).digest()):
            return self._refuse("bad_hmac")
        try:
            message = json.loads(body)
            ts, nonce, src = message["ts"], message["nonce"], message["src"]
            if not (isinstance(message, dict) and isinstance(ts, int) and isinstance(nonce, str)
                    and isinstance(src, str) and message.get("type") in TYPES and len(nonce) <= 64):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self._refuse("malformed")
        now = self.clock()
        if abs(int(now * 1000) - ts) > self.skew * 1000:  # in integers: a huge ts must not overflow a float
            return self._refuse("clock_skew")
        self._expire(now)
        if nonce in self.seen or ts < self.not_before * 1000:
            return self._refuse("replayed")
        if source not in peers or src != source:
            return self._refuse("not_a_peer")
        if message.get("dst") != self.me:
            return self._refuse("not_for_us")
        self.seen[nonce] = now
        if len(self.seen) > self.cache_size:  # a flood of valid datagrams cannot grow this without end
            self.seen.popitem(last=False)
        return message

    def _expire(self, now: float) -> None:
        horizon = now - 2 * self.skew
        while self.seen:
            nonce, when = next(iter(self.seen.items()))
            if when >= horizon:
                break
            del self.seen[nonce]

    def _refuse(self, why: str) -> dict[str, object] | None:
        self.counters[why] += 1
        return None


def batches(entries: list[dict[str, object]], size: int = 12) -> list[list[dict[str, object]]]:
    """Entries in groups small enough for one datagram: an entry is at most about 100 bytes of JSON,
    the seal and the header fields about 170 (tests/unit/test_nbma.py checks the worst case)."""
    return [entries[i:i + size] for i in range(0, len(entries), size)] or [[]]
