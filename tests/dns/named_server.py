"""A throwaway BIND (Debian's named) for the DNS tests and the benchmark.

testing-recipes.md, "Real BIND": everything in one temporary directory, a free
port on 127.0.0.1, a TSIG key made by tsig-keygen, master zones that accept
updates signed with that key. Stopped by pid, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

KEY_NAME = "ddns"
FORWARD_ZONE = "example.org"
# The classful /24s of two documentation ranges, the /64 zone of 2001:db8:0:1::/64
# (the defaults the hook derives), and wider zones for the REVERSE_ZONES tests.
REVERSE4_ZONES = ("2.0.192.in-addr.arpa", "100.51.198.in-addr.arpa")
# 203.0.113.0/24 is served only inside a /16 zone: the hook needs REVERSE_ZONES for it.
REVERSE4_ZONE16 = "0.203.in-addr.arpa"
REVERSE6_ZONE64 = "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
REVERSE6_ZONE32 = "8.b.d.0.1.0.0.2.ip6.arpa"


def missing_reason() -> str:
    """Why a real named cannot run here, or '' when it can."""
    if os.geteuid() != 0:
        return "needs root to run named"
    for program in ("named", "tsig-keygen"):
        if shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{program} is not installed (Debian bind9, bind9-utils)"
    return ""


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


@dataclass
class Named:
    directory: Path
    port: int = 0
    zones: tuple[str, ...] = (FORWARD_ZONE, *REVERSE4_ZONES, REVERSE4_ZONE16, REVERSE6_ZONE64, REVERSE6_ZONE32)
    pid: int = 0
    keyfile: Path = field(init=False)

    def __post_init__(self) -> None:
        self.keyfile = self.directory / "key.conf"

    def start(self) -> Named:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        key = subprocess.run(["tsig-keygen", "-a", "hmac-sha256", KEY_NAME], check=True,
                             capture_output=True, text=True).stdout
        self.keyfile.write_text(key)
        zone_statements = []
        for zone in self.zones:
            path = self.directory / f"{zone}.zone"
            path.write_text(
                f"$TTL 300\n@ IN SOA ns.{FORWARD_ZONE}. hostmaster.{FORWARD_ZONE}. 1 3600 600 86400 60\n"
                f"@ IN NS ns.{FORWARD_ZONE}.\n"
                + ("ns IN A 127.0.0.1\n" if zone == FORWARD_ZONE else "")
            )
            zone_statements.append(
                f'zone "{zone}" {{ type primary; file "{path}"; allow-update {{ key {KEY_NAME}; }}; }};'
            )
        conf = self.directory / "named.conf"
        conf.write_text(
            f'include "{self.keyfile}";\n'
            f'options {{ directory "{self.directory}"; listen-on port {self.port} {{ 127.0.0.1; }};\n'
            f'  listen-on-v6 {{ none; }}; pid-file "{self.directory}/named.pid";\n'
            f'  session-keyfile "{self.directory}/session.key";\n'
            "  recursion no; dnssec-validation no; notify no; allow-transfer { 127.0.0.1; };\n"
            "  minimal-any no; };\n"
            f'controls {{ }};\n'
            + "\n".join(zone_statements) + "\n"
        )
        with open(self.directory / "named.log", "w") as log:
            process = subprocess.Popen(["named", "-g", "-c", str(conf), "-u", "root"],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.pid = process.pid
        self._process = process
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"named exited: {(self.directory / 'named.log').read_text()[-2000:]}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("named did not start within 20 s")

    def key(self):  # -> dns.tsig.Key, imported lazily like the code under test
        import dns.tsig

        secret = self.keyfile.read_text().split('secret "', 1)[1].split('"', 1)[0]
        return dns.tsig.Key(KEY_NAME, secret, "hmac-sha256")

    def records(self) -> set[tuple[str, str, str]]:
        """Every record of every zone (by AXFR) but the SOA, the NS and the server's own A."""
        import dns.query
        import dns.zone

        found = set()
        for zone in self.zones:
            content = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", zone, port=self.port, timeout=5))
            for name, ttl, rdata in content.iterate_rdatas():
                rdtype = rdata.rdtype.name
                if rdtype in ("SOA", "NS") or (rdtype == "A" and str(name) == "ns"):
                    continue
                assert ttl > 0
                found.add((name.derelativize(content.origin).to_text(), rdtype, rdata.to_text()))
        return found

    def update(self, zone: str, name: str, rdtype: str, *values: str, ttl: int = 300) -> None:
        """An administrator's own change (signed with the test key); 'delete' when no values."""
        import dns.query
        import dns.rcode
        import dns.update

        message = dns.update.UpdateMessage(zone, keyring=self.key())
        if values:
            message.add(name, ttl, rdtype, *values)
        else:
            message.delete(name, rdtype)
        answer = dns.query.tcp(message, "127.0.0.1", port=self.port, timeout=5)
        assert answer.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(answer.rcode())

    def _answers(self) -> bool:
        # "all zones loaded" is the last line named -g prints once it serves.
        try:
            return "all zones loaded" in (self.directory / "named.log").read_text()
        except OSError:
            return False

    def stop(self) -> None:
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self._process.wait()
        self.pid = 0
