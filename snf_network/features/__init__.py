"""Features: pure functions from (Nic, Config, Facts) to the host state a NIC needs.

Each module handles one mode or one tag and describes itself in a
``FEATURE``: what it answers to, what it gives a NIC, the facts about the
host it needs, its part of our nftables ruleset, and its plan function. None
of them touches the host. The tuple below is the whole registry, in the order
the features run; the README's table of tags is made from it
(``snf-network features``).
"""

from __future__ import annotations

from snf_network import checks
from snf_network.errors import InputError
from snf_network.features import (
    antispoof,
    bridged,
    communication,
    dns,
    firewall,
    mac_filter,
    nfdhcpd,
    openvswitch,
    routed,
)
from snf_network.features import qos as qos_feature
from snf_network.plan import Facts, Plan

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.features.base import Feature
    from snf_network.nic import Nic


FEATURES: tuple[Feature, ...] = (
    routed.FEATURE,
    bridged.FEATURE,
    openvswitch.FEATURE,
    antispoof.FEATURE,
    mac_filter.FEATURE,
    firewall.FEATURE,
    nfdhcpd.FEATURE,
    dns.FEATURE,
    qos_feature.FEATURE,
    communication.FEATURE,
)

SUPPORTED_MODES = ("routed", "bridged", "openvswitch")


def check_mode(nic: Nic) -> None:
    if nic.mode not in SUPPORTED_MODES:
        # Our kvm-vif-bridge replaces Ganeti's own mode handling, so saying
        # nothing here would start the VM with a dead NIC.
        raise InputError(f"MODE: {nic.mode} NICs are not supported by snf-network yet")


def chosen(nic: Nic, cfg: Config) -> list[Feature]:
    """The features that answer to ``nic``, in order (after the checks that depend on the config)."""
    check_mode(nic)
    checks.check_nic(nic, cfg)
    if nic.is_communication:
        # Its network is Ganeti's, not the operator's: no tag, mode or
        # profile of the others applies to it (features/communication.py).
        return [communication.FEATURE]
    return [feature for feature in FEATURES if feature.applies(nic, cfg)]


def needs(selected: list[Feature]) -> frozenset[str]:
    """The facts (plan.Facts field names) the ``selected`` features read."""
    return frozenset(fact for feature in selected for fact in feature.needs)


def plan(nic: Nic, cfg: Config, facts: Facts, selected: list[Feature] | None = None) -> Plan:
    """Everything ``nic`` needs on this host."""
    result = Plan()
    for feature in chosen(nic, cfg) if selected is None else selected:
        result.features.append(feature.name)
        if feature.plan is not None:
            feature.plan(nic, cfg, facts, result)
    return result


def table(cfg: Config) -> str:
    """The README's table: what answers to what, and what a NIC gets."""
    lines = ["| feature | answers to | what the NIC gets |", "| --- | --- | --- |"]
    lines += [f"| `{feature.name}` | {feature.answers(cfg)} | {feature.summary} |" for feature in FEATURES]
    return "\n".join(lines) + "\n"
