"""A base for small value classes: equality, hashing and repr from ``__slots__``.

Our NIC programs must start in a few milliseconds, and ``dataclasses`` (with
the ``inspect`` module it loads and the code it generates per class) costs
more than the rest of a NIC bring-up's imports together. Subclasses list their
fields in ``__slots__`` and assign them once, in ``__init__``: a value is
immutable, so it can be a set member or dict key, and what the engine planned
is what it records.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any


class Value:
    __slots__ = ()
    # Fields left out of equality and hashing (bookkeeping, not identity).
    uncompared: tuple[str, ...] = ()

    if not TYPE_CHECKING:  # hidden from mypy, which would take any __setattr__ as "any attribute goes"

        def __setattr__(self, name: str, value: object) -> None:
            # One hasattr per field: an unset slot raises inside it, a set one does not.
            if hasattr(self, name):
                raise AttributeError(f"{type(self).__name__}.{name} is already set: values do not change")
            object.__setattr__(self, name, value)

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__}.{name}: values do not change")

    def _key(self) -> tuple[Any, ...]:
        names: tuple[str, ...] = self.__slots__
        return tuple(getattr(self, name) for name in names if name not in self.uncompared)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"

    def as_dict(self) -> dict[str, Any]:
        names: tuple[str, ...] = self.__slots__
        return {name: getattr(self, name) for name in names}
