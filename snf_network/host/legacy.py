"""What GRNET's bash snf-network (0.16 and before) left in the kernel for a tap.

Its scripts wrote iptables, ip6tables, arptables and ebtables rules for each
tap (the shared reference study snf-network.md, section 3). On a
node upgraded from it, running instances keep those rules, and stock Ganeti
2.x never runs an ifdown: when Ganeti later gives the tap's name to another
NIC, an old ``-i tap1 ! -s <old IP> -j DROP`` would drop the new VM's traffic.
So before we configure a tap, its legacy rules go.

On Debian 10 and later those tools are iptables-nft and friends: the rules
live in the nftables tables ``ip filter``, ``ip6 filter``, ``arp filter`` and
``bridge filter``, in these chains only:

- ``ip filter FORWARD``, ``ip6 filter FORWARD``: anti-spoofing drops
  (``-i <tap>``), firewall profile jumps (``-o <tap>`` and
  ``-m physdev --physdev-out <tap>``), and whatever ``ifup-extra`` added
  (the old ifdown purged every FORWARD rule naming the tap, as a word);
- ``arp filter OUTPUT``: the ARP source mangle (``-o <tap>``);
- ``bridge filter FORWARD/INPUT/OUTPUT``: the jumps (``-i/-o <tap>``) to the
  tap's own chains ``FROM<TAP>`` and ``TO<TAP>`` (upper case), which go whole.

Cost: the NIC programs live for tens of milliseconds, so the check that
almost always finds nothing is one netlink dump in this process (no program
started, about 0.1 ms, no import beyond ``struct``): the rules of the tables
named ``filter``, which the kernel filters for us, so our own ``snf`` tables
and an administrator's native nft tables are never even read. Only when a rule
names the tap do we start nft (once to describe, once to delete).
"""

from __future__ import annotations

import _socket  # the C module: ``socket``'s Python layer would cost more than the whole check
import struct

from snf_network.errors import SnfNetworkError
from snf_network.host import netlink

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.host import Host

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWRULE, NFT_MSG_GETRULE = 10, 6, 7
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_EXPRESSIONS = 1, 2, 3, 4

TABLE = "filter"  # every legacy rule is in the xtables "filter" table of its family
FAMILIES = {2: "ip", 3: "arp", 7: "bridge", 10: "ip6"}  # NFPROTO_* -> nft's family name
# The built-in chains the old scripts appended to, per family.
CHAINS = {"ip": ("FORWARD",), "ip6": ("FORWARD",), "arp": ("OUTPUT",), "bridge": ("FORWARD", "INPUT", "OUTPUT")}


class _Rule:
    __slots__ = ("chain", "family", "handle")

    def __init__(self, family: str, chain: str, handle: int) -> None:
        self.family, self.chain, self.handle = family, chain, handle


def remove_legacy_rules(host: Host, interface: str) -> list[str]:
    """Delete the rules GRNET's bash snf-network left for ``interface``; what was removed, or [].

    Call it in ifup, under the host-wide lock, before applying the NIC's plan
    (the engine does, for every NIC it configures): the old rules would
    otherwise filter the new NIC, and holding the lock keeps two of our runs
    from deleting the same rule. Only rules in the legacy chains (see the
    module's docstring) that name ``interface`` as a whole interface name
    (``tap1`` never matches ``tap10``), and the chains ``FROM<INTERFACE>`` and
    ``TO<INTERFACE>`` of ``bridge filter``, are removed: an administrator's
    other rules, and every table that is not an xtables ``filter`` table,
    stay as they are.

    Raises SnfNetworkError when rules were found but nft could not delete them.
    """
    found, chains = _scan(interface)
    if not found and not chains:
        return []
    try:
        return _delete(host, found, chains)
    except SnfNetworkError:
        # A rule may have gone between the dump and the deletion (someone
        # running iptables by hand): scan again, with fresh handles, once.
        found, chains = _scan(interface)
        return _delete(host, found, chains) if found or chains else []


def _scan(interface: str) -> tuple[list[_Rule], list[tuple[str, str]]]:
    """The legacy rules naming ``interface``, and its per-tap bridge chains that hold rules."""
    name = interface.encode()
    own_chains = {f"FROM{interface.upper()}", f"TO{interface.upper()}"}
    # What iptables-nft stores for "-i tap1", the physdev match's name field
    # and a jump's chain name are all NUL-terminated strings; the byte before
    # each is an attribute header or a zero/0xff mask, never a printable
    # character. So "tap1\0" after a non-printable byte is the name as a whole.
    needles = [name + b"\0", *(chain.encode() + b"\0" for chain in own_chains)]
    found: list[_Rule] = []
    chains: dict[tuple[str, str], None] = {}
    for payload in _dump_rules():
        # Most rules do not name the tap at all: one search over the whole
        # message (in C) spares parsing them, even with thousands of rules.
        if not any(needle in payload for needle in needles):
            continue
        family = FAMILIES.get(payload[0])
        if family is None:  # inet, netdev: native nft tables, never the old scripts'
            continue
        attributes = netlink.attributes(payload, 4)
        if attributes.get(NFTA_RULE_TABLE, b"").rstrip(b"\0") != TABLE.encode():
            continue
        chain = attributes.get(NFTA_RULE_CHAIN, b"").rstrip(b"\0").decode(errors="replace")
        if family == "bridge" and chain in own_chains:
            chains[(family, chain)] = None
            continue
        if chain not in CHAINS[family] or NFTA_RULE_HANDLE not in attributes:
            continue
        # The expressions only: a rule's comment (user data) may mention a
        # tap without being about it.
        expressions = attributes.get(NFTA_RULE_EXPRESSIONS, b"")
        if any(_names(expressions, needle) for needle in needles):
            found.append(_Rule(family, chain, struct.unpack(">Q", attributes[NFTA_RULE_HANDLE][:8])[0]))
    return found, list(chains)


def _names(data: bytes, needle: bytes) -> bool:
    """Whether ``data`` holds the NUL-terminated string ``needle`` whole."""
    start = data.find(needle)
    while start != -1:
        whole = start == 0 or not 0x20 <= data[start - 1] <= 0x7E
        # "-i tap+" is a cmp of the 3 bytes "tap" (its attribute's length
        # says so); the NUL after it is only the attribute's padding.
        if whole and start >= 4 and struct.unpack_from("H", data, start - 4)[0] == 4 + len(needle) - 1:
            whole = False
        if whole:
            return True
        start = data.find(needle, start + 1)
    return False


def _delete(host: Host, found: list[_Rule], chains: list[tuple[str, str]]) -> list[str]:
    """Describe, then delete in one nft transaction, what ``_scan`` found."""
    described = _describe(host, found)
    removed = [f"{rule.family} {TABLE} {rule.chain}: "
               f"{described.get((rule.family, rule.chain, rule.handle)) or f'handle {rule.handle}'}" for rule in found]
    script = [f'delete rule {rule.family} {TABLE} {rule.chain} handle {rule.handle}' for rule in found]
    for family, chain in chains:
        # Flushed first: nft refuses to delete a chain that still has rules.
        script += [f'flush chain {family} {TABLE} {chain}', f'delete chain {family} {TABLE} {chain}']
        removed.append(f"{family} {TABLE} chain {chain}")
    result = host.run(["nft", "-f", "-"], "\n".join(script) + "\n", check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise SnfNetworkError(f"cannot remove the old snf-network's rules ({'; '.join(removed)}): "
                              f"nft: {detail[0] if detail else f'exit status {result.returncode}'}")
    return removed


def _describe(host: Host, found: list[_Rule]) -> dict[tuple[str, str, int], str]:
    """The rules' text as nft lists them (``xt match physdev`` is all it says of a physdev match).

    One ``nft list table`` per family: nft 1.0.6 answers only the last of
    several list commands given in one run.
    """
    texts: dict[tuple[str, str, int], str] = {}
    for family in dict.fromkeys(rule.family for rule in found):
        listed = host.run(["nft", "-a", "list", "table", family, TABLE], check=False)
        chain = ""
        for line in listed.stdout.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "chain":
                chain = words[1]
            elif len(words) >= 3 and words[-3:-1] == ["#", "handle"] and words[-1].isdigit():
                rule = words[:-3]
                if "counter" in rule:  # the counts say nothing about the rule
                    at = rule.index("counter")
                    if rule[at + 1 : at + 2] == ["packets"]:
                        del rule[at + 1 : at + 5]
                texts[(family, chain, int(words[-1]))] = " ".join(rule)
    return texts


def _dump_rules() -> list[bytes]:
    """The payloads of nftables rule dumps of the ``filter`` tables of the legacy families.

    One dump per family: the kernel ends a dump filtered by table name at the
    first table of that name, whatever the family. [] when the kernel has no
    nftables or we may not read it: then the old scripts' rules cannot be
    there, or we could not delete them anyway.
    """
    table = TABLE.encode() + b"\0"
    attribute = struct.pack("HH", 4 + len(table), NFTA_RULE_TABLE) + table
    attribute += b"\0" * (-len(attribute) % 4)
    kind = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE
    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_NETFILTER)
    except OSError:
        return []
    messages: list[bytes] = []
    try:
        for sequence, family in enumerate(FAMILIES, 1):
            payload = struct.pack("BBH", family, 0, 0) + attribute  # nfgenmsg: family, version 0, res_id
            sock.sendall(struct.pack("IHHII", 16 + len(payload), kind, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0)
                         + payload)
            messages += _answer(sock)
    except OSError:
        pass
    finally:
        sock.close()
    return messages


def _answer(sock: _socket.socket) -> list[bytes]:
    """The rules of one dump, up to its end; none after an error (ENOENT: no such table)."""
    messages: list[bytes] = []
    while data := sock.recv(65536):
        offset = 0
        while offset + 16 <= len(data):
            length, message, _flags, _seq, _pid = struct.unpack_from("IHHII", data, offset)
            if length < 16 or message == NLMSG_DONE:
                return messages
            if message == NLMSG_ERROR:
                return []
            if message == NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE:
                messages.append(data[offset + 16 : offset + length])
            offset += (length + 3) & ~3
    return messages
