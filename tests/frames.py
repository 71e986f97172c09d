"""Send and capture raw Ethernet frames inside a namespace (run with ``ip netns exec``).

    python tests/frames.py send IFACE HEX [HEX ...]
    python tests/frames.py sniff IFACE SECONDS      (prints one hex frame per line)
    python tests/frames.py sniff IFACE SECONDS stamped  (each line: CLOCK_MONOTONIC seconds, hex frame)
    python tests/frames.py serve PORT SECONDS       (TCP on all addresses; answers "hello")
    python tests/frames.py connect HOST PORT        (prints the answer, exits 1 on failure)

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


def sniff(interface: str, seconds: float, stamped: bool = False) -> None:
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
                print(f"{time.monotonic():.6f} {data.hex()}" if stamped else data.hex(), flush=True)


def serve(port: int, seconds: float) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("::", port))
        server.listen()
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            server.settimeout(left)
            try:
                connection, _ = server.accept()
            except TimeoutError:
                break
            with connection:
                connection.sendall(b"hello")


def connect(host: str, port: int) -> int:
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            print(connection.recv(5).decode())
    except OSError as exc:
        print(f"failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "sniff":
        sniff(sys.argv[2], float(sys.argv[3]), stamped=sys.argv[4:] == ["stamped"])
    elif sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(connect(sys.argv[2], int(sys.argv[3])))
