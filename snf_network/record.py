"""The per-interface record: what we applied for a NIC, as JSON a person can read.

ifdown, a reused tap name and the instance hooks all work from this record,
never from tags or an environment that may have changed since.
"""

from __future__ import annotations

import json
import os
import time

from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host import files
from snf_network.nic import Nic
from snf_network.plan import Item, item_from_dict, item_to_dict

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
        data = {
            "version": VERSION,
            "interface": self.interface,
            "complete": self.complete,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "nic": self.nic.to_env(),
            "features": self.features,
            "items": [item_to_dict(item) for item in self.items],
        }
        return json.dumps(data, indent=1) + "\n"


def path(cfg: Config, interface: str) -> str:
    return os.path.join(cfg.STATE_DIR, f"{interface}.json")


def load(cfg: Config, interface: str) -> Record | None:
    where = path(cfg, interface)
    text = files.read(where)
    return None if text is None else _parse(text, where)


def _parse(text: str, where: str) -> Record:
    try:
        data = json.loads(text)
        return Record(
            nic=nic_module.from_env(data["nic"]),
            features=list(data["features"]),
            items=[item_from_dict(item) for item in data["items"]],
            complete=bool(data.get("complete", True)),
        )
    except (ValueError, KeyError, TypeError, SnfNetworkError) as exc:
        # Never guess what a damaged record meant: an operator must look.
        raise SnfNetworkError(f"record {where} is damaged ({exc}); check it, then remove it") from None


def save(cfg: Config, record: Record) -> None:
    files.atomic_replace(path(cfg, record.interface), record.to_json(), mode=0o644)


def delete(cfg: Config, interface: str) -> None:
    files.remove(path(cfg, interface))


def load_all(cfg: Config) -> list[Record]:
    try:
        names = sorted(os.listdir(cfg.STATE_DIR))
    except FileNotFoundError:
        return []
    records = []
    for name in names:
        if name.endswith(".json"):
            where = os.path.join(cfg.STATE_DIR, name)
            text = files.read(where)
            if text is not None:
                records.append(_parse(text, where))
    return records
