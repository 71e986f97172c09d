"""One host-wide lock around reading a record, changing the host and saving the record.

Ganeti starts NICs of different instances in parallel; our nft tables, rule
lists and records are shared, so changes go one at a time.
"""

from __future__ import annotations

import fcntl
import os
import time

from snf_network.errors import SnfNetworkError
from snf_network.host import files


class held:  # a context manager named like the function it replaces
    """Hold the lock for a ``with`` block (closing the file releases it)."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> None:
        # 0755 whatever the umask (noded's is 077): COMMUNICATION_DIR is under it by default.
        files.make_directories(os.path.dirname(self.path))
        # Never through a symlink: as root, O_CREAT would create its target.
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise SnfNetworkError(
                        f"another snf-network run held {self.path} for more than {self.timeout:g} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)
