"""Our nftables tables: one fixed ruleset, per-port state as set elements.

Every rule lives in the ``snf`` tables of the inet, arp and bridge families
(each feature writes its own part: features/*.py ``nft``; this module puts
them together) and dispatches on the interface name through sets and maps, so the cost per packet
does not grow with the number of ports and bringing a NIC up only adds set
elements. All changes of one run go to ``nft -f -`` as one transaction: they
all apply, or none does.

The ruleset itself is loaded only when it is missing or differs from this
version: it contains an empty chain named after a hash of its own text, and
the per-NIC transaction starts by flushing that chain, which fails when it
does not exist. Only then do we pay for reloading the rules (their sets and
elements survive a reload).
"""

from __future__ import annotations

import binascii

from snf_network import log, profiles
from snf_network.config import Config
from snf_network.errors import CommandError
from snf_network.host import Backend
from snf_network.plan import NftElement

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.host import Host
    from snf_network.plan import Item

TABLE = "snf"
FAMILIES = ("inet", "arp", "bridge")
# Firewall profiles as (name, rule lines) pairs: snf_network/profiles.py.
Profiles = tuple[tuple[str, tuple[str, ...]], ...]


def ruleset(cfg: Config, profile_rules: Profiles, with_queues: bool = True) -> str:
    """The rules, independent of any NIC (their per-port data lives in sets).

    Each feature owns its part (features/*.py ``nft``): its sets, then the
    chains that consult them. Chains run by hook and priority, so the order
    of the parts in the text does not change what a packet meets.
    """
    from snf_network import features
    from snf_network.features.base import RulesetInputs

    inputs = RulesetInputs(profile_rules, with_queues)
    parts: dict[str, list[str]] = {family: [] for family in FAMILIES}
    for feature in features.FEATURES:
        if feature.nft is not None:
            for family, text in feature.nft(cfg, inputs).items():
                parts[family].append(f"  # {feature.name}\n{text}")
    return "".join(f"table {family} {TABLE} {{\n{''.join(texts).rstrip()}\n}}\n" for family, texts in parts.items())


def marker(cfg: Config, profile_rules: Profiles) -> str:
    # Any change of the text changes the name; no security rests on it.
    return f"ruleset_{binascii.crc32(ruleset(cfg, profile_rules).encode()):08x}"


def element_commands(add: list[NftElement], remove: list[NftElement],
                     map_keys: dict[tuple[str, str], set[str]] | None = None) -> list[str]:
    """Idempotent commands: adding twice is fine, removing a missing element too.

    ``delete element`` of a missing element aborts the whole transaction, so
    each removal first adds the element (nft 1.0.6 has no ``destroy``). That
    cannot work for a map whose key now holds another value (the kernel
    refuses the add: "File exists"), which an interrupted change of a NIC's
    profile or gateway leaves behind; given ``map_keys`` (the keys each map
    holds, read from the kernel), map elements are deleted by key, and only
    when present.
    """
    commands = []
    for element in remove:
        key, is_map, _ = element.element.partition(" : ")
        if is_map and map_keys is not None:
            if key.strip('"') in map_keys.get((element.family, element.set), set()):
                commands.append(f"delete element {element.family} {TABLE} {element.set} {{ {key} }}")
            continue
        target = f"{element.family} {TABLE} {element.set} {{ {element.element} }}"
        commands += [f"add element {target}", f"delete element {target}"]
    for element in add:
        commands.append(f"add element {element.family} {TABLE} {element.set} {{ {element.element} }}")
    return commands


def apply(host: Host, cfg: Config, add: list[NftElement], remove: list[NftElement]) -> None:
    """Apply element changes in one transaction, loading the ruleset first if needed."""
    profile_rules = tuple(profiles.load(cfg.FIREWALL_PROFILES).items())
    changes = element_commands(add, remove)
    fast = [f"flush chain inet {TABLE} {marker(cfg, profile_rules)}", *changes]
    result = host.run(["nft", "-f", "-"], "\n".join(fast) + "\n", check=False)
    if result.returncode == 0:
        return
    maps = {(element.family, element.set) for element in remove if " : " in element.element}
    if maps:
        # The slow path: what the maps really hold (see element_commands).
        changes = element_commands(add, remove, _map_keys(host, maps))
        fast = [fast[0], *changes]
        if host.run(["nft", "-f", "-"], "\n".join(fast) + "\n", check=False).returncode == 0:
            return
    load_ruleset(host, cfg, profile_rules, changes)


def _map_keys(host: Host, maps: set[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    from snf_network import jsonlite  # the slow path only

    keys: dict[tuple[str, str], set[str]] = {}
    for family, name in maps:
        result = host.run(["nft", "-j", "list", "map", family, TABLE, name], check=False)
        found = keys.setdefault((family, name), set())
        for entry in jsonlite.loads(result.stdout or "{}").get("nftables", []):
            for element in entry.get("map", {}).get("elem", []):
                key = element[0] if isinstance(element, list) else element
                if isinstance(key, str):
                    found.add(key)
    return keys


def load_ruleset(host: Host, cfg: Config, profile_rules: Profiles, changes: list[str] | None = None) -> None:
    """(Re)load our rules, keeping every set's elements, plus ``changes``, atomically."""
    mark = marker(cfg, profile_rules)
    chains = _inet_chains(host)
    stale = [name for name in chains if name.startswith("ruleset_") and name != mark]
    head = [f"add table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"flush table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"delete chain inet {TABLE} {name}" for name in stale]
    tail = [f"add chain inet {TABLE} {mark}", *(changes or [])]
    # A profile removed from FIREWALL_PROFILES may still be some port's jump
    # target, so its chain cannot be deleted; emptied by the flush above it
    # would accept everything: it drops everything instead, until that port's
    # next ifup (which refuses the unknown profile) or ifdown.
    current = {profiles.chain(name) for name, _ in profile_rules}
    tail += [f"add rule inet {TABLE} {name} drop" for name in chains
             if name.startswith("profile_") and name not in current and name != "profile_marks"]
    script = "\n".join([*head, ruleset(cfg, profile_rules), *tail]) + "\n"
    result = host.run(["nft", "-f", "-"], script, check=False)
    if result.returncode == 0:
        _remember_counts(host, cfg, mark)
        return
    # Kernels without nft_queue (CONFIG_NFT_QUEUE unset) refuse the queue
    # rules; everything else still works, nfdhcpd just gets no packets.
    without = "\n".join([*head, ruleset(cfg, profile_rules, with_queues=False), *tail]) + "\n"
    second = host.run(["nft", "-f", "-"], without, check=False)
    if second.returncode == 0:
        _remember_counts(host, cfg, mark)
        log.warning("this kernel cannot queue packets from nftables (nft_queue): "
                    "nfdhcpd will receive no DHCP, RS, NS or DHCPv6 packets")
        return
    # What failed without the queue rules is the cause, not the queue rules.
    raise CommandError(["nft", "-f", "-"], second.returncode, second.stderr)


def _inet_chains(host: Host) -> list[str]:
    """The chains of our inet table as the kernel holds them (the slow path only)."""
    listing = host.run(["nft", "list", "table", "inet", TABLE], check=False).stdout
    return [line.split()[1] for line in listing.splitlines() if line.strip().startswith("chain ")
            and len(line.split()) > 1]


class NftBackend(Backend):
    kinds = (NftElement.kind,)
    title = "nft transaction"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        elements = [item for item in add if isinstance(item, NftElement)]
        stale = list(dict.fromkeys(item for item in remove if isinstance(item, NftElement)))
        if elements or stale:
            apply(host, cfg, elements, stale)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        return element_commands([item for item in add if isinstance(item, NftElement)], [])

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        from snf_network.host import inspect

        def check(items: list[Item]) -> list[str]:
            elements = [item for item in items if isinstance(item, NftElement)]
            return [f"missing nft element {e.family} {e.set} {{ {e.element} }}"
                    for e in inspect.missing_elements(host, elements)]

        return check


BACKEND = NftBackend()


def _counts_path(cfg: Config) -> str:
    return f"{cfg.STATE_DIR}/ruleset.counts"  # not *.json: that is a record


def _loaded_counts(host: Host) -> dict[str, dict[str, int]] | None:
    """Rules per chain of our tables as the kernel holds them; None when a table is missing."""
    from snf_network import jsonlite  # the slow path only

    counts: dict[str, dict[str, int]] = {}
    for family in ("inet", "arp", "bridge"):
        result = host.run(["nft", "-j", "list", "table", family, TABLE], check=False)
        if result.returncode != 0:
            return None
        chains = counts.setdefault(family, {})
        for entry in jsonlite.loads(result.stdout or "{}").get("nftables", []):
            if "chain" in entry:
                chains.setdefault(entry["chain"]["name"], 0)
            elif "rule" in entry:
                chains[entry["rule"]["chain"]] = chains.get(entry["rule"]["chain"], 0) + 1
    return counts


def _remember_counts(host: Host, cfg: Config, mark: str) -> None:
    """What the kernel made of the ruleset just loaded, for ``verify`` to compare with later."""
    from snf_network import jsonlite  # the slow path only

    counts = _loaded_counts(host)
    if counts is not None:
        host.write(_counts_path(cfg), jsonlite.dumps({"marker": mark, "chains": counts}) + "\n")


def ruleset_differences(host: Host, cfg: Config) -> list[str]:
    """How our loaded rules differ from this version's: tables gone, chains emptied or cut short.

    Counted per chain against what the kernel held right after we loaded the
    ruleset (nft prints rules in its own form, so counting is what compares
    reliably): ``nft flush ruleset`` (Debian's nftables.service starts with
    it), ``flush chain`` and ``delete rule`` all show. The per-port elements
    are checked item by item (host/inspect.py).
    """
    from snf_network import jsonlite  # the slow path only

    fix = "(snf-network reapply restores it)"
    loaded = _loaded_counts(host)
    if loaded is None:
        return [f"an nft table {TABLE} is missing {fix}"]
    mark = marker(cfg, tuple(profiles.load(cfg.FIREWALL_PROFILES).items()))
    if mark not in loaded.get("inet", {}):
        return [f"the nft ruleset is not this version's {fix}"]
    try:
        saved = jsonlite.loads(host.read(_counts_path(cfg)) or "{}")
    except (OSError, ValueError):
        saved = {}
    if saved.get("marker") != mark:
        return []  # loaded before counts were kept: the marker is all we can compare
    problems = []
    for family, chains in saved.get("chains", {}).items():
        for chain, count in chains.items():
            if loaded.get(family, {}).get(chain) != count:
                have = loaded.get(family, {}).get(chain)
                problems.append(f"nft chain {family} {TABLE} {chain} has {'no' if have is None else have} rules, "
                                f"not {count} {fix}")
    return problems
