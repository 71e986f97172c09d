"""inotify on the binding directory, through libc (ctypes): no third-party watcher.

nfdhcpd watched IN_CLOSE_WRITE and IN_DELETE only, so a binding renamed into
place (the atomic way to write a file) was never seen, and one renamed away
stayed served until a restart. We watch renames both ways too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
HEADER = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class Watch:
    """A non-blocking inotify descriptor on one directory; ``events`` reads what happened."""

    def __init__(self, directory: str) -> None:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.fd: int = fd
        wd = _libc.inotify_add_watch(fd, os.fsencode(directory), MASK)
        if wd < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise OSError(error, f"cannot watch {directory}: {os.strerror(error)}")

    def events(self) -> list[tuple[int, str]]:
        """(mask, file name) of every pending event; (IN_Q_OVERFLOW, '') when some were lost."""
        found: list[tuple[int, str]] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            at = 0
            while at + HEADER.size <= len(data):
                _, mask, _, length = HEADER.unpack_from(data, at)
                name = data[at + HEADER.size : at + HEADER.size + length].rstrip(b"\0")
                found.append((mask, os.fsdecode(name)))
                at += HEADER.size + length

    def close(self) -> None:
        os.close(self.fd)
