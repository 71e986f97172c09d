"""The ``private-filtered`` tag: tenants' private networks sharing one bridge.

Only the MAC prefix keeps the networks apart: every frame that leaves the
bridge towards the VM, unicast, broadcast or multicast, locally sent or
forwarded, must come from a MAC in the VM's network prefix (the network's
NETWORK_MAC_PREFIX, else the VM's MAC under MAC_MASK). Frames from the VM
carry its own MAC (features/antispoof.py).
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.features.base import Feature, RulesetInputs
from snf_network.nic import Nic
from snf_network.plan import Facts, NftElement, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.has_tag(cfg.MAC_FILTERED_TAG)


def prefix_range(nic: Nic, cfg: Config) -> tuple[str, str]:
    """The first and last MAC of the VM's network."""
    if nic.network.mac_prefix:
        return f"{nic.network.mac_prefix}:00:00:00", f"{nic.network.mac_prefix}:ff:ff:ff"
    mac = int(nic.mac.replace(":", ""), 16)
    mask = int(cfg.MAC_MASK.replace(":", ""), 16)
    low, high = mac & mask, (mac & mask) | (~mask & 0xFFFFFFFFFFFF)
    return _mac(low), _mac(high)


def _mac(value: int) -> str:
    text = f"{value:012x}"
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    if nic.mode != "bridged":
        result.notes.append(f"{cfg.MAC_FILTERED_TAG} ignored: only bridged NICs share a segment")
        return
    low, high = prefix_range(nic, cfg)
    port = f'"{nic.interface}"'
    result.add(NftElement("bridge", "filtered", port), NftElement("bridge", "prefix_ok", f"{port} . {low}-{high}"))


_BRIDGE = """  # private-filtered ports, and the MAC range their frames must come from.
  set filtered { type ifname; }
  set prefix_ok { type ifname . ether_addr; flags interval; }

  # Every frame leaving towards a private-filtered port, whether forwarded
  # or sent by the host, flooded or not, must come from its network's MACs.
  chain isolation {
    type filter hook postrouting priority filter; policy accept;
    oifname @filtered oifname . ether saddr != @prefix_ok drop
  }

"""


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    return {"bridge": _BRIDGE}


FEATURE = Feature(
    "mac_filter",
    answers=lambda cfg: f"network tag `{cfg.MAC_FILTERED_TAG}`",
    summary="on a shared bridge, only frames from the VM's network MAC prefix reach it",
    applies=applies,
    plan=plan,
    nft=nft,
)
