"""Send one frame COUNT times, as fast as a raw socket goes (run in a VM's namespace).

    python tests/dhcpd/flood.py IFACE HEX COUNT
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    interface, frame, count = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((interface, 0))
        for _ in range(count):
            try:
                sock.send(frame)
            except BlockingIOError:  # the veth's queue is full: that frame is lost, like on a real link
                pass


if __name__ == "__main__":
    main()
