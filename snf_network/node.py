"""Which Ganeti node this is: hooks act only on the node an operation is about.

Ganeti names nodes by the name they were added with (usually the FQDN) and
runs instance hooks on the master and on every node of the instance, so a
hook must compare names the way Ganeti knows them. The original compared
``GANETI_INSTANCE_PRIMARY`` with ``hostname -f`` (commit a2ab142), which fails
when the node was added by another alias. Here, in order:

1. ``NODE_NAME`` from the configuration, when set;
2. the entry of Ganeti's ``ssconf_node_list`` that is this host;
3. the FQDN (``socket.getfqdn()``).
"""

from __future__ import annotations

import socket
from pathlib import Path

from snf_network.config import Config


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def this_node(cfg: Config) -> str:
    """This node's name as Ganeti knows it (lower case, no trailing dot)."""
    if cfg.NODE_NAME:
        return _normal(cfg.NODE_NAME)
    nodes = _ssconf_nodes(cfg.SSCONF_DIR)
    if nodes:
        # The host name first: it needs no resolver, while getfqdn() may wait
        # on DNS. A short host name matches a node by its first label, when
        # exactly one node has that label.
        hostname = _normal(socket.gethostname())
        if hostname in nodes:
            return hostname
        short = hostname.split(".", 1)[0]
        by_label = [node for node in nodes if node.split(".", 1)[0] == short]
        if len(by_label) == 1:
            return by_label[0]
        fqdn = _normal(socket.getfqdn())
        if fqdn in nodes:
            return fqdn
    return _normal(socket.getfqdn())


def is_this_node(name: str, cfg: Config) -> bool:
    """Whether ``name`` (a node name from Ganeti) is this node; case and a final dot do not matter."""
    return bool(name.strip()) and _normal(name) == this_node(cfg)


def _ssconf_nodes(directory: str) -> list[str]:
    try:
        with open(Path(directory) / "ssconf_node_list", encoding="utf-8") as handle:
            return [_normal(line) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []  # not a Ganeti node, or not yet initialised
