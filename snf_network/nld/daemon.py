"""snf-nld: keeps every overlay's neighbour table pointing each instance address at the node that hosts it.

Ownership comes from the kernel: a /32 route in the overlay's table whose
device is not the overlay (what our ifup, or Ganeti's, installs for a routed
NIC) means the instance runs here. The daemon announces it to every peer,
withdraws it when the route goes, answers queries for it, and resolves the
kernel's own neighbour requests (app probes: a miss) from what peers told
it, asking them when it knows nothing. Versions ([ms, owner]) decide between
an old and a new owner after a migration; an old owner that still receives
traffic for an address it gave up (a hairpin: the miss of an address it
withdrew) tells everyone to ask again; periodic snapshots repair the rest,
and a periodic reconcile makes the kernel agree with what the daemon knows
(never an entry pointing at this node, nor at a node that is no peer).

Stopping leaves the kernel as it is: the data plane keeps working.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import random
import socket
import stat
import time
from collections.abc import Callable

from snf_network.errors import ConfigError
from snf_network.host import Host
from snf_network.nld import protocol
from snf_network.nld.batch import describe
from snf_network.nld.kernel import Event, Kernel
from snf_network.overlay import backends, setup
from snf_network.overlay import config as overlay_config
from snf_network.overlay.config import NbmaConfig, Overlay
from snf_network.services.daemon import Service

HAIRPIN_MEMORY = 300.0  # seconds an address we gave up still counts as "ours recently"
QUERY_INTERVAL = 0.9  # at most one query per address per kernel probe (1 s)
MAX_QUERIES_PER_SECOND = 200


class Location:
    __slots__ = ("node", "ver", "seen")

    def __init__(self, node: str, ver: tuple[int, str], seen: float) -> None:
        self.node, self.ver, self.seen = node, ver, seen


class OverlayState:
    def __init__(self, ov: Overlay, ifindex: int, endpoint: bool) -> None:
        self.ov, self.ifindex, self.endpoint = ov, ifindex, endpoint
        self.table = 254 if ov.table == "main" else int(ov.table)
        self.local: dict[str, int] = {}  # address -> the ms at which it became ours
        self.remote: dict[str, Location] = {}
        self.withdrawn: dict[str, float] = {}  # address -> monotonic time we gave it up
        self.gone: dict[str, float] = {}  # address -> when its owner withdrew it (the kernel's entry stays a while)
        self.queried: dict[str, float] = {}
        self.fdb: set[str] = set()  # peers with an FDB entry (vxlan)
        self.statics = {ep.internal for ep in ov.endpoints}


class Nld(Service):
    name = "snf-nld"

    def __init__(self, directory: str, control_path: str, logger: logging.Logger,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory, self.control_path, self.log, self.clock = directory, control_path, logger, clock
        self.kernel: Kernel | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.control: socket.socket | None = None
        self.counters = {"not_own": 0, "sent": 0, "installed": 0, "removed": 0, "queries_dropped": 0}
        self.query_window = [0.0, 0]
        self._load()

    # -- configuration ---------------------------------------------------
    def _load(self) -> None:
        cfg = overlay_config.load(self.directory)
        if not cfg.overlays:
            raise ConfigError(f"{self.directory}/overlays: no overlay configured")
        try:
            with open(cfg.hmac_key_file, "rb") as handle:
                info = os.fstat(handle.fileno())
                key = handle.read(65536).strip()
        except OSError as exc:
            raise ConfigError(f"HMAC_KEY_FILE {cfg.hmac_key_file}: {exc.strerror}") from None
        # Whoever reads the key speaks for this node: a local user can send UDP from its address.
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.geteuid():
            raise ConfigError(f"HMAC_KEY_FILE {cfg.hmac_key_file}: must be a regular file of this user with "
                              f"mode 0600 or stricter (it is {stat.filemode(info.st_mode)}, uid {info.st_uid})")
        if len(key) < 16:
            raise ConfigError(f"HMAC_KEY_FILE {cfg.hmac_key_file}: shorter than 16 bytes")
        host = Host()
        mine = setup.local_addresses(host)
        locals_ = {setup.underlay(host, cfg, ov)[0] for ov in cfg.overlays}
        if len(locals_) != 1:
            raise ConfigError("every overlay of a node must use the same LOCAL_IP")
        self.cfg: NbmaConfig = cfg
        self.self_ip = locals_.pop()
        if not hasattr(self, "peers"):  # later, the reconcile follows changes (the firewall with them)
            self.peers = {p for p in cfg.all_peers() if p != self.self_ip and p not in mine}
        old = getattr(self, "opener", None)
        self.opener = protocol.Opener(key, cfg.max_clock_skew, self.clock, me=self.self_ip)
        if old is not None:  # keep the replay cache, its horizon and the counts across a reload
            self.opener.seen, self.opener.counters, self.opener.not_before = old.seen, old.counters, old.not_before
        self.mine = mine

    async def reload(self) -> None:
        old_overlays = {ov.name for ov in self.cfg.overlays}
        self._load()
        if {ov.name for ov in self.cfg.overlays} != old_overlays:
            self.log.warning("overlays added or removed: restart snf-nld to serve them")
        for state in self.states:
            state.ov = next((ov for ov in self.cfg.overlays if ov.name == state.ov.name), state.ov)
        self.reconcile()

    # -- running -----------------------------------------------------------
    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.kernel = Kernel()
        self.states: list[OverlayState] = []
        for ov in self.cfg.overlays:
            ifindex = self.kernel.ifindex(ov.device)
            if not ifindex:
                raise ConfigError(f"overlay {ov.name}: no device {ov.device} "
                                                 "(run snf-network overlay setup first)")
            self.states.append(OverlayState(ov, ifindex, ov.is_endpoint(self.mine)))
        self.by_ifindex = {s.ifindex: s for s in self.states}
        self.by_key = {str(s.ov.key): s for s in self.states}
        bind = self.cfg.bind or self.self_ip
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Peers(self), local_addr=(bind, self.cfg.port))
        self._open_control(loop)
        self.kernel.watch(loop, self.on_event)
        self._adopt()
        self.broadcast({"type": "sync"})
        self.log.info(f"serving {len(self.states)} overlays as {self.self_ip} with {len(self.peers)} peers")
        try:
            await asyncio.gather(self._every(self.cfg.snapshot_interval, self.snapshot),
                                 self._every(self.cfg.reconcile_interval, self.reconcile))
        finally:
            if self.transport is not None:
                self.transport.close()
            if self.control is not None:
                loop.remove_reader(self.control.fileno())
                self.control.close()
                try:
                    os.unlink(self.control_path)
                except OSError:
                    pass
            self.kernel.close()  # the kernel's entries stay: the data plane outlives us

    async def _every(self, interval: float, job: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))  # jitter: peers do not all speak at once
            try:
                job()
            except Exception as exc:  # one failed round must not stop the next
                self.log.error(f"{job.__name__} failed: {exc}")

    def _open_control(self, loop: asyncio.AbstractEventLoop) -> None:
        folder = os.path.dirname(self.control_path) or "."
        os.makedirs(folder, mode=0o755, exist_ok=True)
        info = os.stat(folder)
        # Whoever may write the folder may replace our socket with theirs (and answer `overlay status`, and
        # read every nudge); a sticky folder (/tmp) only lets them take the name first, which bind reports.
        if info.st_uid != os.geteuid() or (info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX):
            raise ConfigError(f"NLD_SOCKET {self.control_path}: its folder may be written by others "
                              f"({stat.filemode(info.st_mode)}, uid {info.st_uid})")
        try:
            os.unlink(self.control_path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        old = os.umask(0o077)  # only root may nudge or ask
        try:
            sock.bind(self.control_path)
        finally:
            os.umask(old)
        self.control = sock
        loop.add_reader(sock.fileno(), self._on_control)

    def _adopt(self) -> None:
        """At start: our routes are ours again, the kernel's entries are believed until told otherwise."""
        assert self.kernel is not None
        now = time.monotonic()
        for state in self.states:
            for ip, (lladdr, _) in self.kernel.neighbours(state.ifindex).items():
                node = backends.node_for(state.ov, lladdr) if lladdr else None
                if node in self.peers and ip not in state.statics:  # the reconcile removes the others
                    state.remote[ip] = Location(node, (0, node), now)  # version 0: any announce wins
        self.reconcile()

    # -- kernel events -----------------------------------------------------
    def on_event(self, event: Event) -> None:
        try:
            if event.kind == "miss":
                state = self.by_ifindex.get(event.ifindex)
                if state is not None:
                    self._miss(state, event)
            elif event.kind in ("route+", "route-"):
                for state in self.states:
                    if state.table == event.table and not state.endpoint and event.oif != state.ifindex \
                            and _inside(event.ip, state.ov):
                        if event.kind == "route+":
                            self._became_local(state, event.ip)
                        else:
                            self._check_local(state)
            elif event.kind == "overrun":
                self.log.warning("netlink events lost (overrun): re-reading the kernel")
                self.reconcile()
        except Exception as exc:  # one bad message must not stop the daemon
            self.log.error(f"handling {event.kind} {event.ip}: {exc}")

    def _miss(self, state: OverlayState, event: Event) -> None:
        if not event.ip:  # vxlan l2miss: a node MAC without an FDB entry
            node = backends.node_of_mac(event.lladdr) if event.lladdr else None
            if node in self.peers:
                self._ensure_fdb(state, str(node))
            return
        ip = event.ip
        if not _inside(ip, state.ov) or ip in state.local or ip in state.statics:
            return
        now = time.monotonic()
        if now - state.withdrawn.get(ip, -HAIRPIN_MEMORY) < HAIRPIN_MEMORY:
            # Traffic for an address we gave up comes back to us: someone still points it here.
            best = state.remote.get(ip)
            self.log.info(f"hairpin: traffic for {ip}, no longer here, still arrives: asking peers to re-check")
            self.broadcast({"type": "redirect", "ov": state.ov.key, "ip": ip, "node": best.node if best else None})
            state.withdrawn.pop(ip, None)
        location = state.remote.get(ip)
        if location is not None and location.node != self.self_ip and location.node in self.peers:
            self._install(state, {ip: location.node})
        else:
            self._query(state, ip)

    def _query(self, state: OverlayState, ip: str) -> None:
        now = time.monotonic()
        if now - state.queried.get(ip, -QUERY_INTERVAL) < QUERY_INTERVAL:
            return
        # A tenant scanning the network makes the kernel ask about every address: bound what that
        # costs the peers (the kernel answers "unreachable" for what we do not ask about).
        if now - self.query_window[0] >= 1.0:
            self.query_window = [now, 0]
        if self.query_window[1] >= MAX_QUERIES_PER_SECOND:
            self.counters["queries_dropped"] += 1
            return
        self.query_window[1] += 1
        state.queried[ip] = now
        if len(state.queried) > 10000:
            state.queried = {k: v for k, v in state.queried.items() if now - v < QUERY_INTERVAL}
        self.broadcast({"type": "query", "ov": state.ov.key, "ips": [ip]})

    def _became_local(self, state: OverlayState, ip: str) -> None:
        if ip in state.local:
            return
        ver = int(self.clock() * 1000)
        state.local[ip] = ver
        state.withdrawn.pop(ip, None)
        self.log.info(f"{state.ov.name}: {ip} is here now: announcing")
        self._remove(state, [ip])  # the /32 route leads to the tap; an old entry would only confuse
        self._announce(state, [self._entry(ip, ver, True)])

    def _check_local(self, state: OverlayState) -> None:
        """Routes went away (or we were nudged): compare our view with the table."""
        assert self.kernel is not None
        routes = self.kernel.host_routes(state.table, state.ov.network)
        present = {ip for ip, oif in routes.items() if oif != state.ifindex}
        for ip in present - set(state.local):
            self._became_local(state, ip)
        gone = [ip for ip in state.local if ip not in present]
        entries = []
        for ip in gone:
            del state.local[ip]
            state.withdrawn[ip] = time.monotonic()
            entries.append(self._entry(ip, int(self.clock() * 1000), False))
            self.log.info(f"{state.ov.name}: {ip} left this node: withdrawing")
        if entries:
            self._announce(state, entries)

    # -- kernel writes -----------------------------------------------------
    def _install(self, state: OverlayState, where: dict[str, str]) -> None:
        assert self.kernel is not None
        batch = self.kernel.batch()
        for ip, node in where.items():
            if node == self.self_ip or node in self.mine or node not in self.peers:
                continue  # never an entry pointing at ourselves, nor at a node that left the cluster
            if state.ov.backend == "vxlan" and node not in state.fdb:
                batch.add_fdb(state.ifindex, backends.mac_of(node), node)
                state.fdb.add(node)
            batch.set_neigh(state.ifindex, ip, backends.lladdr_for(state.ov, node),
                            permanent=state.ov.neigh_state == "permanent")
            self.counters["installed"] += 1
        errors = [e for e in batch.send() if e[1] != 17]  # EEXIST: an FDB entry already there
        if errors:
            self.log.error(f"{state.ov.name}: kernel refused entries: {describe(errors)}")

    def _remove(self, state: OverlayState, ips: list[str]) -> None:
        assert self.kernel is not None
        batch = self.kernel.batch()
        for ip in ips:
            batch.del_neigh(state.ifindex, ip)
        removed = len(ips) - len([e for e in batch.send() if e[1] == 2])  # ENOENT: there was none
        self.counters["removed"] += removed

    def _ensure_fdb(self, state: OverlayState, node: str) -> None:
        assert self.kernel is not None
        if state.ov.backend != "vxlan" or node in state.fdb or node == self.self_ip:
            return
        batch = self.kernel.batch()
        batch.add_fdb(state.ifindex, backends.mac_of(node), node)
        batch.send()
        state.fdb.add(node)

    # -- periodic ------------------------------------------------------------
    def snapshot(self) -> None:
        now = time.monotonic()
        for state in self.states:
            if state.local:
                self._announce(state, [self._entry(ip, ver, True) for ip, ver in state.local.items()], "snapshot")
            # A peer that stopped refreshing an address for three snapshots no longer vouches for it: forget
            # it, but leave the kernel's entry (its daemon may only be restarting; a new owner's announce
            # or a withdrawal is what changes the data plane).
            for ip in [ip for ip, loc in state.remote.items() if now - loc.seen > 3 * self.cfg.snapshot_interval]:
                del state.remote[ip]

    def reconcile(self) -> None:
        """Make the kernel agree with what we know; re-read our own routes and the peer list."""
        assert self.kernel is not None
        self._refresh_peers()
        for state in self.states:
            ifindex = self.kernel.ifindex(state.ov.device)
            if ifindex != state.ifindex:
                # Torn down and set up again under us: follow the new device (or wait for it).
                self.log.warning(f"{state.ov.name}: {state.ov.device} is {'new' if ifindex else 'gone'}")
                self.by_ifindex.pop(state.ifindex, None)
                state.ifindex, state.fdb = ifindex, set()
                if not ifindex:
                    continue
                self.by_ifindex[ifindex] = state
            if not state.endpoint:
                self._check_local(state)
            wrong: list[str] = []
            fix: dict[str, str] = {}
            for ip, (lladdr, _) in self.kernel.neighbours(state.ifindex).items():
                if ip in state.statics or not lladdr:
                    continue
                node = backends.node_for(state.ov, lladdr)
                if node is None or node == self.self_ip or node in self.mine or ip in state.local \
                        or node not in self.peers:
                    wrong.append(ip)
                elif ip in state.remote and state.remote[ip].node != node:
                    fix[ip] = state.remote[ip].node
            if wrong:
                self.log.info(f"{state.ov.name}: removing {len(wrong)} entries pointing nowhere valid")
                self._remove(state, wrong)
            if fix:
                self._install(state, fix)
            if state.ov.backend == "vxlan":
                have = {dst for mac, dst in self.kernel.fdb(state.ifindex) if backends.mac_of(dst) == mac}
                departed = sorted(have - self.peers - {ep.external for ep in state.ov.endpoints})
                if departed:  # a node that left the cluster: its VTEP is no longer reachable through us
                    batch = self.kernel.batch()
                    for node in departed:
                        batch.del_fdb(state.ifindex, backends.mac_of(node), node)
                    batch.send()
                have -= set(departed)
                state.fdb = have & self.peers
                for peer in sorted(self.peers - have):
                    self._ensure_fdb(state, peer)
            now = time.monotonic()
            state.withdrawn = {ip: t for ip, t in state.withdrawn.items() if now - t < HAIRPIN_MEMORY}
            expired = {ip for ip, t in state.gone.items() if now - t > 2 * self.cfg.snapshot_interval}
            for ip in expired:
                del state.gone[ip]
            expired -= set(state.remote) | set(state.local)
            if expired:
                self._drop_kernel_entries(state, expired)

    def _refresh_peers(self) -> None:
        """PEERS_FILE changes when Ganeti adds or removes a node: follow it, firewall included."""
        try:
            listed = self.cfg.all_peers()
        except ConfigError as exc:  # keep the peers we have: the rest of the reconcile must still run
            self.log.error(f"peer list not followed: {exc}")
            return
        peers = {p for p in listed if p != self.self_ip and p not in self.mine}
        if peers == self.peers:
            return
        added, gone = sorted(peers - self.peers), sorted(self.peers - peers)
        self.log.info(f"peers changed: added {', '.join(added) or 'none'}, removed {', '.join(gone) or 'none'}")
        self.peers = peers
        if self.cfg.firewall == "nft":
            host = Host()
            for verb, addresses in (("add", added), ("delete", gone)):
                if addresses:
                    result = host.run(["nft", verb, "element", "inet", setup.NFT_TABLE, "peers4",
                                       "{ " + ", ".join(addresses) + " }"], check=False)
                    if result.returncode != 0:
                        self.log.error(f"nft {verb} element peers4: {result.stderr.strip()[:200]}")

    def _drop_kernel_entries(self, state: OverlayState, ips: set[str], node: str | None = None) -> None:
        """Remove kernel entries for ``ips`` (those pointing at ``node``, when given)."""
        assert self.kernel is not None
        current = self.kernel.neighbours(state.ifindex)
        doomed = [ip for ip in ips if ip in current and ip not in state.statics and
                  (node is None or backends.node_for(state.ov, current[ip][0]) == node)]
        if doomed:
            self._remove(state, doomed)

    # -- the peer protocol -------------------------------------------------
    def _entry(self, ip: str, ver: int, up: bool) -> dict[str, object]:
        return {"ip": ip, "node": self.self_ip, "ver": [ver, self.self_ip], "up": up}

    def _announce(self, state: OverlayState, entries: list[dict[str, object]], kind: str = "announce",
                  to: str | None = None) -> None:
        for group in protocol.batches(entries):
            message = {"type": kind, "ov": state.ov.key, "entries": group}
            if to is None:
                self.broadcast(message)
            else:
                self.send(message, to)

    def broadcast(self, message: dict[str, object]) -> None:
        for peer in sorted(self.peers):
            self.send(message, peer)

    def send(self, message: dict[str, object], peer: str) -> None:
        if self.transport is None:
            return
        self.transport.sendto(protocol.seal(self.opener.key, message, self.self_ip, self.clock, dst=peer),
                              (peer, self.cfg.port))
        self.counters["sent"] += 1

    def datagram(self, data: bytes, source: str) -> None:
        message = self.opener.open(data, source, self.peers)
        if message is None:
            return
        try:
            self._handle(message, source)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.opener.counters["malformed"] += 1
            self.log.warning(f"malformed {message.get('type')} from {source}: {exc}")

    def _handle(self, message: dict[str, object], src: str) -> None:
        kind = message["type"]
        if kind == "sync":
            for state in self.states:
                if state.local:
                    self._announce(state, [self._entry(ip, ver, True) for ip, ver in state.local.items()],
                                   "snapshot", to=src)
            return
        found = self.by_key.get(str(message["ov"]))
        if found is None:
            return
        state = found
        if kind in ("announce", "snapshot"):
            self._learn(state, src, message["entries"])  # type: ignore[arg-type]
        elif kind == "query":
            ips = [ip for ip in message["ips"][:100] if ip in state.local]  # type: ignore[index]
            if ips:
                self._announce(state, [self._entry(ip, state.local[ip], True) for ip in ips], to=src)
        elif kind == "redirect":
            ip = str(message["ip"])
            if not _inside(ip, state.ov):
                return
            known = state.remote.get(ip)
            if known is not None and known.node == src:
                del state.remote[ip]  # src speaks for itself: it no longer holds ip
            # The kernel's entry stays: src forwards what it still receives (a triangle), which beats
            # nothing if the owner cannot be reached; the owner's answer repoints the entry.
            self._query(state, ip)

    def _learn(self, state: OverlayState, src: str, entries: list[dict[str, object]]) -> None:
        now = time.monotonic()
        install: dict[str, str] = {}
        withdrawn: set[str] = set()
        for entry in entries[:100]:
            ip, node, raw = str(entry["ip"]), str(entry["node"]), entry["ver"]
            if node != src or not isinstance(raw, list) or len(raw) != 2 or str(raw[1]) != src:
                self.counters["not_own"] += 1  # a node speaks only for its own instances
                continue
            if not _inside(ip, state.ov) or ip in state.statics:
                continue
            ver = (int(raw[0]), src)
            known = state.remote.get(ip)
            if entry.get("up") is True:
                if known is None or ver > known.ver:
                    state.remote[ip] = Location(src, ver, now)
                    if ip in state.local:
                        if ver[0] > state.local[ip]:
                            self.log.info(f"{state.ov.name}: {ip} now runs on {src} (still routed here)")
                        else:
                            self.log.error(f"{state.ov.name}: {ip} claimed by {src} and by us: duplicate address?")
                    else:
                        install[ip] = src
                elif known.node == src:
                    known.seen = now
            elif known is not None and known.node == src and ver >= known.ver:
                del state.remote[ip]
                withdrawn.add(ip)
        if install:
            current = self.kernel.neighbours(state.ifindex) if self.kernel else {}
            eager = state.ov.eager
            wanted = {ip: node for ip, node in install.items()
                      if eager or (ip in current and current[ip][0] != backends.lladdr_for(state.ov, node))}
            if wanted:
                self._install(state, wanted)
        for ip in install:
            state.gone.pop(ip, None)
        if withdrawn:
            # Keep the kernel's entries for now: if the address moved, the old owner forwards what it
            # still gets (a triangle) until the new owner is heard, which the query hastens; if it is gone
            # for good, the reconcile removes them once no one has claimed it for two snapshots.
            now_ = time.monotonic()
            for ip in withdrawn:
                state.gone[ip] = now_
                self._query(state, ip)

    # -- the control socket ------------------------------------------------
    def _on_control(self) -> None:
        assert self.control is not None
        try:
            data, address = self.control.recvfrom(4096)
        except OSError:
            return
        words = data.decode("ascii", "replace").split()
        if not words:
            return
        if words[0] == "nudge":
            self.log.info(f"nudged: {' '.join(w[:40] for w in words[1:3])}")
            for state in self.states:
                if not state.endpoint:
                    self._check_local(state)
            return
        if words[0] in ("status", "show") and address:
            reply = json.dumps(self.status() if words[0] == "status" else self.show())
            try:
                self.control.sendto(reply.encode()[:65000], address)
            except OSError:
                pass

    def status(self) -> dict[str, object]:
        return {"node": self.self_ip, "peers": sorted(self.peers), "protocol": dict(self.opener.counters),
                "daemon": dict(self.counters),
                "overlays": {s.ov.name: {"local": len(s.local), "remote": len(s.remote)} for s in self.states}}

    def show(self) -> dict[str, object]:
        return {s.ov.name: {"local": sorted(s.local), "remote": {ip: loc.node for ip, loc in s.remote.items()}}
                for s in self.states}


class _Peers(asyncio.DatagramProtocol):
    def __init__(self, nld: Nld) -> None:
        self.nld = nld

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            self.nld.datagram(data, str(addr[0]))
        except Exception as exc:  # survive any datagram
            self.nld.log.error(f"datagram from {addr[0]}: {exc}")

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a peer whose daemon is down: nothing to do


def _inside(ip: str, ov: Overlay) -> bool:
    try:
        return ipaddress.IPv4Address(ip) in ov.network
    except ValueError:
        return False


def ask(path: str, request: str, timeout: float = 2.0) -> dict[str, object]:
    """Ask a running snf-nld for ``status`` or ``show`` over its control socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    deadline = time.monotonic() + timeout
    try:
        sock.bind(f"\0snf-nld-client-{os.getpid()}-{random.getrandbits(32)}")
        sock.sendto(request.encode(), path)
        while True:
            # Any local user may send to an abstract address: only the daemon's own socket answers.
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data, sender = sock.recvfrom(65536)
            if sender == path:
                break
    finally:
        sock.close()
    loaded = json.loads(data)
    assert isinstance(loaded, dict)
    return loaded
