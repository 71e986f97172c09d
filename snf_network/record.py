"""The per-interface record: what we applied for a NIC, as JSON a person can read.

ifdown, a reused tap name and the instance hooks all work from this record,
never from tags or an environment that may have changed since.
"""

from __future__ import annotations

import os
import time

from snf_network import jsonlite
from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.nic import Nic
from snf_network.plan import Item, item_from_dict, item_to_dict

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

    from snf_network.host import Host

VERSION = 1


class Record:
    def __init__(self, nic: Nic, features: list[str], items: list[Item], complete: bool = True) -> None:
        self.nic = nic
        self.features = features
        self.items = items
        self.complete = complete  # False while a change is under way (the items are a superset)

    @property
    def interface(self) -> str:
        return self.nic.interface

    def to_json(self) -> str:
        """One field per line and one item per line: readable, and diffable."""
        head = {
            "version": VERSION,
            "interface": self.interface,
            "complete": self.complete,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "nic": self.nic.to_env(),
            "features": self.features,
        }
        fields = [f" {_encode(key)}: {_encode(value)}" for key, value in head.items()]
        items = ",\n".join(f"  {_encode(item_to_dict(item))}" for item in self.items)
        return "{\n" + ",\n".join(fields) + f',\n "items": [\n{items}\n ]\n}}\n'


def _encode(value: object) -> str:
    return jsonlite.dumps(value, ", ", ": ")


def _decode(text: str) -> dict[str, Any]:
    """One JSON object, or ValueError (tests/unit/test_record.py cuts a record at every byte)."""
    data = jsonlite.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not one JSON object")
    return data


def path(cfg: Config, interface: str) -> str:
    return os.path.join(cfg.STATE_DIR, f"{interface}.json")


def load(host: Host, cfg: Config, interface: str) -> Record | None:
    where = path(cfg, interface)
    try:
        text = host.read(where)
    except OSError as exc:  # a symlink planted in its place (ELOOP), a directory
        raise SnfNetworkError(f"record {where} cannot be read ({exc.strerror}); check it, then remove it") from None
    return None if text is None else _parse(text, where, interface)


def _parse(text: str, where: str, interface: str) -> Record:
    try:
        data = _decode(text)
        entry = Record(
            nic=nic_module.from_env(data["nic"], checked=False),
            features=[str(name) for name in data["features"]],
            items=[item_from_dict(item) for item in data["items"]],
            complete=bool(data.get("complete", True)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, SnfNetworkError) as exc:
        # Never guess what a damaged record meant: an operator must look.
        raise SnfNetworkError(f"record {where} is damaged ({str(exc)[:120]}); check it, then remove it") from None
    if entry.interface != interface:
        # A record copied (or planted) under another name must not make us
        # undo one interface's state when asked about another.
        raise SnfNetworkError(f"record {where} describes {entry.interface}, not {interface}; check it, then remove it")
    return entry


def save(host: Host, cfg: Config, record: Record) -> None:
    host.write(path(cfg, record.interface), record.to_json(), mode=0o644)


def delete(host: Host, cfg: Config, interface: str) -> None:
    host.remove(path(cfg, interface))


def load_all(host: Host, cfg: Config) -> list[Record]:
    """Every record that can be read; a damaged one is logged and left for the operator."""
    records = []
    for name in host.listdir(cfg.STATE_DIR):
        if not name.endswith(".json"):
            continue
        where = os.path.join(cfg.STATE_DIR, name)
        try:
            text = host.read(where)
            if text is not None:
                records.append(_parse(text, where, name[: -len(".json")]))
        except (SnfNetworkError, OSError) as exc:
            # One damaged record must not stop the hooks and cleanup for every other interface.
            from snf_network import log

            log.error(str(exc))
    return records


class Claims:
    """Which interface owns each shared item (plan.Item.shared): one small file per item.

    A proxy entry is keyed by address and uplink, not by tap: when an
    instance restarts on another tap before its old tap's record is undone
    (stock Ganeti runs no ifdown), undoing the old record must not take the
    entry from the new tap. A file per claim keeps that question one read,
    where asking every record would cost a parse of each.
    """

    def __init__(self, host: Host, cfg: Config) -> None:
        self.host = host
        # "proxies": the first wave's name, kept so that upgraded nodes keep their claims.
        self.directory = os.path.join(cfg.STATE_DIR, "proxies")

    def _path(self, item: Item) -> str:
        return os.path.join(self.directory, item.claim_key())

    def owned(self, interface: str, items: list[Item]) -> list[Item]:
        """``items`` less the shared ones another interface has claimed since."""
        kept = []
        for item in items:
            if item.shared:
                owner = self.host.read(self._path(item))
                if owner is not None and owner.strip() != interface:
                    continue
            kept.append(item)
        return kept

    def update(self, interface: str, claimed: list[Item], released: list[Item]) -> None:
        """Record that ``interface`` owns ``claimed``, and forget its claims on ``released``."""
        for item in released:
            if item.shared and item not in claimed:
                where = self._path(item)
                if (self.host.read(where) or "").strip() == interface:
                    self.host.remove(where)
        for item in claimed:
            if item.shared:
                self.host.write(self._path(item), interface + "\n")
