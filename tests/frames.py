"""Send and capture raw Ethernet frames inside a namespace (run with ``ip netns exec``).

    python tests/frames.py send IFACE HEX [HEX ...]
    python tests/frames.py sniff IFACE SECONDS      (prints one hex frame per line)

The tests build frames with scapy in their own process and only need this
small program inside the namespaces, so the lab does not depend on scapy
there. The sniffer prints "ready" on stderr once its socket is bound.
"""

from __future__ import annotations

import socket
import sys
import time

ETH_P_ALL = 0x0003


def send(interface: str, frames: list[str]) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((interface, 0))
        for frame in frames:
            sock.send(bytes.fromhex(frame))


def sniff(interface: str, seconds: float) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as sock:
        sock.bind((interface, 0))
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, address = sock.recvfrom(65535)
            except TimeoutError:
                break
            if address[2] != socket.PACKET_OUTGOING:
                print(data.hex(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3:])
    else:
        sniff(sys.argv[2], float(sys.argv[3]))
