"""The per-interface record: what we applied for a NIC, as JSON a person can read.

ifdown, a reused tap name and the instance hooks all work from this record,
never from tags or an environment that may have changed since.
"""

from __future__ import annotations

import _json  # the json package's C half: the package itself would import re (see _ScannerContext)
import os
import time

from snf_network import nic as nic_module
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host import files
from snf_network.nic import Nic
from snf_network.plan import Item, item_from_dict, item_to_dict

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

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
    """JSON for the str, int, bool, list and dict values a record holds."""
    if isinstance(value, str):
        return str(_json.encode_basestring_ascii(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_encode(element) for element in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_encode(key)}: {_encode(element)}" for key, element in value.items()) + "}"
    if value is None:
        return "null"
    raise TypeError(f"a record cannot hold {value!r}")


class _ScannerContext:
    """What the C JSON scanner reads from its owner (json.decoder.JSONDecoder's attributes).

    The json package costs its ``re`` import (a tenth of a NIC program's
    start); its C scanner alone parses our records just the same.
    """

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None


_scan = _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]  # typeshed wants a JSONDecoder


def _decode(text: str) -> dict[str, Any]:
    start = len(text) - len(text.lstrip())
    data, end = _scan(text, start)
    if text[end:].strip() or not isinstance(data, dict):  # a whole object, nothing after it
        raise ValueError("not one JSON object")
    return data


def path(cfg: Config, interface: str) -> str:
    return os.path.join(cfg.STATE_DIR, f"{interface}.json")


def load(cfg: Config, interface: str) -> Record | None:
    where = path(cfg, interface)
    text = files.read(where)
    return None if text is None else _parse(text, where)


def _parse(text: str, where: str) -> Record:
    try:
        data = _decode(text)
        return Record(
            nic=nic_module.from_env(data["nic"]),
            features=list(data["features"]),
            items=[item_from_dict(item) for item in data["items"]],
            complete=bool(data.get("complete", True)),
        )
    except (ValueError, KeyError, TypeError, StopIteration, SnfNetworkError) as exc:
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
            if text is None:
                continue
            try:
                records.append(_parse(text, where))
            except SnfNetworkError as exc:
                # One damaged record must not stop the hooks and cleanup for every other interface.
                from snf_network import log

                log.error(str(exc))
    return records
