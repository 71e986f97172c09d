"""Bandwidth limits: which one a NIC gets, from its instance's and its network's tags.

    snf-network:qos:<nic index|name|uuid>:<rate>[:<burst>]   instance tag, one NIC
    qos:<rate>[:<burst>]                                     network tag (QOS_TAG), every NIC of it

The NIC's own instance tag wins over its network's. A rate is a whole number
with a tc unit (``512kbit``, ``20mbit``, ``1gbit``; ``bit``, ``kbit``,
``mbit``, ``gbit``, ``tbit`` are bits per second, ``bps``, ``kbps``, ...
bytes per second, powers of 1000 as in tc); a burst is a whole number of bytes
with an optional tc size unit (``64kb``, ``1mb``: powers of 1024, as in tc).
Both are normalised to plain numbers here, so tc is only ever handed digits.

Every qos tag of the instance and of the network must parse, or the NIC is
refused with the tag in the one-line error: a limit the operator asked for
must not silently turn into no limit. Plain string tests, no ``re``
(checks.py says why).
"""

from __future__ import annotations

from snf_network.checks import DIGITS, shown
from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.nic import Nic

INSTANCE_PREFIX = "snf-network:qos:"

# Bits per second per unit (tc(8): k = 1000 for rates).
RATE_UNITS = {
    "bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12,
    "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9, "tbps": 8 * 10**12,
}
# Bytes per unit (tc(8): k = 1024 for sizes).
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}

MIN_RATE = 8_000  # bits/s: below this a shaper is a cut cable
MAX_RATE = 400 * 10**9
MIN_BURST = 1600  # bytes: at least one full frame
MAX_BURST = 1024**3
# HTB keeps a burst as the time it takes at the rate, in 32 bits of
# scheduler ticks; ten seconds' worth is far from that and from any sane burst.
MAX_BURST_SECONDS = 10


class Limit:
    """A rate in bits per second and a burst in bytes (0: the kernel's default for the rate)."""

    __slots__ = ("rate", "burst", "source")

    def __init__(self, rate: int, burst: int, source: str) -> None:
        self.rate, self.burst, self.source = rate, burst, source  # source: the tag it came from

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limit) and (self.rate, self.burst) == (other.rate, other.burst)

    __hash__ = None  # type: ignore[assignment]


def _split_number(text: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and text[end] in DIGITS:
        end += 1
    return text[:end], text[end:].lower()


def parse_rate(text: str, where: str) -> int:
    """``20mbit`` -> 20000000 (bits per second); a one-line InputError otherwise."""
    number, unit = _split_number(text)
    if not number or unit not in RATE_UNITS or len(number) > 15:
        raise InputError(f"{where}: rate {shown(text)} is not a whole number with a tc unit "
                         "(bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps), e.g. 20mbit")
    rate = int(number) * RATE_UNITS[unit]
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"{where}: rate {shown(text)} is outside 8kbit..400gbit")
    return rate


def parse_burst(text: str, rate: int, where: str) -> int:
    """``64kb`` -> 65536 (bytes), at least a frame and at most ten seconds at ``rate``."""
    number, unit = _split_number(text)
    if not number or unit not in SIZE_UNITS or len(number) > 15:
        raise InputError(f"{where}: burst {shown(text)} is not a whole number of bytes with an optional "
                         "unit (b, kb, mb, gb), e.g. 64kb")
    burst = int(number) * SIZE_UNITS[unit]
    if not MIN_BURST <= burst <= min(MAX_BURST, rate * MAX_BURST_SECONDS // 8):
        raise InputError(f"{where}: burst {shown(text)} must be from 1600 bytes to 1gb, and at most "
                         f"{MAX_BURST_SECONDS} s at the rate")
    return burst


def parse_limit(text: str, source: str, where: str) -> Limit:
    """``<rate>[:<burst>]``."""
    parts = text.split(":")
    if len(parts) > 2 or not parts[0]:
        raise InputError(f"{where}: {shown(source)}: expected <rate>[:<burst>]")
    rate = parse_rate(parts[0], f"{where}: {shown(source)}")
    burst = parse_burst(parts[1], rate, f"{where}: {shown(source)}") if len(parts) == 2 else 0
    return Limit(rate, burst, source)


def instance_limits(tags: tuple[str, ...], where: str = "TAGS") -> dict[str, Limit]:
    """Every ``snf-network:qos:`` tag, by the NIC it names; two different limits for one name are refused."""
    found: dict[str, Limit] = {}
    for tag in tags:
        if not tag.startswith(INSTANCE_PREFIX):
            continue
        ident, sep, rest = tag[len(INSTANCE_PREFIX):].partition(":")
        if not ident or not sep:
            raise InputError(f"{where}: {shown(tag)}: expected {INSTANCE_PREFIX}<nic index|name|uuid>:<rate>"
                             "[:<burst>]")
        limit = parse_limit(rest, tag, where)
        if found.get(ident, limit) != limit:
            raise InputError(f"{where}: {shown(tag)}: NIC {shown(ident)} already has another qos tag "
                             f"({shown(found[ident].source)})")
        found.setdefault(ident, limit)
    return found


def network_limit(tags: tuple[str, ...], prefix: str, where: str = "NETWORK_TAGS") -> Limit | None:
    """The network's ``<QOS_TAG>:<rate>[:<burst>]`` tag; two different ones are refused."""
    chosen: Limit | None = None
    for tag in tags:
        if tag == prefix:
            raise InputError(f"{where}: {shown(tag)}: expected {prefix}:<rate>[:<burst>]")
        if not tag.startswith(prefix + ":"):
            continue
        limit = parse_limit(tag[len(prefix) + 1:], tag, where)
        if chosen is not None and chosen != limit:
            raise InputError(f"{where}: {shown(tag)}: the network already has another qos tag "
                             f"({shown(chosen.source)})")
        chosen = chosen or limit
    return chosen


def limit_for(nic: Nic, cfg: Config) -> Limit | None:
    """The NIC's limit: its own instance tag (by index, name or UUID), else its network's, else None."""
    mine = instance_limits(nic.tags)
    network = network_limit(nic.network.tags, cfg.QOS_TAG)
    own = [mine[ident] for ident in nic.idents if ident in mine]
    if len(own) > 1 and any(limit != own[0] for limit in own):
        raise InputError(f"TAGS: {shown(own[0].source)} and {shown(own[1].source)} name the same NIC "
                         "with different limits")
    return own[0] if own else network


def ifb_name(tap: str) -> str:
    """The ifb that shapes what ``tap``'s VM sends: ``ifb<tap>``, or a hash of it where that is too long.

    Deterministic, so a later ifdown, cleanup or reapply finds it, and at
    most 15 characters (IFNAMSIZ - 1).
    """
    if len(tap) <= 12:
        return "ifb" + tap
    import hashlib  # only for long names (Ganeti's own taps are tapN)

    return "ifb" + hashlib.blake2s(tap.encode(), digest_size=6).hexdigest()


def show_rate(bits: int) -> str:
    """20000000 -> '20mbit' (the largest unit that divides it)."""
    for unit in ("tbit", "gbit", "mbit", "kbit"):
        if bits % RATE_UNITS[unit] == 0:
            return f"{bits // RATE_UNITS[unit]}{unit}"
    return f"{bits}bit"


def show_size(size: int) -> str:
    for unit in ("gb", "mb", "kb"):
        if size % SIZE_UNITS[unit] == 0:
            return f"{size // SIZE_UNITS[unit]}{unit}"
    return f"{size}b"
