"""The ``dns`` tag: A, AAAA and PTR records for the instance's NICs.

Nothing on the node: the records are kept by the instance hooks
(``snf-network-dnshook``, snf_network/dns/) and, for a hot-removed NIC, by
``kvm-ifdown-custom <tap> false``. The feature is here so that a NIC's plan
and record say the tag was seen, and so that the registry lists every tag.
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.features.base import Feature
from snf_network.nic import Nic


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.has_tag(cfg.DNS_TAG)


FEATURE = Feature(
    "dns",
    answers=lambda cfg: f"network tag `{cfg.DNS_TAG}`",
    summary="A, AAAA and PTR records kept by `snf-network-dnshook` ([docs/dns.md](docs/dns.md))",
    applies=applies,
)
