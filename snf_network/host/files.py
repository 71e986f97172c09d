"""Files we write: our own (atomic replace) and other daemons' (in place).

Every file is opened without following a symlink at its last component and,
when created, with O_EXCL: a link planted where a record, a binding file or a
temporary is about to be written makes the write fail instead of sending it
(as root) wherever the link points. Temporaries get unpredictable names.
A write that does not complete (a full disk) raises, so the engine rolls the
NIC back instead of saving half a record. No fsync: it would cost the NIC
programs milliseconds, and a record cut short by a power loss is reported as
damaged, never trusted.
"""

from __future__ import annotations

import os

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def make_directories(directory: str, mode: int = 0o755) -> None:
    """``os.makedirs``, with ``mode`` whatever the umask for every directory it creates.

    Ganeti's noded runs the NIC programs under umask 077: a directory made
    with the umask's mode would be root's alone, and the daemons that read
    our files after dropping root (dnsmasq and nfdhcpd, as nobody) could not
    reach them. Directories already there keep their mode.
    """
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(directory.rstrip("/"))
    if parent and parent != directory:
        make_directories(parent, mode)
    try:
        os.mkdir(directory, mode)
    except FileExistsError:
        return  # made meanwhile (by another NIC program), or not a directory: the write says which
    os.chmod(directory, mode)


def atomic_replace(path: str, content: str, mode: int = 0o644) -> None:
    """Write our own files so a reader never sees half of one."""
    directory = os.path.dirname(path)
    make_directories(directory)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    try:
        _create(temporary, content, mode)
        os.replace(temporary, path)
    except BaseException:
        remove(temporary)
        raise


def write_in_place(path: str, content: str, mode: int = 0o644) -> None:
    """Delete, then create and write ``path`` itself, never a renamed temporary.

    nfdhcpd watches its directory for IN_DELETE and IN_CLOSE_WRITE only: a
    rename into place (IN_MOVED_TO) goes unseen, and a temporary file's own
    close would be read as a binding for an interface named after it. The
    delete first makes nfdhcpd drop the previous binding of a reused tap name
    (GRNET snf-network commit 87ea336).
    """
    make_directories(os.path.dirname(path))
    remove(path)
    try:
        _create(path, content, mode)
    except BaseException:
        remove(path)
        raise


def _create(path: str, content: str, mode: int) -> None:
    fd = os.open(path, _CREATE, mode)
    try:
        os.fchmod(fd, mode)  # whatever our umask: nfdhcpd runs as nobody and reads its bindings
        data = memoryview(content.encode())
        while data:
            data = data[os.write(fd, data):]  # ENOSPC raises here (tmpfs, ext4's delayed allocation)
    finally:
        os.close(fd)


def remove(path: str) -> bool:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def read(path: str, follow: bool = True) -> str | None:
    """The file's text, or None when it is not there; ``follow=False`` refuses a symlink (ELOOP)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    except (FileNotFoundError, NotADirectoryError):
        return None
    with open(fd, encoding="utf-8", errors="replace") as handle:
        return handle.read()
