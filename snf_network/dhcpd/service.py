"""The snf-dhcpd service: bindings in, packet sockets per NIC, answers out.

Everything runs in one asyncio loop: the inotify descriptor on
``NFDHCPD_STATE_DIR``, a netlink socket for link changes (a binding written
before its tap existed is served when the tap appears; a tap recreated under
the same name gets a new socket), one packet socket per served interface, and
the periodic router advertisements. What is served is written to
``DHCPD_STATUS_FILE`` (status.py) for ``snf-network status`` and
``snf-dhcpd --dump``; SIGUSR1 writes the table to the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from snf_network import config as config_module
from snf_network.config import Config
from snf_network.dhcpd import bpf, codec, status
from snf_network.dhcpd.binding import Binding, BindingError, is_interface_name, load
from snf_network.dhcpd.inotify import (
    IN_CLOSE_WRITE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Watch,
)
from snf_network.dhcpd.nodelinks import NodeInterfaces
from snf_network.dhcpd.protocol import MAX_REQUEST, Settings, answer, router_advertisement
from snf_network.host import netlink
from snf_network.services.daemon import Service

NETLINK_ROUTE, RTMGRP_LINK = 0, 1
RTM_NEWLINK, RTM_DELLINK, IFLA_IFNAME = 16, 17, 3
NLMSG = struct.Struct("IHHII")
IFINFO = struct.Struct("BxHiII")
LOG_BURST, LOG_INTERVAL = 10, 10.0  # lines per NIC, seconds
BATCH = 64
# A guest's DHCP client sends a few requests a second; a thousand is a flood.
MAX_FRAMES_PER_SECOND = 1000  # frames read per wake-up of one socket, so one noisy NIC cannot starve the others


class Port:
    """A packet socket on one interface (by its index: a tap recreated under the same name gets a new one)."""

    __slots__ = ("name", "ifindex", "sock", "unbound_since", "window", "frames")

    def __init__(self, name: str, ifindex: int, sock: socket.socket) -> None:
        self.name, self.ifindex, self.sock = name, ifindex, sock
        self.unbound_since = 0.0  # when its binding went (0: it has one); closed a while later
        self.window, self.frames = 0.0, 0  # frames read in the second that began at window


class Served:
    """One interface's binding, what it was answered, and why it is not served when it is not."""

    __slots__ = ("binding", "text", "server_mac", "reason", "answered", "ignored", "cache", "log_window",
                 "log_count", "log_dropped")

    def __init__(self, binding: Binding) -> None:
        self.binding = binding
        self.text = ""  # the file's content, as last parsed
        self.cache: dict[tuple[object, ...], bytes] = {}  # protocol.answer's, for this binding and server MAC
        self.server_mac = b""
        self.reason = "its interface does not exist"
        self.answered = 0
        self.ignored = 0
        self.log_window, self.log_count, self.log_dropped = 0.0, 0, 0


def link_mac(name: str) -> bytes:
    try:
        with open(f"/sys/class/net/{name}/address", encoding="ascii") as handle:
            text = handle.read().strip()
    except OSError:
        return b""
    octets = text.split(":")
    return bytes(int(octet, 16) for octet in octets) if len(octets) == 6 else b""


def ifindex(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def link_messages(data: bytes) -> list[tuple[int, int, str]]:
    """(RTM_NEWLINK or RTM_DELLINK, ifindex, name) of each link message in a netlink read."""
    found = []
    at = 0
    while at + NLMSG.size <= len(data):
        length, kind, _, _, _ = NLMSG.unpack_from(data, at)
        if length < NLMSG.size or at + length > len(data):
            break
        if kind in (RTM_NEWLINK, RTM_DELLINK) and length >= NLMSG.size + IFINFO.size:
            _, _, index, _, _ = IFINFO.unpack_from(data, at + NLMSG.size)
            name = netlink.attributes(data[at : at + length], NLMSG.size + IFINFO.size).get(IFLA_IFNAME, b"")
            found.append((kind, index, name.rstrip(b"\0").decode("utf-8", "replace")))
        at += (length + 3) & ~3
    return found


def directory_problem(path: str) -> str:
    """Why bindings in ``path`` cannot be trusted ('' when they can): whoever can write a binding
    decides which VM gets which address, so only root (or the daemon's own user) may."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid not in (0, os.geteuid()):
        return f"{path} belongs to uid {info.st_uid}, not root: its bindings cannot be trusted"
    if info.st_mode & 0o002 or (info.st_mode & 0o020 and info.st_gid != 0):
        return f"{path} is writable by {'everyone' if info.st_mode & 0o002 else 'group ' + str(info.st_gid)}: " \
               "its bindings cannot be trusted"
    return ""


class DhcpService(Service):
    name = "snf-dhcpd"

    def __init__(self, cfg: Config, logger: logging.Logger, config_env: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.settings = Settings.from_config(cfg)
        self.logger = logger
        self.config_env = config_env
        self.served: dict[str, Served] = {}
        self.ports: dict[str, Port] = {}  # by interface name
        self.by_index: dict[int, Port] = {}
        self.node_interfaces = NodeInterfaces()
        self.publishing = False
        self.rejected: dict[str, str] = {}  # binding files we could not read, and why
        self.watch: Watch | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.netlink: socket.socket | None = None
        self.started = time.time()
        self.done = asyncio.Event()
        self.wakeup = asyncio.Event()  # set by done and by reload: the RA timer looks again
        self.failure = ""
        self.advertising: asyncio.TimerHandle | None = None  # a reload's RAs, when due
        self.advertised_at = -10.0

    # -- lifetime -------------------------------------------------------------
    async def serve(self) -> None:
        if self.cfg.DHCPD_STATUS_FILE:
            status.claim(self.cfg.DHCPD_STATUS_FILE)
        self.loop = asyncio.get_running_loop()
        self.loop.add_signal_handler(signal.SIGUSR1, self.dump)
        self.netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_ROUTE)
        self.netlink.bind((0, RTMGRP_LINK))
        self.loop.add_reader(self.netlink.fileno(), self._on_link_change)
        problem = directory_problem(self.cfg.NFDHCPD_STATE_DIR)
        if problem:
            raise RuntimeError(problem)
        self._watch(self.cfg.NFDHCPD_STATE_DIR)
        self.rescan()
        try:
            due = time.monotonic() + self.settings.ra_period
            while not self.done.is_set():
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), max(0.0, due - time.monotonic()))
                except TimeoutError:
                    pass
                now = time.monotonic()
                if now >= due:
                    self.advertise_all()
                    self._close_idle()
                    due = now + self.settings.ra_period
                else:  # woken by a reload: a shorter RA_PERIOD counts from now
                    due = min(due, now + self.settings.ra_period)
        finally:
            self.stop()
        if self.failure:
            raise RuntimeError(self.failure)

    async def reload(self) -> None:
        cfg = config_module.load(self.config_env)
        settings = Settings.from_config(cfg)  # raises on a bad file: the old one keeps running
        if cfg.DHCP_SERVER != "snf-dhcpd":
            self.logger.info(f"DHCP_SERVER is {cfg.DHCP_SERVER} now: stopping")
            self.done.set()
            self.wakeup.set()
            return
        problem = directory_problem(cfg.NFDHCPD_STATE_DIR)
        if problem:  # stop serving what anyone may have written; systemd's restarts will say why too
            self.failure = problem
            self.done.set()
            self.wakeup.set()
            return
        start = time.perf_counter()
        moved = cfg.NFDHCPD_STATE_DIR != self.cfg.NFDHCPD_STATE_DIR
        self.cfg, self.settings = cfg, settings
        for entry in self.served.values():
            entry.cache = {}
        if moved:
            for name in list(self.served):
                self.forget(name)
            self._watch(cfg.NFDHCPD_STATE_DIR)
        self.rescan(quiet=True)
        self.wakeup.set()  # RA_PERIOD may have changed
        assert self.loop is not None
        self._advertise_soon()  # DNS servers, search list or MTU may have changed
        self.logger.info(f"reload: {len(self.served)} bindings read in {(time.perf_counter() - start) * 1000:.1f} ms")

    def stop(self) -> None:
        ports = list(self.ports.values())
        self.ports.clear()
        self.by_index.clear()
        for port in ports:
            if self.loop is not None:
                self.loop.remove_reader(port.sock.fileno())
        # Each close waits for an RCU grace period (about 10 ms): a thousand,
        # one after the other, would hold SIGTERM up for seconds, and so would
        # leaving them to the exit. Closed at once from many threads, they
        # share their grace periods.
        if ports:
            with ThreadPoolExecutor(max_workers=min(128, len(ports))) as pool:
                list(pool.map(lambda port: port.sock.close(), ports))
        if self.watch is not None and self.loop is not None:
            self.loop.remove_reader(self.watch.fd)
            self.watch.close()
            self.watch = None
        if self.netlink is not None and self.loop is not None:
            self.loop.remove_reader(self.netlink.fileno())
            self.netlink.close()
            self.netlink = None
        status.remove(self.cfg.DHCPD_STATUS_FILE)

    def _watch(self, directory: str) -> None:
        assert self.loop is not None
        if self.watch is not None:
            self.loop.remove_reader(self.watch.fd)
            self.watch.close()
        self.watch = Watch(directory)
        self.loop.add_reader(self.watch.fd, self._on_files)

    # -- bindings -------------------------------------------------------------
    def _on_files(self) -> None:
        assert self.watch is not None
        changed = False
        for mask, name in self.watch.events():
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                # Exit with an error: systemd restarts us (Restart=on-failure) on the directory as it is then.
                self.failure = f"{self.cfg.NFDHCPD_STATE_DIR} was removed or moved"
                self.done.set()
                self.wakeup.set()
                return
            if mask & IN_Q_OVERFLOW:
                self.rescan()
                return
            if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                self.learn(name)
                changed = True
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                self.forget(name)
                changed = True
        if changed:
            self._publish_soon()

    def rescan(self, quiet: bool = False) -> None:
        directory = self.cfg.NFDHCPD_STATE_DIR
        try:
            names = set(os.listdir(directory))
        except OSError as exc:
            raise OSError(f"cannot read {directory}: {exc.strerror}") from None
        for name in set(self.served) - names:
            self.forget(name)
        self.rejected = {name: why for name, why in self.rejected.items() if name in names}
        for name in sorted(names):
            self.learn(name, quiet)
        self.publish()

    def learn(self, name: str, quiet: bool = False) -> None:
        """(Re)read the binding file ``name``; serve it if its interface exists."""
        if name.startswith(".") or not is_interface_name(name):
            return  # an editor's or a writer's temporary file, or no interface's (never logged: it may hold a newline)
        path = os.path.join(self.cfg.NFDHCPD_STATE_DIR, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise BindingError("not a regular file")
                text = os.read(fd, 65536).decode("utf-8", "replace")
            finally:
                os.close(fd)
            current = self.served.get(name)
            if current is not None and current.text == text:
                # Rewritten as it was (every ifup, every reload): nothing to parse, and
                # when served, nothing to do (netlink tells us when its links change).
                if current.reason:
                    self._connect(current)
                return
            binding = load(name, text)
        except FileNotFoundError:
            self.forget(name)
            return
        except (OSError, BindingError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.logger.warning(f"{name}: binding ignored: {reason}")
            self.forget(name)
            self.rejected[name] = reason
            return
        self.rejected.pop(name, None)
        current = self.served.get(name)
        if current is None:
            current = self.served[name] = Served(binding)
        else:
            current.binding, current.cache = binding, {}
        current.text = text
        self._connect(current)
        if not quiet:
            assert self.loop is not None
            self.loop.call_later(0.002, self.logger.info, f"{name}: binding {binding.describe()}")

    def forget(self, name: str) -> None:
        self.rejected.pop(name, None)
        entry = self.served.pop(name, None)
        if entry is not None:
            self._unbind(name)
            self.logger.info(f"{name}: binding removed")

    # -- interfaces -----------------------------------------------------------
    def _on_link_change(self) -> None:
        assert self.netlink is not None
        resync = False
        while True:
            try:
                data = self.netlink.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError:  # ENOBUFS: messages were lost; read the truth instead
                resync = True
                break
            for kind, index, name in link_messages(data):
                self._link(kind, index, name)
        if resync:
            self._resync()
        self._publish_soon()

    def _link(self, kind: int, index: int, name: str) -> None:
        port = self.by_index.get(index)
        if port is not None and (kind == RTM_DELLINK or port.name != name):
            self._close(port)  # gone, or renamed: the socket is bound to what is no longer that name
        if kind != RTM_NEWLINK:
            entry = self.served.get(name)
            if entry is not None:
                entry.reason = "its interface does not exist"
            return
        entry = self.served.get(name)
        if entry is not None:
            port = self.ports.get(name)
            if port is not None and port.ifindex != index:
                self._close(port)
            self._connect(entry)
        for other in self.served.values():  # a bridge's address may have changed
            if other.binding.indev == name and other.binding.indev != other.binding.interface:
                other.server_mac, other.cache = link_mac(name) or other.server_mac, {}

    def _resync(self) -> None:
        for port in list(self.ports.values()):
            if ifindex(port.name) != port.ifindex:
                self._close(port)
        for entry in self.served.values():
            self._connect(entry)

    def _connect(self, entry: Served) -> None:
        """Serve ``entry`` on its interface's socket, opening it if it has none."""
        name = entry.binding.interface
        port = self.ports.get(name)
        index = port.ifindex if port is not None else ifindex(name)
        if not index:
            entry.reason = "its interface does not exist"
            return
        server_mac = link_mac(entry.binding.indev)
        if server_mac != entry.server_mac:
            entry.server_mac, entry.cache = server_mac, {}
        if not entry.server_mac:
            entry.reason = f"INDEV {entry.binding.indev} does not exist"
            return
        if port is None:
            why = self.node_interfaces.why(name, index)
            if why:
                # Never a router on the node's uplink or a whole bridge, whatever a file says.
                entry.reason = f"a node interface, not a NIC's: {why}"
                self.logger.warning(f"{name}: {entry.reason}")
                return
            try:
                sock = bpf.open_socket(name)
            except OSError as exc:
                entry.reason = f"cannot open a packet socket: {exc.strerror or exc}"
                self.logger.warning(f"{name}: {entry.reason}")
                return
            port = self.ports[name] = self.by_index[index] = Port(name, index, sock)
            assert self.loop is not None
            self.loop.add_reader(sock.fileno(), self._on_frames, port)
        port.unbound_since = 0.0
        entry.reason = ""
        # A new NIC gets its prefix without waiting for RA_PERIOD; a moment
        # later, so that a request already waiting is answered first.
        assert self.loop is not None
        self.loop.call_later(0.002, self.advertise, entry)

    def _unbind(self, name: str) -> None:
        """The binding went: its socket stays a while (reading and dropping), in case it comes back."""
        port = self.ports.get(name)
        if port is not None:
            port.unbound_since = time.monotonic()

    def _close(self, port: Port) -> None:
        self.ports.pop(port.name, None)
        self.by_index.pop(port.ifindex, None)
        if self.loop is None:
            port.sock.close()
            return
        self.loop.remove_reader(port.sock.fileno())
        # Closing a packet socket waits for an RCU grace period (ms): not in the loop.
        self.loop.run_in_executor(None, port.sock.close)

    def _close_idle(self) -> None:
        """Close the sockets of interfaces that have had no binding for a whole RA_PERIOD."""
        limit = time.monotonic() - self.settings.ra_period
        for port in list(self.ports.values()):
            if port.unbound_since and port.unbound_since < limit:
                self._close(port)

    # -- packets --------------------------------------------------------------
    def _on_frames(self, port: Port) -> None:
        sock, name = port.sock, port.name
        now = time.monotonic()
        if now - port.window >= 1.0:
            port.window, port.frames = now, 0
        for _ in range(BATCH):
            if port.frames >= MAX_FRAMES_PER_SECOND:
                self._pause(port)
                return
            port.frames += 1
            try:
                data = sock.recv(MAX_REQUEST + 1)  # a longer frame is cut, and ignored as too long
            except BlockingIOError:
                return
            except OSError as exc:  # ENETDOWN: the interface went away under the socket
                self.logger.info(f"{name}: {exc.strerror}")
                self._resync()
                return
            entry = self.served.get(name)
            if entry is None or port.unbound_since:
                continue  # no binding (any more): nothing answers it
            if not self.publishing:
                self._publish_soon(1.0)  # the counters
            reply = answer(data, entry.binding, self.settings, entry.server_mac, entry.cache)
            if reply.ignored:
                entry.ignored += 1
                self._tell(entry, f"{name}: request ignored: {reply.ignored}")
                continue
            for frame in reply.frames:
                try:
                    sock.send(frame)
                    entry.answered += 1
                except OSError as exc:
                    self._tell(entry, f"{name}: cannot send: {exc.strerror}", logging.WARNING)
            if self.logger.isEnabledFor(logging.DEBUG):
                # Not out of the NIC's budget: the same line every time, the log's own limit holds it.
                self.logger.debug(f"{name}: answered")

    def _pause(self, port: Port) -> None:
        """A NIC sending more than we answer: stop reading it for a second (the kernel drops what
        overflows its socket), so that it costs the daemon no CPU and the other NICs are served."""
        assert self.loop is not None
        self.loop.remove_reader(port.sock.fileno())
        entry = self.served.get(port.name)
        if entry is not None:
            self._tell(entry, f"{port.name}: more than {MAX_FRAMES_PER_SECOND} requests in a second: "
                              "not read for a second", logging.WARNING)

        def resume() -> None:
            if self.ports.get(port.name) is port:
                assert self.loop is not None
                self.loop.add_reader(port.sock.fileno(), self._on_frames, port)

        self.loop.call_later(1.0, resume)

    def _tell(self, entry: Served, message: str, level: int = logging.INFO) -> None:
        """Log about one NIC, at most LOG_BURST lines per LOG_INTERVAL: a guest varying what it sends
        (every MAC, every message type) must not get past the log's own per-message limit."""
        now = time.monotonic()
        if now - entry.log_window >= LOG_INTERVAL:
            if entry.log_dropped:
                self.logger.info(f"{entry.binding.interface}: {entry.log_dropped} more lines about it were "
                                 f"not logged in {LOG_INTERVAL:g} s")
            entry.log_window, entry.log_count, entry.log_dropped = now, 0, 0
        if entry.log_count < LOG_BURST:
            entry.log_count += 1
            self.logger.log(level, message)
        else:
            entry.log_dropped += 1

    def advertise(self, entry: Served) -> None:
        binding = entry.binding
        if self.served.get(binding.interface) is not entry:
            return  # removed since
        port = self.ports.get(binding.interface)
        if port is None or entry.reason or binding.subnet6 is None or binding.bridged or not self.settings.ipv6:
            return
        frame = router_advertisement(binding, self.settings, entry.server_mac, codec.ALL_NODES,
                                     codec.multicast_mac(codec.ALL_NODES))
        try:
            port.sock.send(frame)
        except OSError as exc:
            self.logger.warning(f"{binding.interface}: cannot send a router advertisement: {exc.strerror}")

    def _advertise_soon(self) -> None:
        """Every NIC's RA a moment from now, and at most once a second: a storm of SIGHUPs (a
        configuration tool reloading in a loop) must not become a storm of RAs to every VM."""
        if self.advertising is not None:
            return
        assert self.loop is not None
        delay = max(0.002, self.advertised_at + 1.0 - time.monotonic())
        self.advertising = self.loop.call_later(delay, self._advertise_now)

    def _advertise_now(self) -> None:
        self.advertising = None
        self.advertised_at = time.monotonic()
        self.advertise_all()

    def advertise_all(self) -> None:
        for entry in self.served.values():
            self.advertise(entry)

    # -- reporting ------------------------------------------------------------
    def table(self) -> dict[str, dict[str, object]]:
        rows: dict[str, dict[str, object]] = {}
        for name, entry in sorted(self.served.items()):
            binding = entry.binding
            rows[name] = {
                "served": not entry.reason, "reason": entry.reason, "mac": binding.mac.hex(":"),
                "hostname": binding.hostname, "ip": str(binding.ip or ""), "subnet6": str(binding.subnet6 or ""),
                "indev": binding.indev, "answered": entry.answered, "ignored": entry.ignored,
            }
        for name, reason in sorted(self.rejected.items()):
            rows[name] = {"served": False, "reason": f"bad binding file: {reason}"}
        return rows

    def _publish_soon(self, delay: float = 0.05) -> None:
        """Write the status file shortly, once for a burst of changes: never on a request's path."""
        if not self.publishing and self.loop is not None:
            self.publishing = True
            self.loop.call_later(delay, self.publish)

    def publish(self) -> None:
        self.publishing = False
        if not self.cfg.DHCPD_STATUS_FILE:
            return
        try:
            status.write(self.cfg.DHCPD_STATUS_FILE, self.table())
        except OSError as exc:
            self.logger.warning(f"cannot write {self.cfg.DHCPD_STATUS_FILE}: {exc.strerror}")

    def dump(self) -> None:
        self.publish()  # the counters too
        rows = self.table()
        self.logger.info(f"serving {sum(1 for row in rows.values() if row['served'])} of {len(rows)} bindings")
        for line in status.lines(rows):
            self.logger.info(line)
