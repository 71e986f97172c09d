"""Dynamic DNS for instances: A, AAAA and PTR records kept by snf-network-dnshook.

Importing this package is cheap: dnspython is imported only by the modules
that talk to a server (``server``), and only when a caller needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.nic import Nic


def remove_nic_records(cfg: Config, nic: Nic, env: Mapping[str, str] | None = None) -> None:
    """Delete the A/AAAA/PTR records of one NIC; best effort, failures are logged, never raised."""
    if not cfg.AUTHENTICATION_METHOD or not cfg.SERVER or not cfg.FZONE or not nic.has_tag(cfg.DNS_TAG):
        return  # DNS off, or not a DNS NIC: no need to pay for dnspython's import
    from snf_network import log
    from snf_network.dns import sync

    try:
        sync.remove_nic_records(cfg, nic, env)
    except Exception as exc:  # best effort: a NIC going down must never fail on DNS
        log.error(f"DNS records of the NIC not removed: internal error: {type(exc).__name__}: {exc}")
