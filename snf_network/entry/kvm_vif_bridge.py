"""kvm-vif-bridge: bring a KVM NIC up (or down), as every Ganeti version calls it.

- Ganeti 2.4 to 3.1 run /etc/ganeti/kvm-vif-bridge with the NIC in the
  environment and no arguments;
- GRNET's Ganeti runs /etc/ganeti/kvm-ifup-custom with the tap as $1;
- Ganeti 3.2 runs /etc/ganeti/network/<mode>/{up,down} with ACTION=up|down
  (and MIGRATION_PHASE on the target of a migration).
"""

from __future__ import annotations

from snf_network import checks, engine, log
from snf_network import nic as nic_module
from snf_network.entry.common import Run, program, run_extra_script
from snf_network.errors import InputError
from snf_network.nld.nudge import nudge

USAGE = """
usage: kvm-vif-bridge [TAP]    (the NIC in Ganeti's environment: INTERFACE, MAC, MODE, LINK, IP, NETWORK_*, ...)

Brings a KVM NIC's host side up, or down with ACTION=down (Ganeti 3.2's
network scripts). Exit status 0 when the NIC is configured as asked; 2 for a
bad value, 1 when the host could not be changed (nothing is left half done).
See snf-network(8) and docs/ganeti.md.
"""


def _work(run: Run) -> int:
    cfg, env, argv, host = run.cfg, run.env, run.argv, run.host
    tap = argv[1] if len(argv) > 1 else None
    action = env.get("ACTION", "up") or "up"
    if action not in ("up", "down"):
        raise InputError(f"ACTION: expected up or down, got {action[:20]!r}")
    phase = env.get("MIGRATION_PHASE", "")
    if phase not in ("", "pre", "post"):
        raise InputError(f"MIGRATION_PHASE: expected pre or post, got {phase[:20]!r}")
    if action == "down":
        interface = checks.interface_name(tap or env.get("INTERFACE", ""))
        log.context(interface=interface)
        if not engine.ifdown(host, cfg, interface):
            log.info("down: nothing recorded for this interface")
        nudge(cfg.NLD_SOCKET, "down", interface)
        return 0
    # Communication NICs (gnt.com.N) too: up to 3.1 kvm-ifup runs us after
    # sourcing Ganeti's kvm-ifup-os, on 3.2 its routed up script is us (or
    # our kvm-ifup-os is); see docs/communication.md.
    nic = nic_module.from_env(env, tap)
    log.context(interface=nic.interface, instance=nic.instance)
    plan = engine.ifup(host, nic, cfg)
    if nic.is_communication:
        return 0  # IFUP_EXTRA_SCRIPT was never run for these (Ganeti's own script configured them)
    status = run_extra_script(cfg, argv, env, plan.derived)
    if status != 0:
        # Ganeti will not start the VM, and stock Ganeti never runs an ifdown.
        engine.ifdown(host, cfg, nic.interface)
    elif nic.mode == "routed":
        nudge(cfg.NLD_SOCKET, "up", nic.interface)  # an NBMA overlay's daemon announces it at once
    return status


main = program("kvm-vif-bridge", USAGE, _work)
