"""snf-network-dnshook: Ganeti's instance-{add,modify,rename,remove} post hook.

Keeps the A, AAAA and PTR records of an instance's NICs on networks tagged
DNS_TAG. It runs on the master and every node of the instance; only the
primary acts. It always exits 0: a post hook cannot undo the operation, and
Ganeti would only log a failure, so DNS failures are logged here instead,
with the instance, the records and the server (docs/dns.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from snf_network import log
from snf_network.config import Config
from snf_network.entry.common import Run, program
from snf_network.errors import SnfNetworkError

PROGRAM = "snf-network-dnshook"
USAGE = """
usage: snf-network-dnshook    (run by Ganeti as an instance post hook, with GANETI_* in the environment)

Keeps the A, AAAA and PTR records of an instance's NICs on networks with the
DNS tag. Always exits 0; failures are logged. See snf-network-dnshook(8).
"""


def _hook(run: Run) -> None:
    _run(run.cfg, run.env, run.started)


def _run(cfg: Config, env: Mapping[str, str], start: float) -> None:
    from snf_network.dns import operation

    kind = operation.kind_of(env)
    if kind is None:
        log.debug(f"nothing to do for {env.get('GANETI_OP_CODE', '(no GANETI_OP_CODE)')}")
        return
    name = env.get("GANETI_INSTANCE_NAME", "")
    # Not validated yet: a name with spaces or newlines must not break the log line.
    log.context(instance=name if name.isprintable() and " " not in name else repr(name)[:80])
    primary = env.get("GANETI_INSTANCE_PRIMARY", "")
    from snf_network import node

    if not node.is_this_node(primary, cfg):
        log.debug(f"not the primary node ({primary!r}): nothing to do")
        return
    from snf_network.dns import sync

    reason = sync.disabled_reason(cfg)
    if reason:
        if cfg.AUTHENTICATION_METHOD and cfg.SERVER:  # half configured: worth a word
            log.warning(f"dynamic DNS is off: {reason}")
        else:
            log.debug(f"dynamic DNS is off: {reason}")
        return
    try:
        op = operation.from_hook_env(env)
    except SnfNetworkError as exc:
        log.error(f"bad hook environment, nothing sent to DNS: {exc}")
        return
    log.context(instance=op.instance)
    log.info(f"DNS {op.kind}: {op.instance}{' -> ' + op.new_name if op.new_name else ''}, "
             f"{len(op.nics)} NIC(s)")
    sync.apply(cfg, target=op.target, nics=op.nics, gone=op.gone,
               deadline=sync.deadline_for(cfg, start), env=env)


main = program(PROGRAM, USAGE, _hook, post_hook=True)
