"""Firewall profiles: what may reach a VM's NIC, chosen by instance tags.

The package defines ``protected``, ``limited`` and ``unprotected`` (the
original's ferm chains, made stateful and with working ICMPv6). An operator
adds profiles, or redefines ours, in FIREWALL_PROFILES, which the package
never writes::

    # comments and blank lines are ignored
    [web]
    tcp dport { 80, 443 } accept

    [protected]
    tcp dport 22 ip saddr 198.51.100.0/24 accept

Every profile first accepts replies to the VM's own connections, ICMP and
ICMPv6 (IPv6 cannot work without neighbour discovery and packet-too-big), then
runs its own lines (nftables rule syntax), then drops.
"""

from __future__ import annotations

import binascii

from snf_network.checks import is_profile_name, shown
from snf_network.errors import ConfigError

BUILTIN: dict[str, tuple[str, ...]] = {
    "protected": (),
    "limited": ("tcp dport { 22, 3389 } accept",),
    "unprotected": ("accept",),
}
# The more restrictive wins when a NIC's tags name several profiles.
STRICTNESS = ("protected", "limited", "unprotected")

# A profile's lines go inside one nft chain: no second statement, no block.
_NOT_RULES = ("table", "chain", "flush", "delete", "add", "include", "define")
MARK_BASE = 0x736E0000  # "sn": the packet marks we set for bridged ports with a profile


def parse(text: str, origin: str) -> dict[str, tuple[str, ...]]:
    profiles: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if not is_profile_name(name):
                raise ConfigError(f"{origin}:{number}: profile name {shown(name)} is not lower-case letters, "
                                  "digits, - and _")
            current = profiles.setdefault(name, [])
            continue
        if current is None:
            raise ConfigError(f"{origin}:{number}: a rule before any [profile] header")
        if ";" in line or "#" in line or line.split()[0] in _NOT_RULES or not line.isprintable():
            raise ConfigError(f"{origin}:{number}: one nftables rule per line, without ; or #")
        current.append(line)
    return {name: tuple(lines) for name, lines in profiles.items()}


_loaded: dict[str, dict[str, tuple[str, ...]]] = {}


def load(path: str) -> dict[str, tuple[str, ...]]:
    """The built-in profiles, with the operator's added or replacing them (read once per process)."""
    if path not in _loaded:
        _loaded[path] = _load(path)
    return _loaded[path]


def _load(path: str) -> dict[str, tuple[str, ...]]:
    merged = dict(BUILTIN)
    if not path:
        return merged
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return merged
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read firewall profiles {path}: {exc}") from None
    merged.update(parse(text, path))
    marks: dict[int, str] = {}
    for name in merged:
        if mark(name) in marks:  # 1 in 65536 per pair: rename one
            raise ConfigError(f"{path}: profiles {marks[mark(name)]} and {name} would share a packet mark; "
                              "rename one")
        marks[mark(name)] = name
    return merged


def mark(name: str) -> int:
    """The packet mark standing for ``name`` (bridged ports; see host/nft.py)."""
    return MARK_BASE | (binascii.crc32(name.encode()) & 0xFFFF)


def chain(name: str) -> str:
    return f"profile_{name}"


def choose(tags: tuple[str, ...], idents: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, list[str]]:
    """The profile for a NIC from its instance's tags; also the tags that named unknown profiles.

    ``synnefo:network:<ident>:<profile>`` names the NIC by index, name or
    UUID; a bare ``<profile>`` tag (as the original allowed) covers every NIC
    of the instance. A NIC-specific tag wins over a bare one; among several,
    the most restrictive wins (Ganeti gives tags in no particular order, so
    "the last one wins" meant "any one wins").
    """
    specific: list[str] = []
    bare: list[str] = []
    unknown: list[str] = []
    for tag in tags:
        if tag.startswith("synnefo:network:"):
            ident, _, profile = tag[len("synnefo:network:"):].rpartition(":")
            if ident not in idents:
                continue
            (specific if profile in known else unknown).append(profile if profile in known else tag)
        elif tag in known:
            bare.append(tag)
    candidates = specific or bare
    if not candidates:
        return "", unknown
    # The operator's own profiles rank after protected and before limited.
    custom = sorted(name for name in known if name not in STRICTNESS)
    order = {name: i for i, name in enumerate((STRICTNESS[0], *custom, *STRICTNESS[1:]))}
    return min(candidates, key=lambda name: order[name]), unknown
