"""Features: pure functions from (Nic, Config, Facts) to the host state a NIC needs.

Each module handles one mode or one network tag and adds to a Plan; none of
them touches the host. The tuple below is the whole registry, in the order
the features run.
"""

from __future__ import annotations

from snf_network.errors import InputError
from snf_network.features import antispoof, bridged, firewall, mac_filter, nfdhcpd, routed
from snf_network.plan import Plan

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from types import ModuleType

    from snf_network.config import Config
    from snf_network.nic import Nic
    from snf_network.plan import Facts


# Each module has applies(nic, cfg) -> bool and plan(nic, cfg, facts, result) -> None.
FEATURES: tuple[tuple[str, ModuleType], ...] = (
    ("routed", routed),
    ("bridged", bridged),
    ("antispoof", antispoof),
    ("mac_filter", mac_filter),
    ("firewall", firewall),
    ("nfdhcpd", nfdhcpd),
)

SUPPORTED_MODES = ("routed", "bridged")


def plan(nic: Nic, cfg: Config, facts: Facts) -> Plan:
    """Everything ``nic`` needs on this host."""
    if nic.mode not in SUPPORTED_MODES:
        # Our kvm-vif-bridge replaces Ganeti's own mode handling, so saying
        # nothing here would start the VM with a dead NIC.
        raise InputError(f"MODE: {nic.mode} NICs are not supported by snf-network yet")
    result = Plan()
    for name, feature in FEATURES:
        if feature.applies(nic, cfg):
            result.features.append(name)
            feature.plan(nic, cfg, facts, result)
    return result
