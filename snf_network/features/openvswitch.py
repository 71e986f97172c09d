"""Open vSwitch NICs: the tap becomes a port of the switch named by LINK, guarded by OpenFlow flows.

VLAN as Ganeti documents it (snf_network/vlans.py): ``N``/``.N`` an access
port (tag=N), ``:N:M`` a trunk (trunks=N,M), ``.N:M`` a hybrid port
(vlan_mode=native-untagged, tag=N, trunks=N,M). The tap's MAC starts with
``fe`` as on bridges, since an OVS bridge's own address is, like a Linux
bridge's, its ports' lowest. The anti-spoofing of bridged ports, made of
flows (host/ovs.py says why): the same sources, the same guards.
"""

from __future__ import annotations

from snf_network import checks, profiles, qos, vlans
from snf_network.config import Config
from snf_network.errors import InputError
from snf_network.features.base import Feature
from snf_network.nic import Nic
from snf_network.plan import Facts, Link, OvsFlows, OvsPort, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode == "openvswitch"


def port(nic: Nic, limit: qos.Limit | None = None) -> OvsPort:
    tag, trunks, mode = 0, "", ""
    if nic.vlan:
        wanted = vlans.parse(nic.vlan)
        kind = wanted.mode
        if kind == "access":
            tag, mode = wanted.native, "access"
        elif kind == "trunk":
            trunks, mode = ",".join(map(str, sorted(wanted.tagged))), "trunk"
        else:
            tag, mode = wanted.native, "native-untagged"
            trunks = ",".join(map(str, sorted(wanted.all)))
    return OvsPort(nic.link, nic.interface, tag=tag, trunks=trunks, vlan_mode=mode, instance=nic.instance,
                   nic=nic.uuid, mac=nic.mac, rate=limit.rate if limit else 0, burst=limit.burst if limit else 0)


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    from snf_network.host.ovs import cookie

    if not nic.link:
        raise InputError("LINK: not set (an openvswitch NIC needs a switch)")
    if nic.has_tag(cfg.MAC_FILTERED_TAG):
        # Its rules are nft bridge rules, which never see what OVS switches.
        raise InputError(f"NETWORK_TAGS: {cfg.MAC_FILTERED_TAG} is not enforced on Open vSwitch ports; "
                         "use VLANs to separate networks there (see docs/openvswitch.md)")
    _refuse_profiles(nic, facts)
    address = "fe:" + facts.interface_mac[3:] if nic.hypervisor == "kvm" and facts.interface_mac else ""
    any_ip = cfg.NIC_WITHOUT_IP == "any"
    addresses = [nic.link_local] + ([nic.eui64] if nic.eui64 is not None else [])
    # The qos tags (snf_network/qos.py) as OVS's own QoS row and ingress policing on the port:
    # ovs-vswitchd deletes tc state it did not make on its ports (features/qos.py is for taps).
    limit = qos.limit_for(nic, cfg)
    result.derived.update(BRIDGE=nic.link, INDEV=nic.link)
    if limit is not None:
        result.derived["QOS_RATE"] = qos.show_rate(limit.rate)
        if limit.burst:
            result.derived["QOS_BURST"] = str(limit.burst)
    result.add(
        port(nic, limit),
        OvsFlows(nic.link, nic.interface, cookie(nic.interface), nic.mac, ip4=str(nic.ip or ""),
                 ip6=",".join(map(str, addresses)), any4=nic.ip is None and any_ip,
                 any6=nic.eui64 is None and any_ip),
        Link(nic.interface, address=address),
    )
    if nic.ip is None and not any_ip:
        result.notes.append("no IP: only DHCP passes from the VM over IPv4 (NIC_WITHOUT_IP=dhcp-only)")


def _refuse_profiles(nic: Nic, facts: Facts) -> None:
    """A firewall profile tag for this NIC: refused, since its nft rules never see what OVS switches.

    The profiles are the operator's nft rules (features/firewall.py), which
    OpenFlow cannot express; starting the VM unfiltered would drop the
    tenant's firewall silently. The tags are read by profiles.choose, as for
    a bridged NIC, so whatever would filter it there is refused here: a
    ``synnefo:network:<nic>:<profile>`` naming this NIC (known profile or
    not), or a bare ``<profile>`` tag, which covers every NIC.
    """
    idents = nic.idents
    chosen, unknown = profiles.choose(nic.tags, idents, facts.profiles)
    if chosen or unknown:
        # Name the tag: an unknown profile's, else this NIC's own tag for the profile, else the bare one.
        own = [f"synnefo:network:{ident}:{chosen}" for ident in idents]
        tag = next((tag for tag in (*unknown, *own) if tag in nic.tags), chosen)
        raise InputError(f"TAGS: {checks.shown(tag)}: firewall profiles are not enforced on Open vSwitch ports "
                         "(see docs/openvswitch.md)")


FEATURE = Feature(
    "openvswitch",
    answers=lambda cfg: "`MODE=openvswitch`",
    summary=("the tap a port of the Open vSwitch `LINK` in one OVSDB transaction, with `VLAN` as access, "
             "trunk or hybrid port and its owner in `external_ids`; the anti-spoofing of bridged ports as "
             "OpenFlow flows under a cookie of the port's own; the qos tags as its QoS row and ingress policing "
             "([docs/openvswitch.md](docs/openvswitch.md))"),
    applies=applies,
    needs=("interface_mac", "profiles"),
    plan=plan,
)
