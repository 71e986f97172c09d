"""kvm-ifdown-custom <tap> [true|false]: GRNET Ganeti's ifdown.

``true`` (shutdown, migration) asks for local cleanup only; ``false`` (NIC
hot-remove) also for what lives outside the node for that NIC: its DNS
records, when its network has the DNS tag. Both work from the tap's record,
so they work when the tap is already gone, and a second run finds nothing.
"""

from __future__ import annotations

from snf_network import checks, engine, log, record
from snf_network.entry.common import Run, program
from snf_network.errors import InputError
from snf_network.nld.nudge import nudge

USAGE = """
usage: kvm-ifdown-custom TAP [true|false]

Removes what was set up for TAP, from its record (the tap may be gone).
"true" (the default: shutdown, migration) cleans this node only; "false"
(a NIC hot-remove) also removes the NIC's DNS records. See snf-network(8).
"""


def _work(run: Run) -> int:
    cfg, env, argv, host = run.cfg, run.env, run.argv, run.host
    interface = checks.interface_name(argv[1] if len(argv) > 1 else env.get("INTERFACE", ""))
    only_local = argv[2] if len(argv) > 2 else "true"
    if only_local not in ("true", "false"):
        raise InputError(f"second argument: expected true or false, got {only_local[:20]!r}")
    log.context(interface=interface)
    # Read before ifdown removes it: the record is the only description of the
    # NIC left (the tap may be gone, GRNET's ifdown environment has no TAGS).
    old = record.load(host, cfg, interface) if only_local == "false" else None
    if not engine.ifdown(host, cfg, interface):
        log.info("down: nothing recorded for this interface")
    nudge(cfg.NLD_SOCKET, "down", interface)
    if old is not None and old.nic.has_tag(cfg.DNS_TAG):
        # A hot-removed NIC takes its DNS records with it; best effort, never a failure.
        from snf_network.dns import remove_nic_records

        remove_nic_records(cfg, old.nic, env)
    return 0


main = program("kvm-ifdown-custom", USAGE, _work)
