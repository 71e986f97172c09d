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

from snf_network import checks, profiles
from snf_network.config import Config
from snf_network.errors import InputError
from snf_network.features.base import Feature, RulesetInputs
from snf_network.nic import Nic
from snf_network.plan import Facts, NftElement, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode in ("routed", "bridged")


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    chosen, unknown = profiles.choose(nic.tags, nic.idents, facts.profiles)
    if unknown:
        # Fail closed: without the profile the NIC would start unfiltered.
        raise InputError(f"TAGS: {checks.shown(unknown[0])}: names no firewall profile defined on this node "
                         f"(built in, or in FIREWALL_PROFILES)")
    if not chosen:
        return
    result.derived["FIREWALL_PROFILE"] = chosen
    port = f'"{nic.interface}"'
    if nic.mode == "routed":
        result.add(NftElement("inet", "profile_port", f"{port} : jump {profiles.chain(chosen)}"))
    else:
        result.add(NftElement("bridge", "profile_mark", f"{port} : 0x{profiles.mark(chosen):08x}"))


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    marks = ", ".join(f"0x{profiles.mark(name):08x} : jump {profiles.chain(name)}" for name, _ in inputs.profiles)
    chains = "".join(_profile_chain(name, lines) for name, lines in inputs.profiles)
    inet = f"""  map profile_port {{ type ifname : verdict; }}

  # Firewall profiles for traffic towards a NIC: routed taps by output
  # interface, bridged ports by the mark the bridge table set for them.
  chain profiles {{
    type filter hook forward priority filter; policy accept;
    oifname vmap @profile_port
    meta mark vmap {{ {marks} }}
    # A port still marked for a profile that is gone: drop, never accept.
    meta mark & 0xffff0000 == 0x{profiles.MARK_BASE:08x} drop
  }}
{chains}"""
    bridge = """  map profile_mark { type ifname : mark; }

  # Before br_netfilter (priority 0) hands the packet to the inet hooks.
  chain profile_marks {
    type filter hook forward priority -100; policy accept;
    meta mark set oifname map @profile_mark
  }
"""
    return {"inet": inet, "bridge": bridge}


def _profile_chain(name: str, lines: tuple[str, ...]) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"""
  chain {profiles.chain(name)} {{
    ct state established,related accept
    ct state invalid drop
    meta l4proto {{ icmp, ipv6-icmp }} accept
{body}    drop
  }}
"""


FEATURE = Feature(
    "firewall",
    answers=lambda cfg: "instance tag `synnefo:network:<nic>:<profile>`",
    summary=("a stateful firewall profile (`protected`, `limited`, `unprotected`, or your own) for traffic "
             "towards the NIC"),
    applies=applies,
    needs=("profiles",),
    plan=plan,
    nft=nft,
)
