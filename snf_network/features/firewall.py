"""Firewall profiles for traffic towards a NIC, chosen by the instance's tags.

``synnefo:network:<index|name|uuid>:<profile>`` (or a bare ``<profile>`` tag
for every NIC): the profiles live in snf_network/profiles.py and the
operator's FIREWALL_PROFILES file. Routed taps are dispatched by output
interface in the inet forward hook; bridged ports by a packet mark that the
bridge family sets for the output port before the bridge hands the packet to
the inet hooks (br_netfilter), where connection tracking makes the profiles
stateful.
"""

from __future__ import annotations

from snf_network import profiles
from snf_network.config import Config
from snf_network.features.base import Feature
from snf_network.nic import Nic
from snf_network.plan import Facts, NftElement, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode in ("routed", "bridged")


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    idents = tuple(ident for ident in (str(nic.index) if nic.index is not None else "", nic.name, nic.uuid)
                   if ident)
    chosen, unknown = profiles.choose(nic.tags, idents, facts.profiles)
    for tag in unknown:
        result.notes.append(f"tag {tag} names no firewall profile defined here: ignored")
    if not chosen:
        return
    result.derived["FIREWALL_PROFILE"] = chosen
    port = f'"{nic.interface}"'
    if nic.mode == "routed":
        result.add(NftElement("inet", "profile_port", f"{port} : jump {profiles.chain(chosen)}"))
    else:
        result.add(NftElement("bridge", "profile_mark", f"{port} : 0x{profiles.mark(chosen):08x}"))


FEATURE = Feature(
    "firewall",
    answers=lambda cfg: "instance tag `synnefo:network:<nic>:<profile>`",
    summary=("a stateful firewall profile (`protected`, `limited`, `unprotected`, or your own) for traffic "
             "towards the NIC"),
    applies=applies,
    needs=("profiles",),
    plan=plan,
)
