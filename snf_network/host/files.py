"""Files we write: our own (atomic replace) and other daemons' (in place)."""

from __future__ import annotations

import os


def atomic_replace(path: str, content: str, mode: int = 0o644) -> None:
    """Write our own files so a reader never sees half of one."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, content.encode())
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def write_in_place(path: str, content: str, mode: int = 0o644) -> None:
    """Delete, then create and write ``path`` itself, never a renamed temporary.

    nfdhcpd watches its directory for IN_DELETE and IN_CLOSE_WRITE only: a
    rename into place (IN_MOVED_TO) goes unseen, and a temporary file's own
    close would be read as a binding for an interface named after it. The
    delete first makes nfdhcpd drop the previous binding of a reused tap name
    (GRNET snf-network commit 87ea336).
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    remove(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # world-readable whatever our umask: nfdhcpd runs as nobody
        os.write(fd, content.encode())
    finally:
        os.close(fd)


def remove(path: str) -> bool:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
