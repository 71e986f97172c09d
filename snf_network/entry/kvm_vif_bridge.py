"""kvm-vif-bridge: bring a KVM NIC up (or down), as every Ganeti version calls it.

- Ganeti 2.4 to 3.1 run /etc/ganeti/kvm-vif-bridge with the NIC in the
  environment and no arguments;
- GRNET's Ganeti runs /etc/ganeti/kvm-ifup-custom with the tap as $1;
- Ganeti 3.2 runs /etc/ganeti/network/<mode>/{up,down} with ACTION=up|down
  (and MIGRATION_PHASE on the target of a migration).
"""

from __future__ import annotations

import sys

from snf_network import engine, log
from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.entry.common import exit_now, run_extra_script, run_program
from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


PROGRAM = "kvm-vif-bridge"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    status = run_program(PROGRAM, env, lambda cfg, environ: _work(cfg, args, environ))
    if argv is None and env is None:  # we are the process Ganeti started
        exit_now(status)
    return status


def _work(cfg: Config, argv: list[str], env: Mapping[str, str]) -> int:
    tap = argv[1] if len(argv) > 1 else None
    action = env.get("ACTION", "up") or "up"
    if action not in ("up", "down"):
        raise InputError(f"ACTION: expected up or down, got {action!r}")
    phase = env.get("MIGRATION_PHASE", "")
    if phase not in ("", "pre", "post"):
        raise InputError(f"MIGRATION_PHASE: expected pre or post, got {phase!r}")
    if action == "down":
        interface = nic_module.interface_name(tap or env.get("INTERFACE", ""))
        log.context(interface=interface)
        if not engine.ifdown(cfg, interface):
            log.info("down: nothing recorded for this interface")
        return 0
    interface = tap or env.get("INTERFACE", "")
    if interface.startswith(nic_module.COMMUNICATION_TAP_PREFIX) or env.get("INTERFACE_NAME", "").startswith(
            nic_module.COMMUNICATION_NAME_PREFIX):
        # Ganeti's own kvm-ifup-os configures these (and execs us anyway, up to 3.1).
        log.context(interface=interface)
        log.info("instance communication NIC: left to Ganeti")
        return 0
    nic = nic_module.from_env(env, tap)
    log.context(interface=nic.interface, instance=nic.instance)
    plan = engine.ifup(nic, cfg)
    status = run_extra_script(cfg, argv, env, plan.derived)
    if status != 0:
        # Ganeti will not start the VM, and stock Ganeti never runs an ifdown.
        engine.ifdown(cfg, nic.interface)
    return status
