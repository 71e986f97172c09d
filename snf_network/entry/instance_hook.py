"""snf-network-hook: Ganeti's instance post hook that clears what an instance left on a node.

Stock Ganeti (2.x to 3.1) never runs an ifdown for KVM: when an instance
migrates, fails over, stops or is removed, whatever its NICs' ifup set up on
the node stays, and the worst of it outlives the tap: the proxy NDP entry on
the uplink keeps drawing the instance's IPv6 traffic to a node where it no
longer lives (snf-network commits 49116aa, cae36f0, b725f12). Hooks carry no
tap names, so we find the instance's NICs through our records, and remove
what each record lists (engine.ifdown_instance).

Ganeti runs the hook on several nodes (reference: ganeti-nfdhcpd.md 3.4);
each decides from the operation and its own name (node.is_this_node):

- instance-migrate, instance-failover: the old primary clears the instance;
  the new primary does nothing (its ifup configured the NICs); so do the
  others. A ``--cleanup`` run (MIGRATE_CLEANUP/FAILOVER_CLEANUP=True) does
  nothing: the hook cannot tell on which node the instance ended up;
- instance-stop, instance-remove: the instance's primary clears it;
- instance-modify: the instance's primary clears the records of its NICs
  whose taps are gone (a NIC hot-removed or hot-modified onto a new tap;
  stock Ganeti runs no ifdown for the old one);
- instance-start: nothing to remove (the ifup before it configured the NICs);
  logged only;
- any other operation, and the pre phase: nothing.

A NIC of the hook's list that has no record (set up by the bash snf-network
before an upgrade) still loses its proxy NDP entries on the uplinks, as the
original hook did. The hook always exits 0 in the post phase (Ganeti only
logs a post hook's failure); what it did or could not do goes to the log.
Its environment is Ganeti's cleared one, so its config is always
/etc/default/snf-network (or $SNF_NETWORK_CONFIG, which tests set).
"""

from __future__ import annotations

from snf_network import log
from snf_network.config import Config
from snf_network.entry.common import Run, program
from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping

    from snf_network.nic import Nic


PROGRAM = "snf-network-hook"
MOVING = ("OP_INSTANCE_MIGRATE", "OP_INSTANCE_FAILOVER")
STOPPING = ("OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REMOVE")
MODIFYING = "OP_INSTANCE_SET_PARAMS"


def decide(cfg: Config, env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether this node clears the instance, and why (for the log)."""
    from snf_network.node import is_this_node

    opcode = env.get("GANETI_OP_CODE", "")
    if opcode in MOVING:
        if "True" in (env.get("GANETI_MIGRATE_CLEANUP"), env.get("GANETI_FAILOVER_CLEANUP")):
            return False, "a --cleanup run: where the instance runs is not known here, nothing done"
        old, new = env.get("GANETI_OLD_PRIMARY", ""), env.get("GANETI_NEW_PRIMARY", "")
        if not old or not new:
            raise InputError("GANETI_OLD_PRIMARY or GANETI_NEW_PRIMARY: not set")
        if is_this_node(new, cfg):
            return False, "new primary: the NICs' ifup configured them here, nothing to do"
        if is_this_node(old, cfg):
            return True, f"old primary (the instance moved to {new})"
        return False, "neither the old nor the new primary: nothing to do"
    if opcode in STOPPING or opcode == MODIFYING:
        primary = env.get("GANETI_INSTANCE_PRIMARY", "")
        if not primary:
            raise InputError("GANETI_INSTANCE_PRIMARY: not set")
        if not is_this_node(primary, cfg):
            return False, "not the instance's primary: nothing to do"
        if opcode == MODIFYING:
            return True, "the instance's primary: NICs whose taps are gone"
        return True, "the instance's primary"
    if opcode == "OP_INSTANCE_STARTUP":
        return False, "instance start: the NICs' ifup configured them, nothing to remove"
    return False, f"nothing to do for {opcode or '(no GANETI_OP_CODE)'}"


def run(hook: Run) -> None:
    cfg, env, host = hook.cfg, hook.env, hook.host
    opcode = env.get("GANETI_OP_CODE", "")
    instance = env.get("GANETI_INSTANCE_NAME", "")
    if opcode not in (*MOVING, *STOPPING, MODIFYING, "OP_INSTANCE_STARTUP"):
        log.debug(f"nothing to do for {opcode[:40] or '(no GANETI_OP_CODE)'}")
        return
    from snf_network.checks import is_instance_name

    if not is_instance_name(instance):
        # Not validated yet: keep the log line one line.
        raise InputError(f"GANETI_INSTANCE_NAME: not a valid instance name: {instance[:80]!r}")
    log.context(instance=instance)
    clear, reason = decide(cfg, env)
    if opcode in MOVING:
        from snf_network.nld.nudge import nudge

        # Every node: the new primary's daemon announces, the old one withdraws (best effort).
        nudge(cfg.NLD_SOCKET, "moved", instance)
    if not clear:
        log.info(f"{opcode}: {reason}")
        return
    from snf_network import engine

    if opcode == MODIFYING:
        cleaned = engine.ifdown_instance(host, cfg, instance, vanished_only=True)
        log.info(f"{opcode}: {reason}; cleared {', '.join(old.interface for old in cleaned) or 'nothing'}")
        return
    nics = _hook_nics(env)

    cleaned = engine.ifdown_instance(host, cfg, instance)
    log.info(f"{opcode}: {reason}; cleared {', '.join(old.interface for old in cleaned) or 'no recorded interface'}")
    macs = {old.nic.mac for old in cleaned}
    unrecorded = [nic for nic in nics if nic.mac not in macs]
    for line in engine.remove_unrecorded_proxies(host, cfg, unrecorded):
        log.info(f"a NIC without a record (set up before the upgrade?): removed {line}")


def _hook_nics(env: Mapping[str, str]) -> list[Nic]:
    """The instance's NICs as the hook describes them; a bad one is logged and skipped."""
    from snf_network import checks
    from snf_network import nic as nic_module

    try:
        count = checks.nic_count(env.get("GANETI_INSTANCE_NIC_COUNT", "0") or "0")
    except InputError as exc:
        log.warning(f"{exc}; records only")
        return []
    nics = []
    for index in range(count):
        try:
            nics.append(nic_module.from_hook_env(env, index))
        except InputError as exc:
            log.warning(f"NIC {index} skipped: {exc}")
    return nics


USAGE = """
usage: snf-network-hook    (run by Ganeti as an instance post hook, with GANETI_* in the environment)

Clears what an instance's NICs left on this node when it migrates, fails
over, stops, is removed, or loses a NIC. Always exits 0. See snf-network-hook(8).
"""

main = program(PROGRAM, USAGE, run, post_hook=True)
