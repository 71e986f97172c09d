"""Talking to the DNS server: queries and updates over one TCP connection.

dnspython in process, imported here only, and only its message modules: the
TCP framing (RFC 1035 section 4.2.2, a two-byte length) is a few lines here
because ``dns.query`` imports httpx and requests for DNS-over-HTTPS, which
took 250 ms of a 350 ms hook on Debian 12; without it the imports cost
about 40 ms. Every exchange has a timeout of DNS_TIMEOUT, capped
by what is left of the whole run (DNS_DEADLINE), so a dead or blackholed
server costs at most one timeout, never Ganeti's patience (nsupdate's
defaults allowed 300 s: reference/peers.md section 4.7).

TCP rather than UDP: one connection carries the queries and every zone's
update (BIND keeps it open between messages), a refused connection fails in
under a millisecond, and answers are never truncated. RFC 7766 requires DNS
servers to serve TCP.

With AUTHENTICATION_METHOD=kerberos, updates go through ``nsupdate -g``
(GSS-TSIG needs a Kerberos context that dnspython does not negotiate by
itself); queries still go through dnspython, unsigned.
"""

from __future__ import annotations

import ipaddress
import math
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from snf_network.config import Config
from snf_network.dns import auth
from snf_network.dns.names import Address
from snf_network.dns.plan import DELETE, REPLACE, ZoneUpdate
from snf_network.errors import ConfigError, SnfNetworkError

if TYPE_CHECKING:
    import dns.rrset

# What an rcode means for us, in words an operator can act on.
_RCODE_HINTS = {
    "NOTAUTH": "the server is not authoritative for this zone (is it the right zone? see REVERSE_ZONES)",
    "NOTZONE": "a name lies outside the zone",
    "REFUSED": "refused (allow-update/update-policy for this key, or BIND's check-names)",
    "SERVFAIL": "the server failed (its log says why)",
}
_TSIG_FAILURES: dict[type[Exception], str] = {
    dns.tsig.PeerBadKey: "the server does not know the key",
    dns.tsig.PeerBadSignature: "the server rejected the signature (wrong secret or algorithm?)",
    dns.tsig.PeerBadTime: "the server rejected the signing time (clock skew?)",
    dns.tsig.PeerBadTruncation: "the server rejected the signature truncation",
    dns.tsig.BadSignature: "the answer's signature does not match our key",
}


class DnsFailure(SnfNetworkError):
    """One exchange failed; ``fatal`` means the server is unusable for the rest of the run."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class Deadline:
    """The run's time budget: each exchange gets min(per-exchange timeout, what is left)."""

    def __init__(self, seconds: float, per_exchange: float, start: float | None = None) -> None:
        self.end = (time.monotonic() if start is None else start) + seconds
        self.per_exchange = per_exchange

    def timeout(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0.01:
            raise DnsFailure("out of time (DNS_DEADLINE) before the exchange", fatal=True)
        return min(self.per_exchange, left)


def parse_server(value: str) -> tuple[str, int]:
    """SERVER as host, address, host:port or IPv4:port (a bare IPv6 address uses port 53)."""
    try:
        ipaddress.ip_address(value)
        return value, 53
    except ValueError:
        pass
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, 53
    if ":" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"SERVER={value!r}: expected HOST, ADDRESS or HOST:PORT")
    return host, int(port)


class Server:
    """The configured server, one connection, the configured credentials."""

    def __init__(self, cfg: Config, deadline: Deadline, env: Mapping[str, str] | None = None) -> None:
        self.host, self.port = parse_server(cfg.SERVER)
        self.label = f"{self.host}#{self.port}"  # BIND's spelling of address#port
        self.method = cfg.AUTHENTICATION_METHOD
        self.ttl = cfg.TTL
        self.deadline = deadline
        self.cfg = cfg
        self.env = dict(env or {})
        self.key: dns.tsig.Key | None = None
        if self.method == "bind9":
            tsig = auth.read_keyfile(cfg.KEYFILE)
            # dnspython 2.3 leaves Key.__init__ unannotated.
            self.key = dns.tsig.Key(tsig.name, tsig.secret, tsig.algorithm)  # type: ignore[no-untyped-call]
        elif self.method == "kerberos" and not cfg.KERBEROS_PRINCIPAL:
            raise ConfigError("KERBEROS_PRINCIPAL is not set (needed by AUTHENTICATION_METHOD=kerberos)")
        self._sock: socket.socket | None = None
        self._kerberos_env: dict[str, str] | None = None

    # -- connection ---------------------------------------------------------

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _addresses(self) -> list[tuple[int, tuple[Any, ...]]]:
        try:
            ipaddress.ip_address(self.host)
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            return [(family, (self.host, self.port))]
        except ValueError:
            pass
        # getaddrinfo cannot be interrupted and obeys resolv.conf's own
        # timeouts; a daemon thread lets us stop waiting at our deadline.
        timeout = self.deadline.timeout()
        found: list[tuple[int, tuple[Any, ...]]] = []
        problem: list[str] = []

        def resolve() -> None:
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
                found.extend((info[0], info[4]) for info in infos)
            except OSError as exc:
                problem.append(str(exc))

        worker = threading.Thread(target=resolve, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise DnsFailure(f"cannot resolve server name {self.host}: no answer within {timeout:g} s",
                             fatal=True)
        if not found:
            raise DnsFailure(f"cannot resolve server name {self.host}: {''.join(problem)}", fatal=True)
        return list(dict.fromkeys(found))

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        reasons = []
        for family, address in self._addresses():
            timeout = self.deadline.timeout()
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
                reasons.append(f"{address[0]}#{address[1]}: {reason}")
                continue
            self._sock = sock
            return sock
        raise DnsFailure(f"cannot connect to server {self.label} ({'; '.join(reasons)})", fatal=True)

    def _exchange(self, message: dns.message.Message) -> dns.message.Message:
        """Send one message; on a connection the server closed meanwhile, once more on a new one.

        Resending is safe: every update we send is idempotent (RRset
        replacements and deletions by value).
        """
        for attempt in (1, 2):
            sock = self._connect()
            timeout = self.deadline.timeout()
            try:
                return _tcp_exchange(sock, message, timeout)
            except (EOFError, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 2:
                    raise DnsFailure(f"server {self.label} closed the connection: {exc}", fatal=True) \
                        from None
            except TimeoutError:
                self.close()
                raise DnsFailure(f"server {self.label} did not answer within {timeout:g} s",
                                 fatal=True) from None
            except tuple(_TSIG_FAILURES) as exc:
                self.close()
                why = _TSIG_FAILURES.get(type(exc), str(exc))
                raise DnsFailure(f"authentication failure with TSIG key {self._key_name()} at server "
                                 f"{self.label}: {why}", fatal=True) from None
            except (dns.message.UnknownTSIGKey, dns.message.BadTSIG) as exc:
                self.close()
                raise DnsFailure(f"authentication failure at server {self.label}: {exc}",
                                 fatal=True) from None
            except OSError as exc:
                self.close()
                raise DnsFailure(f"server {self.label}: {exc.strerror or exc}", fatal=True) from None
            except dns.exception.DNSException as exc:
                self.close()
                raise DnsFailure(f"server {self.label} sent a bad answer: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _key_name(self) -> str:
        return str(self.key.name).rstrip(".") if self.key is not None else "(none)"

    # -- queries ------------------------------------------------------------

    def rrsets(self, name: str, rdtype: str) -> list[dns.rrset.RRset]:
        """What the server holds at ``name`` (authoritative data; empty when the name does not exist)."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD  # ask the server about its own zones only
        if self.key is not None:
            query.use_tsig(self.key)
        answer = self._exchange(query)
        rcode = dns.rcode.to_text(answer.rcode())
        if rcode == "NXDOMAIN":
            return []
        if rcode != "NOERROR":
            raise DnsFailure(f"query {name} {rdtype} at server {self.label}: {rcode}: "
                             f"{_RCODE_HINTS.get(rcode, 'failed')}")
        return list(answer.answer)

    def addresses(self, name: str) -> list[Address]:
        """The A and AAAA addresses the server holds at ``name``."""
        found: list[Address] = []
        owner = dns.name.from_text(name)
        for rdtype in ("A", "AAAA"):
            for rrset in self.rrsets(name, rdtype):
                # Only the name's own records: behind an administrator's CNAME
                # the answer also carries the target's addresses.
                if rrset.name == owner and dns.rdatatype.to_text(rrset.rdtype) == rdtype:
                    found.extend(ipaddress.ip_address(rdata.to_text()) for rdata in rrset)
        return found

    # -- updates ------------------------------------------------------------

    def send(self, update: ZoneUpdate) -> None:
        if self.method == "kerberos":
            self._send_nsupdate(update)
            return
        message = dns.update.UpdateMessage(update.zone + ".", keyring=self.key)
        for change in update.changes:
            if change.action == REPLACE:
                message.replace(change.name, self.ttl, change.rdtype, *change.values)
            elif change.action == DELETE:
                message.delete(change.name, change.rdtype, *change.values)
            else:  # pragma: no cover - plan only builds these two
                raise AssertionError(change.action)
        answer = self._exchange(message)
        rcode = dns.rcode.to_text(answer.rcode())
        if rcode != "NOERROR":
            raise DnsFailure(f"server {self.label} answered {rcode}: {_RCODE_HINTS.get(rcode, 'failed')}")

    def _send_nsupdate(self, update: ZoneUpdate) -> None:
        path = self.env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        nsupdate = shutil.which("nsupdate", path=path)
        if nsupdate is None:
            raise DnsFailure("kerberos: nsupdate is not installed (bind9-dnsutils)", fatal=True)
        if self._kerberos_env is None:
            try:
                self._kerberos_env = auth.kerberos_env(
                    self.cfg.KERBEROS_PRINCIPAL, self.cfg.KERBEROS_KEYTAB, self.cfg.KERBEROS_TICKET,
                    self.env, self.deadline.timeout)
            except DnsFailure:
                raise
            except SnfNetworkError as exc:
                raise DnsFailure(f"authentication failure: {exc}", fatal=True) from None
        timeout = self.deadline.timeout()
        script = f"server {self.host} {self.port}\n" + update.nsupdate_script(self.ttl)
        # -v: TCP; -t: nsupdate's own limit for the whole update, in whole seconds.
        argv = [nsupdate, "-g", "-v", "-t", str(max(1, math.floor(timeout)))]
        try:
            done = subprocess.run(argv, input=script, env=self._kerberos_env, capture_output=True,
                                  text=True, errors="replace", timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DnsFailure(f"nsupdate -g: server {self.label} did not answer within {timeout:g} s",
                             fatal=True) from None
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")
            first = said.splitlines()[0]
            fatal = any(word in said.lower() for word in ("timed out", "connection refused",
                                                          "communication", "tsig", "gss"))
            raise DnsFailure(f"nsupdate -g at server {self.label}: {first}", fatal=fatal)


def _tcp_exchange(sock: socket.socket, message: dns.message.Message, timeout: float) -> dns.message.Message:
    """Send ``message`` and read its answer within ``timeout`` seconds in all; check the TSIG."""
    end = time.monotonic() + timeout
    wire = message.to_wire()
    sock.settimeout(timeout)
    sock.sendall(struct.pack("!H", len(wire)) + wire)
    (length,) = struct.unpack("!H", _read(sock, 2, end))
    answer = dns.message.from_wire(_read(sock, length, end), keyring=message.keyring,
                                   request_mac=message.mac)
    if not message.is_response(answer):
        # Out of step with the server: _exchange retries once on a new connection.
        raise EOFError("the answer does not match the question")
    return answer


def _read(sock: socket.socket, count: int, end: float) -> bytes:
    data = b""
    while len(data) < count:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data
