"""kvm-ifdown-custom <tap> [true|false]: GRNET Ganeti's ifdown.

``true`` (shutdown, migration) asks for local cleanup only; ``false`` (NIC
hot-remove) also for what lives outside the node for that NIC: its DNS
records, when its network has the DNS tag. Both work from the tap's record,
so they work when the tap is already gone, and a second run finds nothing.
"""

from __future__ import annotations

import sys

from snf_network import engine, log, record
from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.entry.common import exit_now, run_program
from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


PROGRAM = "kvm-ifdown-custom"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    status = run_program(PROGRAM, env, lambda cfg, environ: _work(cfg, args, environ))
    if argv is None and env is None:  # we are the process Ganeti started
        exit_now(status)
    return status


def _work(cfg: Config, argv: list[str], env: Mapping[str, str]) -> int:
    interface = nic_module.interface_name(argv[1] if len(argv) > 1 else env.get("INTERFACE", ""))
    only_local = argv[2] if len(argv) > 2 else "true"
    if only_local not in ("true", "false"):
        raise InputError(f"second argument: expected true or false, got {only_local!r}")
    log.context(interface=interface)
    # Read before ifdown removes it: the record is the only description of the
    # NIC left (the tap may be gone, GRNET's ifdown environment has no TAGS).
    old = record.load(cfg, interface) if only_local == "false" else None
    if not engine.ifdown(cfg, interface):
        log.info("down: nothing recorded for this interface")
    if old is not None and old.nic.has_tag(cfg.DNS_TAG):
        # A hot-removed NIC takes its DNS records with it; best effort, never a failure.
        from snf_network.dns import remove_nic_records

        remove_nic_records(cfg, old.nic, env)
    return 0
