"""JSON for the NIC programs without the json module, whose decoder imports re (and enum): about 5 ms.

``_json``, the C half of the json module, does the work: its scanner parses,
its string encoder quotes. Used where a NIC program reads or writes JSON on
its own path: the records (record.py), OVSDB's JSON-RPC (host/ovsdb.py) and
nft's ``-j`` output (host/nft.py). The services and the CLI use the json module.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any, ClassVar


class _Context:
    """What ``_json.make_scanner`` reads from a decoder (json.decoder.JSONDecoder's attributes)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    memo: ClassVar[dict[str, str]] = {}
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(f"{name} is not JSON")


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed: it reads the attributes above


def scan(text: str, start: int = 0) -> tuple[Any, int]:
    """The value that starts at ``start`` (after any white space) and where it ends; ValueError if there is none.

    The C scanner reports a value cut short in several ways (StopIteration,
    the json module's JSONDecodeError, which it imports to raise, and on
    Python 3.11 even SystemError for an object cut inside): all are one
    ValueError here.
    """
    while start < len(text) and text[start] in " \t\r\n":
        start += 1
    try:
        return _scan(text, start)
    except (StopIteration, ValueError, SystemError, RecursionError):
        raise ValueError(f"no complete JSON value at character {start}") from None


def loads(text: str) -> Any:
    """The one value ``text`` holds; ValueError for anything else."""
    value, end = scan(text)
    if text[end:].strip():
        raise ValueError(f"more than one JSON value (character {end})")
    return value


def complete(text: str) -> int:
    """Where the first whole JSON object or array of ``text`` ends (0: not all of it is there yet).

    For a stream of JSON-RPC messages: a message is known whole before it is
    parsed, so a message cut short is told from a malformed one. Braces and
    brackets are counted outside strings; str.find skips ahead in C.
    """
    depth, index, length = 0, 0, len(text)
    while index < length:
        char = text[index]
        if char == '"':
            index += 1
            while True:  # to the closing quote: one not escaped by an odd run of backslashes
                index = text.find('"', index)
                if index < 0:
                    return 0
                backslashes = 0
                while text[index - 1 - backslashes] == "\\":
                    backslashes += 1
                if backslashes % 2 == 0:
                    break
                index += 1
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return 0


def dumps(value: Any, comma: str = ",", colon: str = ":") -> str:
    """JSON of dicts, lists, tuples, strings, integers, booleans and None (``", "`` and ``": "`` to read it)."""
    if isinstance(value, str):
        return str(_json.encode_basestring_ascii(value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + comma.join(dumps(item, comma, colon) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + comma.join(f"{dumps(str(key))}{colon}{dumps(item, comma, colon)}"
                                for key, item in value.items()) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON here")
