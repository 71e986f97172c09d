"""snf-network-switch-hook: Ganeti's network-connect and network-disconnect post hook.

Ganeti runs it on every node of the group when a network is connected to
or disconnected from it, with GANETI_GROUP_NETWORK_MODE, _LINK and _VLAN
(reference: ganeti-nfdhcpd.md 3.5). On connect, a bridged or openvswitch
network's LINK that SWITCHES_FILE declares is brought up (``snf-network
switch apply LINK``: idempotent, so a switch already there is left as it
is), so that a node group's switches follow Ganeti's networks; a LINK the
file does not declare and the node lacks is logged as an error, since the
network's instances could not start here. Disconnecting removes nothing:
other networks and running instances may share the switch, and ``switch
apply`` removes what the file no longer declares. Always exits 0 (a post
hook cannot undo the operation); what it did goes to the log.
"""

from __future__ import annotations

from snf_network import log
from snf_network.entry.common import Run, program

PROGRAM = "snf-network-switch-hook"
USAGE = """
usage: snf-network-switch-hook    (run by Ganeti as a network-connect/-disconnect post hook)

Brings the switch of a connected bridged or openvswitch network up from
SWITCHES_FILE. Always exits 0; see snf-network(8), "switch".
"""
CONNECT, DISCONNECT = "OP_NETWORK_CONNECT", "OP_NETWORK_DISCONNECT"


def _hook(run: Run) -> None:
    from snf_network import checks, vlans
    from snf_network.switch import engine, ovs, spec

    env, cfg, host = run.env, run.cfg, run.host
    opcode = env.get("GANETI_OP_CODE", "")
    if opcode not in (CONNECT, DISCONNECT):
        log.debug(f"nothing to do for {checks.shown(opcode)}")
        return
    mode = env.get("GANETI_GROUP_NETWORK_MODE", "")
    group = env.get("GANETI_GROUP_NAME", "")
    log.context(instance=f"group {group}" if group.isprintable() and " " not in group else repr(group)[:80])
    if mode not in ("bridged", "openvswitch"):
        log.info(f"{checks.shown(mode)} network: no switch to bring up")
        return
    link = checks.interface_name(env.get("GANETI_GROUP_NETWORK_LINK", ""), "GANETI_GROUP_NETWORK_LINK")
    vlan = env.get("GANETI_GROUP_NETWORK_VLAN", "")
    if vlan and not checks.is_vlan(vlan):
        raise checks.refused("GANETI_GROUP_NETWORK_VLAN", "not a Ganeti VLAN (.N, :N:M or .N:M)", vlan)
    # The one reader of Ganeti's VLAN syntax, which also refuses a VID outside 1-4094.
    vids = vlans.parse(vlan, "GANETI_GROUP_NETWORK_VLAN").all if vlan else ()
    if opcode == DISCONNECT:
        log.info(f"network on {link} disconnected: the switch stays (switch apply removes what "
                 "SWITCHES_FILE no longer declares)")
        return
    switches = spec.load(cfg.SWITCHES_FILE)
    declared = switches.get(link)
    if declared is None:
        there = host.is_bridge(link) if mode == "bridged" else ovs.bridge_exists(host, cfg, link)
        if there:
            log.info(f"{link} is there (not declared in {cfg.SWITCHES_FILE}): nothing to do")
        else:
            log.error(f"{link} does not exist on this node and {cfg.SWITCHES_FILE} does not declare it: "
                      "the network's instances cannot start here")
        return
    if (mode == "openvswitch") != (declared.type == "openvswitch"):
        log.error(f"{link}: a {mode} network, but {cfg.SWITCHES_FILE} declares a {declared.type}: nothing done")
        return
    for line in engine.apply(host, cfg, (link,)):
        log.info(f"{link}: {line}")
    # An OVS port without trunks (an empty list) carries every VLAN; a Linux uplink only those it lists.
    trunks_all = declared.type == "openvswitch" and not declared.vlans
    missing = [vid for vid in vids if declared.port and not trunks_all and vid not in declared.vlans]
    if missing:
        log.warning(f"{link}: VLAN {', '.join(map(str, missing))} of the network is not trunked on its uplink "
                    f"{declared.port} (add it to vlans = in {cfg.SWITCHES_FILE})")


main = program(PROGRAM, USAGE, _hook, post_hook=True)
