"""snf-dhcpd and dnsmasq side by side, on comparable labs, in one run; and the codec against scapy.

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/dhcp.py [--rounds 20] [--clients 200] [--bindings 1000] [--only NAME ...]

Two labs of tests/lab.py: in one, a routed, nfdhcpd-tagged NIC served by
snf-dhcpd (the node has no address in the VM's network); in the other, the
same VM behind a tap that holds 192.0.2.1/24, served by dnsmasq (which needs
an address on its interface) with a dhcp-host for the VM. Measured, each as
the median of ``--rounds`` (at least 20):

- wire: DISCOVER->OFFER and REQUEST->ACK on the wire, from kernel timestamps
  of a capture on the node's side of the tap (the reply's time is when it
  left the responder's socket). Target: snf-dhcpd / dnsmasq <= 1.0.
- dhclient, udhcpc: a whole ``dhclient -1`` and ``udhcpc -q`` in the VM.
- clients: ``--clients`` VMs running udhcpc at once, until the last is
  bound (dnsmasq's VMs share a bridge holding its address). Target: < 1 s.
- pickup: from the close of a new binding file (dnsmasq: a --dhcp-hostsdir
  file) to the first OFFER the VM, asking every 0.2 ms, receives. Target
  < 1 ms.
- rss: snf-dhcpd's resident memory serving ``--bindings`` taps. Target < 40 MB.
- codec: start-up, resident memory and per-packet cost (dissect a DISCOVER,
  build the OFFER) of our struct codec and of scapy, which nfdhcpd used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from snf_network.dhcpd import codec  # noqa: E402
from snf_network.dhcpd.binding import render  # noqa: E402

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
SO_TIMESTAMPNS = 35


# -- helpers run inside the namespaces (python bench/dhcp.py --helper ...) --

def request_frame(mac: bytes, xid: int, kind: int, ip: str = IP, server: str = "192.0.2.1") -> bytes:
    options = [(53, bytes([kind])), (55, bytes([1, 3, 6, 12, 15, 28]))]
    if kind == codec.REQUEST:
        options += [(50, socket.inet_aton(ip)), (54, socket.inet_aton(server))]
    body = codec.dhcp_payload(1, struct.pack("!I", xid), 0x8000, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                              mac + b"\0" * 10, options)
    return codec.udp4_frame(mac, codec.BROADCAST_MAC, b"\0" * 4, b"\xff" * 4, 68, 67, body)


def dhcp_of(frame: bytes) -> tuple[int, int] | None:
    """(xid, message type) of a DHCP frame, else None."""
    try:
        _, _, _, dport, payload = codec.udp4(codec.ethernet(frame))
        if dport not in (67, 68):
            return None
        message = codec.dhcp(payload)
        return int.from_bytes(message.xid, "big"), message.message_type
    except codec.Malformed:
        return None


def helper_client(interface: str, mac_text: str, count: int) -> None:
    """DISCOVER then REQUEST ``count`` times, each waiting for its answer (at most 1 s)."""
    mac = bytes.fromhex(mac_text.replace(":", ""))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)) as sock:
        sock.bind((interface, 0x0800))  # Python converts to network order itself
        sock.settimeout(1.0)
        print("ready", file=sys.stderr, flush=True)
        for index in range(count):
            for kind, wanted in ((codec.DISCOVER, codec.OFFER), (codec.REQUEST, codec.ACK)):
                xid = 0x5000_0000 + index * 2 + (kind == codec.REQUEST)
                sock.send(request_frame(mac, xid, kind))
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    try:
                        found = dhcp_of(sock.recv(65535))
                    except TimeoutError:
                        break
                    if found == (xid, wanted):
                        break
            time.sleep(0.005)


def helper_wire(interface: str, seconds: float) -> None:
    """Kernel timestamps of every DHCP frame on ``interface``: JSON lines [ns, outgoing, xid, type]."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind((interface, 0))
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, ancillary, _, address = sock.recvmsg(65535, 64)
            except TimeoutError:
                break
            found = dhcp_of(data)
            if found is None:
                continue
            stamp = next((struct.unpack("qq", cdata[:16]) for level, kind, cdata in ancillary
                          if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
            if stamp is not None:
                print(json.dumps([stamp[0] * 10**9 + stamp[1], address[2] == socket.PACKET_OUTGOING, *found]),
                      flush=True)


def helper_first(interface: str, mac_text: str, seconds: float) -> None:
    """DISCOVER every 0.2 ms until an OFFER comes: print its kernel arrival time (ns, CLOCK_REALTIME)."""
    mac = bytes.fromhex(mac_text.replace(":", ""))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind((interface, 0x0800))  # Python converts to network order itself
        sock.setblocking(False)
        frame = request_frame(mac, 0x6000_0000, codec.DISCOVER)
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sock.send(frame)
            until = time.perf_counter() + 0.0002
            while time.perf_counter() < until:
                try:
                    data, ancillary, _, _ = sock.recvmsg(65535, 64)
                except BlockingIOError:
                    continue
                if dhcp_of(data) == (0x6000_0000, codec.OFFER):
                    seconds_, nanos = struct.unpack("qq", ancillary[0][2][:16])
                    print(seconds_ * 10**9 + nanos, flush=True)
                    return
        print(0, flush=True)


def helper_codec(which: str, count: int) -> None:
    """Start-up, resident memory and per-packet cost of one codec, in a fresh interpreter."""
    start = time.perf_counter()
    discover = request_frame(bytes.fromhex("aa0000123456"), 1, codec.DISCOVER)
    if which == "struct":
        from snf_network import config
        from snf_network.dhcpd.binding import load
        from snf_network.dhcpd.protocol import Settings, answer

        imported = time.perf_counter() - start
        binding = load("tap1", f"MAC={MAC}\nHOSTNAME=vm1.example.org\nIP={IP}\nSUBNET=192.0.2.0/24\n"
                               "GATEWAY=192.0.2.1\nMTU=1500\n")
        settings = Settings.from_config(config.from_text("DHCP_NAMESERVERS=192.0.2.53"))
        server = bytes.fromhex("cc47524e4554")

        def one() -> bytes:
            return answer(discover, binding, settings, server).frames[0]
    else:
        import logging

        logging.getLogger("scapy").setLevel(logging.ERROR)
        from scapy.layers.dhcp import BOOTP, DHCP
        from scapy.layers.inet import IP as IPLayer
        from scapy.layers.inet import UDP
        from scapy.layers.l2 import Ether

        imported = time.perf_counter() - start

        def one() -> bytes:
            # What nfdhcpd did per request: dissect, then build the OFFER with scapy's layers.
            request = Ether(discover)
            options = {opt[0]: opt[1] for opt in request[DHCP].options if isinstance(opt, tuple)}
            assert options["message-type"] == 1
            reply = (Ether(src="cc:47:52:4e:45:54", dst=request.src) / IPLayer(src="192.0.2.1", dst=IP)
                     / UDP(sport=67, dport=68)
                     / BOOTP(op=2, xid=request[BOOTP].xid, yiaddr=IP, chaddr=request[BOOTP].chaddr)
                     / DHCP(options=[("message-type", "offer"), ("server_id", "192.0.2.1"),
                                     ("lease_time", 604800), ("renewal_time", 600),
                                     ("subnet_mask", "255.255.255.0"), ("broadcast_address", "192.0.2.255"),
                                     ("router", "192.0.2.1"), ("interface-mtu", 1500),
                                     ("name_server", "192.0.2.53"), ("hostname", b"vm1.example.org"),
                                     ("domain", b"example.org"), "end"]))
            return bytes(reply)
    one()
    if count == 0:
        return  # timed from outside: interpreter, imports and the first answer
    timings = []
    for _ in range(count):
        begin = time.perf_counter()
        one()
        timings.append(time.perf_counter() - begin)
    rss = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    print(json.dumps({"import_ms": imported * 1000, "rss_mb": rss / 1024,
                      "per_packet_us": statistics.median(timings) * 1e6}))


HELPERS = {"client": helper_client, "wire": helper_wire, "first": helper_first, "codec": helper_codec}


# -- the labs ---------------------------------------------------------------

def helper(namespace: str, name: str, *args: object) -> subprocess.Popen[str]:
    process = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, __file__, "--helper", name,
                                *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    line = process.stderr.readline().strip()
    if line != "ready":
        raise SystemExit(f"helper {name} failed: {line}{process.stderr.read()}")
    return process


class Responder:
    name = ""

    def __init__(self, lab, vm) -> None:  # type: ignore[no-untyped-def]
        self.lab, self.vm = lab, vm
        self.process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


class Ours(Responder):
    name = "snf-dhcpd"

    def start(self) -> None:
        from tests.dhcpd.daemon import Daemon

        self.daemon = Daemon(self.lab)
        self.daemon.start()
        self.process = self.daemon.process  # type: ignore[assignment]

    def add_host(self, tap: str, mac: str, ip: str) -> None:
        path = self.lab.workdir / "nfdhcpd" / tap
        with open(path, "w") as handle:
            handle.write(render({"INDEV": tap, "IP": ip, "MAC": mac, "HOSTNAME": f"{tap}.example.org",
                                 "SUBNET": "192.0.2.0/24", "GATEWAY": "192.0.2.1"}))

    def remove_host(self, tap: str) -> None:
        (self.lab.workdir / "nfdhcpd" / tap).unlink()

    def rss_mb(self) -> float:
        assert self.process is not None
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("VmRSS:")) / 1024


class Dnsmasq(Responder):
    name = "dnsmasq"

    def start(self, interface: str = "tap1", hosts: list[tuple[str, str]] | None = None) -> None:
        work = self.lab.workdir
        self.hostsdir = work / "dnsmasq-hosts"
        self.hostsdir.mkdir(exist_ok=True)
        conf = work / "dnsmasq.conf"
        lines = ["port=0", f"interface={interface}", "bind-interfaces", "dhcp-authoritative", "leasefile-ro",
                 "dhcp-range=192.0.2.0,static,255.255.255.0", "dhcp-option=6,192.0.2.53",
                 f"dhcp-hostsdir={self.hostsdir}", f"pid-file={work}/dnsmasq.pid", "user=root"]
        lines += [f"dhcp-host={mac},{ip}" for mac, ip in hosts or [(MAC, IP)]]
        conf.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(["ip", "netns", "exec", self.lab.node, "dnsmasq", "-k",
                                         f"--conf-file={conf}", f"--log-facility={work}/dnsmasq.log"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise SystemExit(f"dnsmasq did not start: {(work / 'dnsmasq.log').read_text()}")

    def add_host(self, tap: str, mac: str, ip: str) -> None:
        with open(self.hostsdir / tap, "w") as handle:
            handle.write(f"{mac},{ip}\n")

    def remove_host(self, tap: str) -> None:
        (self.hostsdir / tap).unlink()


def build(kind: str, workdir: Path):  # type: ignore[no-untyped-def]
    from tests.lab import Lab

    lab = Lab(workdir)
    if kind == "ours":
        lab.build(extra_config=f"DHCPD_STATUS_FILE={workdir}/run/dhcpd-status\nDHCP_NAMESERVERS=192.0.2.53\n")
        vm = lab.add_vm(1, MAC)
        lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
        responder: Responder = Ours(lab, vm)
    else:
        lab.build(routed=False)
        vm = lab.add_vm(1, MAC)
        lab.ns(lab.node, "ip", "link", "set", "tap1", "up")
        lab.ns(lab.node, "ip", "addr", "add", "192.0.2.1/24", "dev", "tap1")
        responder = Dnsmasq(lab, vm)
    responder.start()  # type: ignore[attr-defined]
    return lab, responder


# -- measurements ---------------------------------------------------------

def wire(responder: Responder, rounds: int) -> dict[str, float]:
    lab, vm = responder.lab, responder.vm
    capture = helper(lab.node, "wire", vm.tap, rounds * 0.05 + 5)
    client = helper(vm.name, "client", "eth0", vm.mac, rounds)
    client.communicate(timeout=60)
    capture.send_signal(signal.SIGTERM)
    output, _ = capture.communicate(timeout=30)
    seen: dict[tuple[int, bool], int] = {}
    for line in output.splitlines():
        stamp, outgoing, xid, _ = json.loads(line)
        seen.setdefault((xid, outgoing), stamp)
    result = {}
    for label, offset in (("DISCOVER->OFFER", 0), ("REQUEST->ACK", 1)):
        times = [(seen[xid, True] - seen[xid, False]) / 1e6 for xid in
                 (0x5000_0000 + index * 2 + offset for index in range(rounds))
                 if (xid, True) in seen and (xid, False) in seen]
        result[label] = statistics.median(times) if len(times) >= rounds // 2 else float("nan")
    return result


def client_runs(responder: Responder, rounds: int, program: str) -> float:
    lab, vm = responder.lab, responder.vm
    work = lab.workdir
    times = []
    for _ in range(rounds):
        if program == "dhclient":
            argv = ["dhclient", "-1", "-sf", "/bin/true", "-lf", f"{work}/bench.leases", "-pf", f"{work}/bench.pid",
                    "eth0"]
        else:
            argv = ["udhcpc", "-i", "eth0", "-n", "-q", "-f", "-s", "/bin/true", "-t", "3", "-T", "1"]
        start = time.perf_counter()
        result = lab.ns(vm.name, *argv, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"{program} against {responder.name} failed: {result.stderr}")
        pid = work / "bench.pid"
        if pid.exists():
            try:
                os.kill(int(pid.read_text().split()[0]), signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError):  # a pid file being written
                pass
            pid.unlink()
        Path(f"{work}/bench.leases").unlink(missing_ok=True)
    return statistics.median(times)


def pickup(responder: Responder, rounds: int) -> float:
    """ms from a new host file's close to the first OFFER the asking VM receives."""
    vm = responder.vm
    delays = []
    for index in range(rounds):
        if responder.name == "snf-dhcpd":
            # The VM's own binding goes, then comes back: its socket is closed and opened again.
            name, mac, ip = vm.tap, vm.mac, IP
            responder.remove_host(name)  # type: ignore[attr-defined]
        else:
            # dnsmasq's config already has the VM: a host (and address) it has never seen, in a file of its own.
            name, mac, ip = f"new-{index}", f"aa:00:00:99:99:{index:02x}", f"192.0.2.{100 + index}"
        time.sleep(0.1)
        asking = helper(vm.name, "first", "eth0", mac, 3)
        time.sleep(0.02)
        responder.add_host(name, mac, ip)  # type: ignore[attr-defined]
        closed = time.time_ns()
        output, _ = asking.communicate(timeout=10)
        arrived = int(output.strip() or 0)
        if arrived:
            delays.append((arrived - closed) / 1e6)
    return statistics.median(delays) if delays else float("nan")


def many_clients(kind: str, workdir: Path, clients: int, rounds: int) -> float:
    """Seconds until ``clients`` VMs running udhcpc at once are all bound (median of ``rounds``)."""
    from tests.lab import Lab

    lab = Lab(workdir)
    try:
        hosts = [(f"aa:00:00:01:{index // 256:02x}:{index % 256:02x}", f"192.0.2.{index % 250 + 2}")
                 for index in range(clients)]
        if kind == "ours":
            lab.build(extra_config=f"DHCPD_STATUS_FILE={workdir}/run/dhcpd-status\n")
            responder: Responder = Ours(lab, None)
            responder.start()  # type: ignore[attr-defined]
        else:
            lab.build(routed=False)
            lab.bridge("br0", "192.0.2.1/24")
        vms = []
        for index, (mac, ip) in enumerate(hosts):
            vm = lab.add_vm(index + 1, mac)
            lab.ns(lab.node, "ip", "link", "set", vm.tap, "up")
            if kind == "ours":
                responder.add_host(vm.tap, mac, ip)  # type: ignore[attr-defined]
            else:
                lab.ns(lab.node, "ip", "link", "set", vm.tap, "master", "br0")
            vms.append(vm)
        if kind != "ours":
            responder = Dnsmasq(lab, None)
            responder.start("br0", hosts)  # type: ignore[attr-defined]
        else:
            daemon = responder.daemon  # type: ignore[attr-defined]
            daemon.wait_for(lambda: daemon.status().count(": served") == clients, "every binding", 60)
        time.sleep(1)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            running = [subprocess.Popen(["ip", "netns", "exec", vm.name, "udhcpc", "-i", "eth0", "-n", "-q", "-f",
                                         "-s", "/bin/true", "-t", "5", "-T", "1"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for vm in vms]
            failed = sum(process.wait() != 0 for process in running)
            times.append(time.perf_counter() - start)
            if failed:
                print(f"  {kind}: {failed} of {clients} clients got no lease", file=sys.stderr)
        responder.stop()
        return statistics.median(times)
    finally:
        lab.close()


def rss_with(workdir: Path, bindings: int) -> tuple[float, float]:
    """snf-dhcpd's RSS (MB) serving ``bindings`` taps; and ms from a SIGHUP to its reload done."""
    from tests.lab import Lab

    lab = Lab(workdir)
    try:
        lab.build(extra_config=f"DHCPD_STATUS_FILE={workdir}/run/dhcpd-status\n")
        batch = "".join(f"link add t{index} type veth peer name p{index}\nlink set t{index} up\n"
                        f"link set p{index} up\n" for index in range(bindings))
        subprocess.run(["ip", "-n", lab.node, "-batch", "-"], input=batch, text=True, check=True)
        ours = Ours(lab, None)
        ours.start()
        for index in range(bindings):
            ours.add_host(f"t{index}", f"aa:00:00:02:{index // 256:02x}:{index % 256:02x}", "192.0.2.10")
        ours.daemon.wait_for(lambda: ours.daemon.status().count(": served") == bindings, "every binding", 120)
        rss = ours.rss_mb()
        reloads = []
        for round_ in range(5):
            ours.daemon.signal(signal.SIGHUP)
            ours.daemon.wait_for(lambda done=round_ + 1: ours.daemon.log().count("reload: done") >= done,
                                 "reload", 30)
            # The daemon's own measure (it logs how long reading every binding took).
            line = [line for line in ours.daemon.log().splitlines() if "bindings read in" in line][-1]
            reloads.append(float(line.split("bindings read in ")[1].split()[0]))
        start = time.perf_counter()
        ours.stop()
        print(f"  SIGTERM to exit with {bindings} sockets open: {(time.perf_counter() - start) * 1000:.0f} ms")
        return rss, statistics.median(reloads)
    finally:
        lab.close()


def codec_numbers(rounds: int) -> dict[str, dict[str, float]]:
    found = {}
    for which in ("struct", "scapy"):
        starts = []
        for _ in range(rounds):
            begin = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--helper", "codec", which, "0"], check=True)
            starts.append((time.perf_counter() - begin) * 1000)
        out = subprocess.run([sys.executable, __file__, "--helper", "codec", which, "2000"],
                             capture_output=True, text=True, check=True).stdout
        numbers = json.loads(out)
        numbers["process_ms"] = statistics.median(starts)
        found[which] = numbers
    return found


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--helper":
        name, *args = sys.argv[2:]
        function = HELPERS[name]
        converted = [float(arg) if arg.replace(".", "").isdigit() and "." in arg else
                     int(arg) if arg.isdigit() else arg for arg in args]
        function(*converted)  # type: ignore[operator]
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--bindings", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=["codec", "wire", "clients-one", "pickup", "many", "rss"])
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/dhcp.py: run as root (network namespaces)", file=sys.stderr)
        return 1
    rounds = args.rounds
    print(f"medians of {rounds} rounds" + ("" if rounds >= 20 else " (a trial: the numbers we quote take 20 or more)"))
    if "codec" in args.only:
        numbers = codec_numbers(rounds)
        print("codec: a DISCOVER dissected and its OFFER built (import: the codec's modules; to first answer:")
        print("       a fresh interpreter started, the codec imported, one answer built; RSS after 2000 answers)")
        for which, values in numbers.items():
            print(f"  {which:7} import {values['import_ms']:7.1f} ms  to first answer {values['process_ms']:7.1f} ms  "
                  f"RSS {values['rss_mb']:5.1f} MB  per packet {values['per_packet_us']:7.1f} us")
    with tempfile.TemporaryDirectory() as base:
        results: dict[str, dict[str, float]] = {"snf-dhcpd": {}, "dnsmasq": {}}
        if {"wire", "clients-one", "pickup"} & set(args.only):
            for kind in ("ours", "dnsmasq"):
                (Path(base) / kind).mkdir()
            labs = [build("ours", Path(base) / "ours"), build("dnsmasq", Path(base) / "dnsmasq")]
            try:
                for _, responder in labs:
                    row = results[responder.name]
                    if "wire" in args.only:
                        row.update(wire(responder, rounds))
                    if "clients-one" in args.only:
                        row["dhclient -1 (ms)"] = client_runs(responder, rounds, "dhclient")
                        row["udhcpc -q (ms)"] = client_runs(responder, rounds, "udhcpc")
                    if "pickup" in args.only:
                        row["new host -> first OFFER (ms)"] = pickup(responder, rounds)
            finally:
                for lab, responder in labs:
                    responder.stop()
                    lab.close()
        if "many" in args.only:
            for kind, name in (("ours", "snf-dhcpd"), ("dnsmasq", "dnsmasq")):
                directory = Path(base) / f"many-{kind}"
                directory.mkdir()
                results[name][f"{args.clients} udhcpc at once (s)"] = many_clients(kind, directory, args.clients,
                                                                                   rounds)
        keys = list(dict.fromkeys(key for row in results.values() for key in row))
        if keys:
            print(f"{'':34} {'snf-dhcpd':>10} {'dnsmasq':>10} {'ratio':>7}")
            for key in keys:
                ours_value = results["snf-dhcpd"].get(key, float("nan"))
                theirs = results["dnsmasq"].get(key, float("nan"))
                ratio = ours_value / theirs if theirs else float("nan")
                print(f"{key:34} {ours_value:10.3f} {theirs:10.3f} {ratio:7.2f}")
        if "rss" in args.only:
            directory = Path(base) / "rss"
            directory.mkdir()
            rss, reload_ms = rss_with(directory, args.bindings)
            print(f"snf-dhcpd with {args.bindings} bindings: RSS {rss:.1f} MB, SIGHUP reload {reload_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
