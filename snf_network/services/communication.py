"""``snf-network communication serve``: the node's one dnsmasq for instance communication.

It writes dnsmasq's configuration into COMMUNICATION_DIR, rebuilds the hosts
file from the records (under the host lock, like every NIC program), starts
dnsmasq in the foreground as its child, records its pid for the NIC programs'
SIGHUP (host/communication.py), and passes dnsmasq's log lines on through a
rate-limited logger. dnsmasq runs in ``bind-dynamic`` mode on ``gnt.com.*``
only: it follows taps as they come and go, and binds no other interface, so
snf-dhcpd, nfdhcpd or any other DHCP server keeps the rest of the node.

SIGHUP: the hosts file is rebuilt and dnsmasq told to re-read it. SIGTERM:
dnsmasq is stopped (guests keep their leases and their addresses; the taps
keep their filters), and the unit's restart starts it again. If dnsmasq
dies, the service exits with an error, for systemd to restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat

from snf_network import config as config_module
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host import Host, files
from snf_network.host import communication as node
from snf_network.services.daemon import Service

NAME = "snf-network-communication"
STOP_TIMEOUT = 5.0
STARTUP_TIMEOUT = 5.0


def dnsmasq_config(cfg: Config) -> str:
    """dnsmasq's whole configuration: Ganeti's design (doc/design-os.rst, "dnsmasq"), bind-dynamic, no DNS."""
    return f"""# Written by snf-network communication serve at every start; do not edit (docs/communication.md).
# bind-dynamic: only the interfaces named below, followed as they come and go,
# so other DHCP servers keep the node's other interfaces.
bind-dynamic
interface=gnt.com.*
except-interface=eth*
except-interface=lo
# DHCP only: no DNS, no /etc/hosts, no leases kept on disk, no ping before offering.
port=0
no-resolv
no-hosts
no-ping
leasefile-ro
dhcp-authoritative
# Addresses only from the hosts file: a MAC we hold no record of gets nothing.
# Short leases: dnsmasq keeps them in memory across SIGHUP, and one not
# released (host/communication.py) keeps its address from its next holder.
dhcp-range=169.254.0.0,static,255.255.0.0,{node.LEASE_TIME}
dhcp-hostsfile={node.hosts_path(cfg)}
# No default route and no DNS server through the communication NIC: it is the
# guest's last NIC, and its other NICs carry its traffic.
dhcp-option=option:router
dhcp-option=option:dns-server
# The service writes the pid; dnsmasq logs to its stderr, which the service
# passes on, rate-limited; routine DHCP exchanges are not logged.
pid-file=
log-facility=-
quiet-dhcp
"""


def log_level(message: str) -> int:
    """The level of a dnsmasq log line: an error when it could not read a file it needs (no guest gets DHCP)."""
    if message.startswith(("cannot read", "failed to", "bad ", "cannot open")):
        return logging.ERROR
    return logging.WARNING if message.startswith(("not using configured address", "warning")) else logging.INFO


config_path = node.config_path


def rebuild_hosts(host: Host, cfg: Config) -> bool:
    with host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
        return node.rebuild(host, cfg, [], frozenset(), from_records=True)


class CommunicationService(Service):
    """Keeps dnsmasq running, and its hosts file the records' (services/daemon.py runs it)."""

    name = NAME

    def __init__(self, cfg: Config, logger: logging.Logger, dnsmasq: str = "dnsmasq") -> None:
        self.cfg, self.logger, self.dnsmasq = cfg, logger, dnsmasq
        self.host = Host(timeout=cfg.COMMAND_TIMEOUT)
        self.process: asyncio.subprocess.Process | None = None

    def prepare(self) -> None:
        """The directory and dnsmasq's configuration, before dnsmasq starts."""
        cfg = self.cfg
        # dnsmasq reads the hosts file after dropping root (to nobody): the
        # directory and the files are world-readable (they hold no secret),
        # whoever made them under which umask (Ganeti's noded: 077).
        files.make_directories(cfg.COMMUNICATION_DIR)
        info = os.lstat(cfg.COMMUNICATION_DIR)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
            raise SnfNetworkError(f"COMMUNICATION_DIR: {cfg.COMMUNICATION_DIR} is not a directory of root's "
                                  "(a symlink, or another user's): not using it")
        os.chmod(cfg.COMMUNICATION_DIR, 0o755)
        self.host.remove(node.pid_path(cfg))  # a dnsmasq of an earlier run is gone (or not ours to signal)
        self.host.write(config_path(cfg), dnsmasq_config(cfg))

    def rebuild_under_lock(self) -> None:
        """The hosts file from the records (the caller holds the host lock)."""
        cfg = self.cfg
        node.rebuild(self.host, cfg, [], frozenset(), from_records=True)
        hosts = node.hosts_path(cfg)
        fd = os.open(hosts, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o644)  # a file of an earlier run, kept as it was when unchanged
        finally:
            os.close(fd)
        entries = len(node.parse(self.host.read(hosts) or ""))
        self.logger.info(f"{entries} communication NICs recorded in {hosts}")
        problem = node.unreadable_by_nobody(hosts)
        if problem:
            self.logger.error(f"dnsmasq (as nobody) cannot read its hosts file, no guest gets an address: {problem}")

    async def serve(self) -> None:
        self.prepare()
        cfg = self.cfg
        process = None
        try:
            # The lock from the hosts file's rebuild until the pid file is
            # written: a NIC program changing the file meanwhile would find no
            # pid to signal, and dnsmasq might have read the file before the
            # change. The pid is written once dnsmasq says it started, so no
            # SIGHUP reaches it before its handlers are set (it would kill it).
            with self.host.lock(cfg.LOCK_FILE, cfg.LOCK_TIMEOUT):
                self.rebuild_under_lock()
                process = await asyncio.create_subprocess_exec(
                    self.dnsmasq, "--keep-in-foreground", f"--conf-file={config_path(cfg)}",
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE)
                self.process = process
                await self._until_started(process)
                self.host.write(node.pid_path(cfg), f"{process.pid}\n")
            await self._pass_log(process)
            status = await process.wait()
            raise RuntimeError(f"dnsmasq exited with status {status}")
        finally:
            self.host.remove(node.pid_path(cfg))
            if process is not None:
                await self._stop(process)

    async def _until_started(self, process: asyncio.subprocess.Process) -> None:
        """Pass dnsmasq's log on until it says it started (or exits, or STARTUP_TIMEOUT passes)."""
        deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                self.logger.warning(f"dnsmasq has not said it started after {STARTUP_TIMEOUT:g} s")
                return
            try:
                message = await asyncio.wait_for(self._log_line(process), remaining)
            except TimeoutError:
                continue
            if message is None or message.startswith("started"):
                return

    async def _log_line(self, process: asyncio.subprocess.Process) -> str | None:
        """One line of dnsmasq's log, passed on; None at its end."""
        assert process.stderr is not None
        line = await process.stderr.readline()
        if not line:
            return None
        text = line.decode(errors="replace").rstrip()
        # "dnsmasq[123]: ..." / "dnsmasq-dhcp[123]: ...": the message is what follows.
        message = text.split(": ", 1)[-1][:1000]
        self.logger.log(log_level(message), message)
        return message

    async def _pass_log(self, process: asyncio.subprocess.Process) -> None:
        while await self._log_line(process) is not None:
            pass

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), STOP_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def reload(self) -> None:
        """Re-read the config; rebuild the hosts file from the records, and have dnsmasq re-read it."""
        cfg = config_module.load()
        if dnsmasq_config(cfg) != dnsmasq_config(self.cfg):
            self.logger.warning("the configuration of dnsmasq changed: restart the service to apply it")
        if not rebuild_hosts(self.host, self.cfg):
            node.reload_dnsmasq(self.host, self.cfg)  # told already when the file changed


def main(cfg: Config, debug: bool = False) -> int:
    from snf_network.services import daemon

    logger = daemon.setup_logging(NAME, debug or cfg.DEBUG)
    service = CommunicationService(cfg, logger)
    return daemon.run(service, logger)
