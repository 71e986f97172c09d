"""Kernel settings through /proc/sys (no sysctl process per value)."""

from __future__ import annotations

PROC_SYS = "/proc/sys/"


def read(path: str) -> str:
    with open(PROC_SYS + path, encoding="ascii") as handle:
        return handle.read().strip()


def write(path: str, value: str) -> None:
    with open(PROC_SYS + path, "w", encoding="ascii") as handle:
        handle.write(value)


def exists(path: str) -> bool:
    try:
        open(PROC_SYS + path, encoding="ascii").close()
    except OSError:
        return False
    return True
