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
import time

from snf_network import config as config_module
from snf_network.config import Config
from snf_network.dhcpd import bpf, codec, status
from snf_network.dhcpd.binding import Binding, BindingError, load
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
from snf_network.dhcpd.protocol import Settings, answer, router_advertisement
from snf_network.services.daemon import Service

NETLINK_ROUTE, RTMGRP_LINK = 0, 1
BATCH = 64  # frames read per wake-up of one socket, so one noisy NIC cannot starve the others


class Served:
    """One interface's binding, and its socket once the interface exists."""

    __slots__ = ("binding", "sock", "ifindex", "server_mac", "reason", "answered", "ignored")

    def __init__(self, binding: Binding) -> None:
        self.binding = binding
        self.sock: socket.socket | None = None
        self.ifindex = 0
        self.server_mac = b""
        self.reason = "its interface does not exist"
        self.answered = 0
        self.ignored = 0


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


class DhcpService(Service):
    name = "snf-dhcpd"

    def __init__(self, cfg: Config, logger: logging.Logger, config_env: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.settings = Settings.from_config(cfg)
        self.logger = logger
        self.config_env = config_env
        self.served: dict[str, Served] = {}
        self.rejected: dict[str, str] = {}  # binding files we could not read, and why
        self.watch: Watch | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.netlink: socket.socket | None = None
        self.started = time.time()
        self.done = asyncio.Event()

    # -- lifetime -------------------------------------------------------------
    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.add_signal_handler(signal.SIGUSR1, self.dump)
        self.netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_ROUTE)
        self.netlink.bind((0, RTMGRP_LINK))
        self.loop.add_reader(self.netlink.fileno(), self._on_link_change)
        self._watch(self.cfg.NFDHCPD_STATE_DIR)
        self.rescan()
        try:
            while not self.done.is_set():
                try:
                    await asyncio.wait_for(self.done.wait(), self.settings.ra_period)
                except TimeoutError:
                    self.advertise_all()
        finally:
            self.stop()

    async def reload(self) -> None:
        cfg = config_module.load(self.config_env)
        settings = Settings.from_config(cfg)  # raises on a bad file: the old one keeps running
        if cfg.DHCP_SERVER != "snf-dhcpd":
            self.logger.info(f"DHCP_SERVER is {cfg.DHCP_SERVER} now: stopping")
            self.done.set()
            return
        moved = cfg.NFDHCPD_STATE_DIR != self.cfg.NFDHCPD_STATE_DIR
        self.cfg, self.settings = cfg, settings
        if moved:
            for name in list(self.served):
                self.forget(name)
            self._watch(cfg.NFDHCPD_STATE_DIR)
        self.rescan()

    def stop(self) -> None:
        for name in list(self.served):
            self._close(self.served[name])
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
                self.logger.error(f"{self.cfg.NFDHCPD_STATE_DIR} went away: serving what is known, watching nothing")
                assert self.loop is not None
                self.loop.remove_reader(self.watch.fd)
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
            self.publish()

    def rescan(self) -> None:
        directory = self.cfg.NFDHCPD_STATE_DIR
        try:
            names = set(os.listdir(directory))
        except OSError as exc:
            raise OSError(f"cannot read {directory}: {exc.strerror}") from None
        for name in set(self.served) - names:
            self.forget(name)
        self.rejected = {name: why for name, why in self.rejected.items() if name in names}
        for name in sorted(names):
            self.learn(name)
        self.publish()

    def learn(self, name: str) -> None:
        """(Re)read the binding file ``name``; serve it if its interface exists."""
        if name.startswith(".") or "/" in name:
            return  # an editor's or a writer's temporary file
        path = os.path.join(self.cfg.NFDHCPD_STATE_DIR, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise BindingError("not a regular file")
                text = os.read(fd, 65536).decode("utf-8", "replace")
            finally:
                os.close(fd)
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
            current.binding = binding
        self.logger.info(f"{name}: binding {binding.describe()}")
        self._connect(current)

    def forget(self, name: str) -> None:
        self.rejected.pop(name, None)
        entry = self.served.pop(name, None)
        if entry is not None:
            self._close(entry)
            self.logger.info(f"{name}: binding removed")

    # -- interfaces -----------------------------------------------------------
    def _on_link_change(self) -> None:
        assert self.netlink is not None
        try:
            while self.netlink.recv(65536):
                pass
        except BlockingIOError:
            pass
        except OSError:  # ENOBUFS: we missed messages; the refresh reads the truth anyway
            pass
        for entry in self.served.values():
            self._connect(entry)
        self.publish()

    def _connect(self, entry: Served) -> None:
        """Match ``entry``'s socket to its interface as the kernel has it now."""
        name = entry.binding.interface
        index = ifindex(name)
        if entry.sock is not None and index == entry.ifindex:
            entry.server_mac = link_mac(entry.binding.indev) or entry.server_mac
            return
        if entry.sock is not None:
            self._close(entry)
        if not index:
            entry.reason = "its interface does not exist"
            return
        entry.server_mac = link_mac(entry.binding.indev)
        if not entry.server_mac:
            entry.reason = f"INDEV {entry.binding.indev} does not exist"
            return
        try:
            sock = bpf.open_socket(name)
        except OSError as exc:
            entry.reason = f"cannot open a packet socket: {exc.strerror or exc}"
            self.logger.warning(f"{name}: {entry.reason}")
            return
        entry.sock, entry.ifindex, entry.reason = sock, index, ""
        assert self.loop is not None
        self.loop.add_reader(sock.fileno(), self._on_frames, entry)
        self.advertise(entry)  # a new NIC gets its prefix without waiting for RA_PERIOD

    def _close(self, entry: Served) -> None:
        sock, entry.sock, entry.ifindex = entry.sock, None, 0
        entry.reason = "its interface does not exist"
        if sock is None or self.loop is None:
            return
        self.loop.remove_reader(sock.fileno())
        # Closing a packet socket waits for an RCU grace period (ms): not in the loop.
        self.loop.run_in_executor(None, sock.close)

    # -- packets --------------------------------------------------------------
    def _on_frames(self, entry: Served) -> None:
        sock = entry.sock
        if sock is None:
            return
        name = entry.binding.interface
        for _ in range(BATCH):
            try:
                data = sock.recv(bpf.SNAP)
            except BlockingIOError:
                return
            except OSError as exc:  # ENETDOWN: the interface went away under the socket
                self.logger.info(f"{name}: {exc.strerror}")
                self._connect(entry)
                return
            reply = answer(data, entry.binding, self.settings, entry.server_mac)
            if reply.ignored:
                entry.ignored += 1
                self.logger.info(f"{name}: request ignored: {reply.ignored}")
                continue
            for frame in reply.frames:
                try:
                    sock.send(frame)
                    entry.answered += 1
                except OSError as exc:
                    self.logger.warning(f"{name}: cannot send: {exc.strerror}")

    def advertise(self, entry: Served) -> None:
        binding = entry.binding
        if entry.sock is None or binding.subnet6 is None or binding.bridged or not self.settings.ipv6:
            return
        frame = router_advertisement(binding, self.settings, entry.server_mac, codec.ALL_NODES,
                                     codec.multicast_mac(codec.ALL_NODES))
        try:
            entry.sock.send(frame)
        except OSError as exc:
            self.logger.warning(f"{binding.interface}: cannot send a router advertisement: {exc.strerror}")

    def advertise_all(self) -> None:
        for entry in self.served.values():
            self.advertise(entry)

    # -- reporting ------------------------------------------------------------
    def table(self) -> dict[str, dict[str, object]]:
        rows: dict[str, dict[str, object]] = {}
        for name, entry in sorted(self.served.items()):
            binding = entry.binding
            rows[name] = {
                "served": entry.sock is not None, "reason": entry.reason, "mac": binding.mac.hex(":"),
                "hostname": binding.hostname, "ip": str(binding.ip or ""), "subnet6": str(binding.subnet6 or ""),
                "indev": binding.indev, "answered": entry.answered, "ignored": entry.ignored,
            }
        for name, reason in sorted(self.rejected.items()):
            rows[name] = {"served": False, "reason": f"bad binding file: {reason}"}
        return rows

    def publish(self) -> None:
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
