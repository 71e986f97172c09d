"""Tell snf-nld that a NIC changed, from a NIC program: one datagram, best effort, never an error.

The daemon learns the same from the kernel's route events; the nudge makes
it re-read the overlay tables at once (and puts the NIC in its log). It
carries no authority: the daemon only re-reads the kernel. Only ``_socket``
is imported (not ``socket``, whose enum import alone costs milliseconds):
this runs in every ifup and ifdown.
"""

from __future__ import annotations


def nudge(path: str, action: str, interface: str) -> bool:
    """Send ``nudge ACTION INTERFACE`` to the daemon's unix socket at ``path``; whether it was sent."""
    if not path:
        return False
    try:
        import _socket

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.sendto(f"nudge {action} {interface}".encode("ascii", "replace")[:200], path)
        finally:
            sock.close()
    except OSError:  # no daemon, a full queue, no such socket: the route events still tell it
        return False
    return True
