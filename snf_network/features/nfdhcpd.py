"""The ``nfdhcpd`` tag: a binding file for the node's DHCP responder, and the rules that feed it.

The responder is ours, snf-dhcpd (``DHCP_SERVER=snf-dhcpd``, the default),
or GRNET's nfdhcpd (``DHCP_SERVER=nfdhcpd``). Both learn about a tap from a
file named after the tap in ``NFDHCPD_STATE_DIR`` (snf_network/dhcpd/binding.py:
nfdhcpd parses it with ``line.split('=')[1]``, no quotes, no empty MTU=, and
watches with inotify for IN_CLOSE_WRITE and IN_DELETE only: the host layer
writes it in place). nfdhcpd reads the requests from NFQUEUE; snf-dhcpd from
packet sockets, which see a frame before nftables does, so its rules drop the
requests it answers instead: nothing else on the node answers them too.
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.dhcpd.binding import render
from snf_network.features.base import Feature, RulesetInputs
from snf_network.nic import Nic
from snf_network.plan import BindingFile, Facts, NftElement, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.has_tag(cfg.NFDHCPD_TAG)


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    # Replies go out of INDEV: the tap itself when routed, the bridge when bridged.
    indev = nic.link if nic.mode == "bridged" else nic.interface
    net = nic.network
    eui64 = nic.eui64
    lines = {
        "INDEV": indev,
        "IP": str(nic.ip or ""),
        "MAC": nic.mac,
        "HOSTNAME": nic.instance,
        "SUBNET": str(net.subnet or ""),
        "GATEWAY": str(net.gateway or ""),
        "SUBNET6": str(net.subnet6 or ""),
        "GATEWAY6": str(net.gateway6 or ""),
        "EUI64": str(eui64 or ""),
        # The largest frame the VM can send on: the bridge's, or the routed uplink's.
        "MTU": str((facts.bridge_mtu if nic.mode == "bridged" else facts.uplink_mtu) or ""),
    }
    # render() leaves absent keys out: one reads as unset, exactly like an
    # empty one, and cannot trip nfdhcpd's int() conversions.
    content = render(lines)
    family = "bridge" if nic.mode == "bridged" else "inet"
    result.add(
        BindingFile(f"{cfg.NFDHCPD_STATE_DIR}/{nic.interface}", content),
        NftElement(family, "dhcp_ports", f'"{nic.interface}"'),
    )


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    """The queues nfdhcpd reads; it finds the client by the tap the packet came in on (physindev or indev).

    ``bypass``: while no nfdhcpd listens on a queue, its packets go on as if
    unqueued (the node's own ND answers the VM) instead of being dropped; a
    node whose nfdhcpd is stopped, or not installed, must not cut every
    tagged VM off its IPv6 router (seen on Debian 12's kernel under kvm-run).
    """
    queues = bridge_queues = ""
    if cfg.DHCP_SERVER == "snf-dhcpd":
        # snf-dhcpd's packet sockets saw these before this hook: nobody else
        # answers them. Neighbour solicitations pass on: the tap's own
        # link-local (the VM's router) is answered by the kernel even while
        # snf-dhcpd is stopped.
        queues = """
    iifname @dhcp_ports udp dport 67 drop
    iifname @dhcp_ports icmpv6 type nd-router-solicit drop
    iifname @dhcp_ports udp dport 547 drop"""
        bridge_queues = """
    iifname @dhcp_ports udp dport 67 drop"""
    elif inputs.queues:
        queues = f"""
    iifname @dhcp_ports udp dport 67 queue num {cfg.NFDHCPD_DHCP_QUEUE} bypass
    iifname @dhcp_ports icmpv6 type nd-router-solicit queue num {cfg.NFDHCPD_RS_QUEUE} bypass
    iifname @dhcp_ports icmpv6 type nd-neighbor-solicit queue num {cfg.NFDHCPD_NS_QUEUE} bypass
    iifname @dhcp_ports udp dport 547 queue num {cfg.NFDHCPD_DHCPV6_QUEUE} bypass"""
        bridge_queues = f"""
    iifname @dhcp_ports udp dport 67 queue num {cfg.NFDHCPD_DHCP_QUEUE} bypass"""
    return {
        "inet": f"""  set dhcp_ports {{ type ifname; }}

  chain nfdhcpd {{
    type filter hook prerouting priority mangle; policy accept;{queues}
  }}

""",
        "bridge": f"""  set dhcp_ports {{ type ifname; }}

  chain nfdhcpd {{
    type filter hook prerouting priority filter; policy accept;{bridge_queues}
  }}

""",
    }


FEATURE = Feature(
    "nfdhcpd",
    answers=lambda cfg: f"network tag `{cfg.NFDHCPD_TAG}`",
    summary="a binding file for snf-dhcpd (or GRNET's nfdhcpd), and nftables rules for the requests it answers",
    applies=applies,
    needs=("bridge_mtu", "uplink_mtu"),
    plan=plan,
    nft=nft,
)
