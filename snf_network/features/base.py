"""What a feature is: everything one mode or tag does, described in one place."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.nic import Nic
    from snf_network.plan import Facts, Plan

    Planner = Callable[[Nic, Config, Facts, Plan], None]
    Fragments = Callable[[Config, "RulesetInputs"], dict[str, str]]


class RulesetInputs:
    """What our nftables ruleset depends on besides the config: the profiles, and what the kernel can do."""

    __slots__ = ("profiles", "queues")

    def __init__(self, profiles: tuple[tuple[str, tuple[str, ...]], ...], queues: bool = True) -> None:
        self.profiles = profiles  # (name, rule lines) pairs: snf_network/profiles.py
        self.queues = queues  # False on kernels without nft_queue


class Feature:
    """One mode or tag: when it applies, what it needs and adds, and its rules.

    ``nft`` gives the feature's declarations and chains per table family
    (``inet``, ``arp``, ``bridge``); host/nft.py puts every feature's into our
    ``snf`` tables, so the rules that consult a feature's sets sit next to
    the code that fills them.
    """

    __slots__ = ("name", "answers", "summary", "applies", "needs", "plan", "nft")

    def __init__(self, name: str, answers: Callable[[Config], str], summary: str,
                 applies: Callable[[Nic, Config], bool], needs: tuple[str, ...] = (),
                 plan: Planner | None = None, nft: Fragments | None = None) -> None:
        self.name = name
        self.answers = answers  # for the README and ``snf-network features``, with the configured tag names
        self.summary = summary
        self.applies = applies
        self.needs = needs  # plan.Facts fields the probe must read for this feature
        self.plan = plan  # None: nothing on the node at ifup (dns: the hooks keep the records)
        self.nft = nft
